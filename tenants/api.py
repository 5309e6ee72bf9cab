"""API base class and conventions, and the organization endpoint.

Every API view subclasses ``TenantAPIView`` (or one of its generic mixes). It owns:

* the queryset (the key's organization only; another organization's object is a 404),
* scopes per method (``required_scopes``; a method without one is refused),
* cursor pagination (``?limit=`` up to 1,000, opaque ``next``/``previous`` links),
* throttling per API key (``API_RATE_LIMIT``; Redis-backed when Redis is configured),
* ``Idempotency-Key`` on every POST: the first answer is stored with the request's own
  writes and replayed to retries; the same key with a different request is a 422.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet
from django.http import HttpResponseBase
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from tenants.models import ApiKey, IdempotencyKey, Organization

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_MAX_LENGTH = 255


# --- Times ----------------------------------------------------------------------------


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a zone in, ISO 8601 with a zone out: a naive time is refused
    rather than guessed."""

    default_error_messages = {
        "naive": "Give the time with its zone, e.g. 2026-11-23T14:05:00+01:00 or ...Z.",
    }

    def enforce_timezone(self, value: Any) -> Any:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


# --- Pagination -----------------------------------------------------------------------


class ApiCursorPagination(CursorPagination):
    """Stable pages over changing data: an opaque cursor, never an offset.

    Views may set ``ordering`` (default newest first by id, which never ties).
    """

    page_size = 100
    max_page_size = 1000
    page_size_query_param = "limit"
    ordering = "-id"
    cursor_query_description = "The `next` or `previous` cursor of an earlier page."
    page_size_query_description = "Items per page (1-1,000, default 100)."


# --- Throttling -----------------------------------------------------------------------


_PERIODS = {"s": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_PERIODS |= {"d": 86400, "day": 86400}


def _parse_rate(rate: str) -> tuple[int, int]:
    """``"1200/min"`` -> (1200, 60)."""
    count, _, period = rate.partition("/")
    if not count.strip().isdigit() or period.strip() not in _PERIODS:
        raise ImproperlyConfigured(
            f"API_RATE_LIMIT={rate!r}: use <count>/<second|minute|hour|day>, e.g. 1200/min."
        )
    return int(count), _PERIODS[period.strip()]


class ApiKeyRateThrottle(BaseThrottle):
    """A fixed window per API key, counted with one atomic ``incr`` in the cache (Redis
    in production, so every web process shares the count).

    DRF's ``SimpleRateThrottle`` keeps a list of request times per client and rewrites
    it on every request; a counter costs one round trip whatever the rate.
    """

    def allow_request(self, request: Request, view: APIView) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True  # authentication refuses the request next
        limit, period = _parse_rate(settings.API_RATE_LIMIT)
        now = time.time()
        window = int(now // period)
        key = f"api-throttle:{api_key.pk}:{window}"
        try:
            cache.add(key, 0, timeout=period + 1)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=period + 1)
                count = 1
        except Exception:  # the cache (Redis) is down: fail open, say so
            logger.warning("API throttle not counted: the cache is unavailable", exc_info=True)
            return True
        reset = (window + 1) * period - now
        request.rate_limit = (limit, max(limit - count, 0), int(reset) + 1)  # type: ignore[attr-defined]
        self._wait = reset
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


# --- Idempotency ----------------------------------------------------------------------


class _Replay(Exception):  # control flow: answer a retry with the stored response
    def __init__(self, row: IdempotencyKey) -> None:
        self.row = row


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed."


class IdempotencyMismatch(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was used for a different request. Use a new key for a new request."
    )


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request._request.body or b"")
    return digest.hexdigest()


# --- The base view --------------------------------------------------------------------


class TenantAPIView(generics.GenericAPIView[Any]):
    """Base of every API view.

    The request already runs in the API key's organization (tenant middleware), so the
    model's default manager returns only that organization's rows and another
    organization's object is a 404, exactly like a missing one. Subclasses declare
    ``model``, ``required_scopes`` and add filters in ``filter_queryset``.
    """

    model: ClassVar[type[Model] | None] = None
    required_scopes: ClassVar[dict[str, str]] = {}
    pagination_class: type[ApiCursorPagination] | None = ApiCursorPagination
    throttle_classes = [ApiKeyRateThrottle]

    _idempotency_row: IdempotencyKey | None = None

    def get_queryset(self) -> QuerySet[Any]:
        if self.model is None:
            raise NotImplementedError(f"{type(self).__name__} must set `model`")
        return self.model._default_manager.all()

    @property
    def api_key(self) -> ApiKey:
        api_key = self.request.auth
        if not isinstance(api_key, ApiKey):  # HasApiScope admits only API keys
            raise exceptions.NotAuthenticated()
        return api_key

    # Idempotency: the request's writes and the stored answer commit together.

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and IDEMPOTENCY_HEADER in request.headers:
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, scopes, throttling
        if request.method == "POST" and IDEMPOTENCY_HEADER in request.headers:
            self._idempotency_claim(request, request.headers[IDEMPOTENCY_HEADER])

    def _idempotency_claim(self, request: Request, key: str) -> None:
        if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH or not key.isprintable():
            raise exceptions.ValidationError(
                {IDEMPOTENCY_HEADER: ["Use 1-255 printable characters, e.g. a UUID."]}
            )
        fingerprint = _fingerprint(request)
        try:
            with transaction.atomic():
                self._idempotency_row = IdempotencyKey.objects.create(
                    api_key=self.api_key,
                    key=key,
                    method=request.method or "",
                    path=request.path[:500],
                    fingerprint=fingerprint,
                )
        except IntegrityError:
            # The key was used before, or a concurrent request holds it (PostgreSQL
            # waits for that request's transaction before it reports the conflict).
            row = IdempotencyKey.objects.filter(api_key=self.api_key, key=key).first()
            if row is None or row.status_code is None:
                raise IdempotencyConflict() from None
            if row.fingerprint != fingerprint:
                raise IdempotencyMismatch() from None
            raise _Replay(row) from None

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            response = Response(exc.row.response_body, status=exc.row.status_code)
            for name, value in exc.row.response_headers.items():
                response[name] = value
            response[REPLAYED_HEADER] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        row = self._idempotency_row
        if row is not None:
            self._idempotency_row = None
            if response.status_code >= 500 or response.status_code == 429:
                row.delete()  # not an answer to keep: the client may retry
            else:
                row.status_code = response.status_code
                row.response_body = response.data
                row.response_headers = {
                    name: response[name] for name in ("Location",) if name in response
                }
                row.save(update_fields=["status_code", "response_body", "response_headers"])
        rate_limit = getattr(request, "rate_limit", None)
        if rate_limit is not None:
            limit, remaining, reset = rate_limit
            response["RateLimit-Limit"] = str(limit)
            response["RateLimit-Remaining"] = str(remaining)
            response["RateLimit-Reset"] = str(reset)
        return response


def idempotency_keys_expire(*, older_than_hours: int = 24) -> int:
    """Forget answers older than a day (beat task): a key may then be used again."""
    from tenants.context import cross_tenant

    cutoff = timezone.now() - timedelta(hours=older_than_hours)
    with cross_tenant(reason="expire idempotency keys of every organization"):
        deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


# --- Organization ---------------------------------------------------------------------


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    created_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = Organization
        fields = ["slug", "name", "timezone", "default_language", "brand_colour", "created_at"]
        read_only_fields = fields


@extend_schema(
    tags=["organization"],
    summary="The API key's organization",
    examples=[
        OpenApiExample(
            "Acme",
            value={
                "slug": "acme",
                "name": "Acme GmbH",
                "timezone": "Europe/Berlin",
                "default_language": "de",
                "brand_colour": "#1f5f8b",
                "created_at": "2026-01-05T09:30:00Z",
            },
            response_only=True,
        )
    ],
)
class OrganizationView(TenantAPIView):
    serializer_class = OrganizationSerializer
    pagination_class = None
    required_scopes: ClassVar[dict[str, str]] = {"GET": "organization:read"}

    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(request.organization).data)  # type: ignore[attr-defined]
