"""Keep secrets in URLs out of logs.

Survey, response, unsubscribe and follow-up links carry their authorization in the path
(``/s/<token>/``), and password reset links carry a one-time key. Whoever reads a log
line with such a URL could answer in the customer's name or take over an account, so
every log line passes ``redact()``: the Django handlers through ``RedactSecretsFilter``
(settings.LOGGING) and gunicorn's access log through ``GunicornLogger``
(``--logger-class config.log_redaction.GunicornLogger``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
_PATTERNS = [
    # Token links: /s/<token>/, /r/<token>/, /u/<token>/, /f/<token>/ (and /thanks/).
    (re.compile(r"(/[srfu]/)[A-Za-z0-9_\-:.]{8,}"), rf"\1{REDACTED}"),
    # allauth's password reset key: /accounts/password/reset/key/<uidb36>-<key>/
    (re.compile(r"(/password/reset/key/)[^/\s\"']+"), rf"\1{REDACTED}"),
    # Secrets in query strings (?token=..., &key=..., &code=... of the SSO callback).
    (
        re.compile(r"([?&](?:token|key|code|state|secret|signature|api_key)=)[^&\s\"']+", re.I),
        rf"\1{REDACTED}",
    ),
    # Bearer credentials, should a header ever be logged.
    (re.compile(r"(Bearer\s+)[A-Za-z0-9_\-.~+/=]+", re.I), rf"\1{REDACTED}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecretsFilter(logging.Filter):
    """Rewrite the message and its string arguments before any handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_value(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact_value(arg) for key, arg in record.args.items()}
        # django.request attaches the request; its repr names the path.
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            record.request = f"<{request.__class__.__name__}: {redact(str(request.path))}>"
        return True


class GunicornLogger(Logger):
    """gunicorn's logger with the request line, path and query string redacted."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        # Every string atom: the request line, path, query, referrer, headers, environ.
        return {key: _redact_value(value) for key, value in atoms.items()}

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        super().error(redact(str(msg)), *args, **kwargs)
