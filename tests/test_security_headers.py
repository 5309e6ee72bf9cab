"""Browser-facing protections: Content Security Policy, deployment checks, headers on
pages whose URL is a secret, and secrets kept out of logs."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.test import Client

from config.log_redaction import redact
from tenants.context import tenant_context
from tests.conftest import Tenant
from tests.factories import InvitationFactory, published_survey

ROOT = Path(settings.BASE_DIR)
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
# Served by `manage.py demo_shop` from another origin (a customer's website), not by the app.
NOT_SERVED_BY_THE_APP = {"responses/demo_shop.html"}


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="false",
        VAR_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="feedback.example.com",
    )
    return env


# --- Content Security Policy -------------------------------------------------------------


def _policy(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_pages_forbid_inline_and_foreign_scripts(tenant_a: Tenant) -> None:
    for response in (
        tenant_a.client.get(tenant_a.url()),
        Client().get("/accounts/login/"),
        Client().get("/api/v1/docs/"),
    ):
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"] or (
            policy["script-src"][0] == "'self'" and policy["script-src"][1].startswith("'nonce-")
        )
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"]
        assert policy["default-src"] == ["'self'"]
        assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def test_no_template_has_an_inline_script_or_event_handler() -> None:
    """Scripts come from static files (or carry the request's nonce); handlers are bound
    in JavaScript, never in on*="..." attributes, which no nonce can allow."""
    problems = []
    for directory in TEMPLATE_DIRS:
        for path in directory.rglob("*.html"):
            name = str(path.relative_to(directory))
            if name in NOT_SERVED_BY_THE_APP:
                continue
            text = path.read_text()
            for tag in re.findall(r"<script\b[^>]*>", text):
                data_block = re.search(r'type="application/(ld\+)?json"', tag)
                if "src=" not in tag and "nonce=" not in tag and not data_block:
                    problems.append(f"{name}: inline {tag}")
            problems += [f"{name}: {m}" for m in re.findall(r"\son[a-z]+=\"", text)]
            problems += [f"{name}: javascript: URL" for _ in re.findall(r"javascript:", text)]
    assert not problems, "\n".join(problems)


def test_the_api_reference_needs_no_inline_script(db: None) -> None:
    page = Client().get("/api/v1/docs/").content.decode()
    assert "<script>" not in page
    script = re.search(r'<script src="(/api/v1/docs/\?script=[^"]*)"', page)
    assert script
    assert Client().get(script.group(1).replace("&amp;", "&")).status_code == 200


def test_the_sso_page_may_post_to_the_identity_provider_only(tenant_a: Tenant) -> None:
    from tenants.models import Organization

    Organization.objects.filter(pk=tenant_a.organization.pk).update(
        sso_enabled=True,
        sso_issuer="https://login.alpha.example/realms/alpha",
        sso_client_id="x",
        sso_client_secret="y",
        sso_email_domains="alpha.example",
    )
    policy = _policy(Client().get("/accounts/sso/alpha/"))
    assert policy["form-action"] == ["'self'", "https://login.alpha.example"]
    assert _policy(Client().get("/accounts/login/"))["form-action"] == ["'self'"]


# --- Production settings -------------------------------------------------------------------


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
# Pages without `collectstatic`: the manifest storage would need the build step.
settings.STORAGES = {**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
client = Client(HTTP_HOST="feedback.example.com")
plain = client.get("/accounts/login/")
secure = client.get("/accounts/login/", secure=True)
print(json.dumps({
    "redirect": [plain.status_code, plain.get("Location")],
    "headers": dict(secure.headers),
    "csrf_cookie": {k: str(v) for k, v in secure.cookies["csrftoken"].items()},
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "session_cookie_httponly": settings.SESSION_COOKIE_HTTPONLY,
}))
"""


def test_production_answers_carry_the_security_headers(tmp_path: Path) -> None:
    env = _production_env(tmp_path) | {"DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["redirect"] == [301, "https://feedback.example.com/accounts/login/"]
    headers = seen["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert seen["csrf_cookie"]["secure"] == "True"
    assert seen["csrf_cookie"]["samesite"] == "Lax"
    assert seen["session_cookie_secure"] is True
    assert seen["session_cookie_httponly"] is True


# --- Pages whose URL is a secret -----------------------------------------------------------


def _invitation(tenant: Tenant) -> Any:
    with tenant_context(tenant.organization):
        version = published_survey()
        return InvitationFactory(survey_version=version, survey=version.survey, status="sent")


def test_survey_links_are_not_leaked_through_referrers_or_caches(tenant_a: Tenant) -> None:
    invitation = _invitation(tenant_a)
    page = Client().get(f"/s/{invitation.token}/")
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "no-referrer"
    assert "no-store" in page["Cache-Control"]
    assert Client().get("/s/not-a-real-token-000/")["Referrer-Policy"] == "no-referrer"
    # Elsewhere the site-wide policy holds.
    assert Client().get("/accounts/login/")["Referrer-Policy"] == "same-origin"


def test_survey_tokens_are_unguessable(tenant_a: Tenant) -> None:
    from surveys.services.distribution import new_token

    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    for token in tokens:
        assert len(token) >= 32  # 192 bits from secrets.token_urlsafe(24)


# --- Logs ------------------------------------------------------------------------------------


def test_redaction_rules() -> None:
    assert redact("GET /s/AbCdEf0123456789xyzXYZ_-/ HTTP/1.1") == "GET /s/[redacted]/ HTTP/1.1"
    assert redact("/r/AbCdEf0123456789/thanks/") == "/r/[redacted]/thanks/"
    assert redact("/accounts/password/reset/key/3-abc-def/") == (
        "/accounts/password/reset/key/[redacted]/"
    )
    assert redact("/accounts/oidc/org-a/login/callback/?code=xyz&state=abc") == (
        "/accounts/oidc/org-a/login/callback/?code=[redacted]&state=[redacted]"
    )
    assert redact("Authorization: Bearer fbk_abc_def") == "Authorization: Bearer [redacted]"
    assert redact("/o/acme/surveys/12/") == "/o/acme/surveys/12/"


def test_django_logs_name_no_survey_token(tenant_a: Tenant) -> None:
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        token = "Zy9SecretTokenValue0123456789abcd"
        Client().get(f"/s/{token}/no-such-page/")
        Client().get(f"/r/{token}/")
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    logged = buffer.getvalue()
    assert "Not Found" in logged
    assert token not in logged
    assert "/s/[redacted]/" in logged


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gunicorns_access_log_names_no_survey_token(tmp_path: Path) -> None:
    port = _free_port()
    env = _production_env(tmp_path) | {"DEBUG": "true", "ALLOWED_HOSTS": "127.0.0.1"}
    log = tmp_path / "access.log"
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--access-logfile", str(log),
            "--logger-class", "config.log_redaction.GunicornLogger",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    token = "Zy9SecretTokenValue0123456789abcd"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(
                    f"http://127.0.0.1:{port}/s/{token}/no-such-page/?token={token}",
                    headers={"Referer": f"http://127.0.0.1:{port}/u/{token}/"},
                    timeout=5,
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=20)
    logged = log.read_text()
    assert "/s/[redacted]/no-such-page/?token=[redacted]" in logged
    assert "/u/[redacted]/" in logged
    assert token not in logged
