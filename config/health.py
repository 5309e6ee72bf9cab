"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    broker_url: str = settings.CELERY_BROKER_URL
    if broker_url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(broker_url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()
    else:
        folder = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
            raise OSError(f"broker folder {folder} is not writable")


CHECKS = {"database": _check_database, "broker": _check_broker}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer; 503 naming what fails otherwise."""
    results: dict[str, Any] = {}
    failing = []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - a probe reports any failure
            logger.warning("readiness check %s failed: %s", name, exc)
            results[name] = "unavailable"
            failing.append(name)
        else:
            results[name] = "ok"
    if failing:
        return JsonResponse(
            {"status": "unavailable", "failing": failing, "checks": results}, status=503
        )
    return JsonResponse({"status": "ok", "checks": results})
