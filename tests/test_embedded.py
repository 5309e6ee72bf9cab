"""The embedded default end to end: SQLite file, on-disk broker, a real Celery worker.

Runs the real processes that ``make run`` starts (migrate, a Celery worker) in a
private VAR_DIR, without PostgreSQL or Redis, and proves a task sent by the web side
is executed by the worker inside the right organization's context.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_NAME"}
    }
    env.update(VAR_DIR=str(var_dir), DEBUG="true", PYTHONUNBUFFERED="1")
    return env


def _manage(var_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(var_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_worker_runs_tenant_tasks_from_the_disk_broker(tmp_path: Path) -> None:
    _manage(tmp_path, "migrate", "--noinput", "-v0")
    _manage(tmp_path, "seed_demo")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-l",
            "info",
            "-I",
            "tests.embedded_tasks",
        ],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        script = (
            "from tenants.models import Organization;"
            "from tests.embedded_tasks import team_rename_task;"
            "org = Organization.objects.get(slug='demo');"
            "team_rename_task.delay("
            "organization_id=org.id, old='Call centre', new='Contact centre')"
        )
        _manage(tmp_path, "shell", "-c", script)
        check = (
            "from tenants.context import tenant_context;"
            "from tenants.models import Organization, Team;"
            "org = Organization.objects.get(slug='demo');"
            "ctx = tenant_context(org); ctx.__enter__();"
            "print(sorted(Team.objects.values_list('name', flat=True)))"
        )
        # The seed queued its own tasks first (invitations, outbox, notifications).
        deadline = time.monotonic() + 120
        names = ""
        while time.monotonic() < deadline:
            names = _manage(tmp_path, "shell", "-c", check)
            if "Contact centre" in names:
                break
            time.sleep(0.5)
        assert "Contact centre" in names, names
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert "tests.team_rename_task" in output
