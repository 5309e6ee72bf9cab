"""/healthz and /readyz, including a broker that goes away."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.django_db
def _use_redis(settings: Any, url: str) -> None:
    settings.REDIS_URL = settings.CELERY_BROKER_URL = url


def test_healthz_answers_without_touching_services(settings: Any) -> None:
    _use_redis(settings, f"redis://127.0.0.1:{_free_port()}/0")
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_ok_in_the_embedded_default(settings: Any, tmp_path: Any) -> None:
    settings.REDIS_URL = ""
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_names_the_broker_when_redis_is_unreachable(settings: Any) -> None:
    _use_redis(settings, f"redis://127.0.0.1:{_free_port()}/0")
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["database"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.fixture
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", process
    process.kill()
    process.wait()


@pytest.mark.django_db
def test_readyz_follows_a_redis_that_stops(settings: Any, private_redis: Any) -> None:
    url, process = private_redis
    _use_redis(settings, url)
    assert Client().get("/readyz").status_code == 200
    process.terminate()
    process.wait(timeout=10)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
