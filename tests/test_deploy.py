"""Production configuration: `check --deploy` is clean and compose matches the settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = (ROOT / "config" / "settings.py").read_text()
# Variables read by settings.py: env.str("X"), env.bool("X"), env.db_url("X"), ...
READ = set(re.findall(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']""", SETTINGS))
# Read by settings.py but meant for development and tests only.
DEV_ONLY = {
    "DEBUG",
    "VAR_DIR",
    "OUTBOX_DIR",
    "TEST_DATABASE_NAME",
    "CELERY_TASK_ALWAYS_EAGER",
    "TWILIO_API_BASE_URL",
}


def test_check_deploy_is_clean_with_production_variables(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        SECRET_KEY="x" * 20 + "production-secret-key-with-enough-entropy-0123456789",
        ALLOWED_HOSTS="feedback.example.com",
        SITE_URL="https://feedback.example.com",
        VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_compose_names_the_variables_the_settings_read() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app_env = set(compose["x-app-env"])
    assert app_env <= READ | {"ANYMAIL_WEBHOOK_SECRET"}, app_env - READ
    required = READ - DEV_ONLY - {"CONN_MAX_AGE", "SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD"}
    required -= {"SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "TWILIO_TIMEOUT_SECONDS"}
    assert required <= app_env, required - app_env
    for service in ("postgres", "redis", "web", "worker", "beat"):
        assert service in compose["services"], service


def test_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in READ if f"`{name}`" not in readme)
    assert not missing, f"document in README.md: {missing}"
