"""Channel adapters: the one place that talks to email and SMS providers.

Callers (Celery tasks of the distribution and closed-loop modules) build an
``EmailMessage`` or ``SmsMessage`` and call ``email_channel().send(...)`` or
``sms_channel().send(...)``; they get a ``SendResult`` with the provider's message id,
or a ``ChannelError`` that says whether a retry can help.

* Email goes through Django's email backend: the embedded default writes ``.eml``
  files (``integrations.email_backends.EmlFileBackend``); production sets an anymail
  backend, whose ``anymail_status`` carries the ESP's message id.
* SMS goes to a file adapter (embedded default) or to Twilio through the official
  client, which signs and sends the request exactly as in production.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone

from integrations.sms_encoding import sms_length

logger = logging.getLogger(__name__)


class ChannelError(Exception):
    """A send failed. ``transient`` errors are worth a retry; the others are final."""

    def __init__(self, message: str, *, transient: bool, code: str = "") -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


@dataclass(frozen=True, slots=True)
class SendResult:
    provider: str
    message_id: str


@dataclass(frozen=True, slots=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str | None = None
    from_email: str | None = None
    reply_to: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    # Passed to the ESP as metadata/tags where supported (e.g. the invitation id).
    metadata: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SmsMessage:
    to: str  # E.164
    body: str
    status_callback: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class EmailChannel(Protocol):
    def send(self, message: EmailMessage) -> SendResult: ...


class SmsChannel(Protocol):
    def send(self, message: SmsMessage) -> SendResult: ...


# --- Email ---------------------------------------------------------------------------


class DjangoEmailChannel:
    """Sends through the configured Django email backend (file, SMTP or anymail)."""

    def send(self, message: EmailMessage) -> SendResult:
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            reply_to=list(message.reply_to),
            headers=dict(message.headers),
            connection=get_connection(fail_silently=False),
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        # anymail reads these; other backends ignore them.
        email.metadata = dict(message.metadata)  # type: ignore[attr-defined]
        email.tags = list(message.tags)  # type: ignore[attr-defined]
        try:
            email.send()
        except Exception as exc:
            raise _classify_email_error(exc) from exc
        return SendResult(provider=_email_provider_name(), message_id=_email_message_id(email))


def _email_provider_name() -> str:
    backend = settings.EMAIL_BACKEND
    if backend.startswith("anymail.backends."):
        return backend.split(".")[2]
    return backend.rsplit(".", 1)[-1]


def _email_message_id(email: EmailMultiAlternatives) -> str:
    status = getattr(email, "anymail_status", None)
    if status is not None and status.message_id:
        return str(status.message_id)
    return str(email.extra_headers.get("Message-ID", ""))


def _classify_email_error(exc: Exception) -> ChannelError:
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    if isinstance(exc, AnymailRecipientsRefused):
        return ChannelError(str(exc), transient=False, code="recipient_refused")
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        transient = status is None or status >= 500 or status == 429
        return ChannelError(str(exc), transient=transient, code=f"http_{status or 'error'}")
    if isinstance(exc, OSError | TimeoutError):
        return ChannelError(str(exc), transient=True, code="network")
    return ChannelError(str(exc), transient=False, code=type(exc).__name__)


# --- SMS -----------------------------------------------------------------------------


class FileSmsChannel:
    """Writes each SMS as a JSON file into ``OUTBOX_DIR/sms`` (embedded default)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder or Path(settings.OUTBOX_DIR) / "sms")

    def send(self, message: SmsMessage) -> SendResult:
        self.folder.mkdir(parents=True, exist_ok=True)
        message_id = f"file-{uuid.uuid4().hex}"
        length = sms_length(message.body)
        payload: dict[str, Any] = {
            "id": message_id,
            "to": message.to,
            "from": settings.TWILIO_FROM_NUMBER or "feedback",
            "body": message.body,
            "encoding": length.encoding,
            "segments": length.segments,
            "metadata": message.metadata,
            "created_at": timezone.now().isoformat(),
        }
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{message_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
        tmp.replace(path)  # readers never see half a file
        return SendResult(provider="file", message_id=message_id)


class TwilioSmsChannel:
    """Sends SMS through Twilio's REST API with the official client."""

    def __init__(self) -> None:
        from twilio.rest import Client

        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            raise ChannelError("Twilio is not configured", transient=False, code="config")
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=_twilio_http_client(),
        )

    def send(self, message: SmsMessage) -> SendResult:
        from requests.exceptions import RequestException
        from twilio.base.exceptions import TwilioRestException

        kwargs: dict[str, Any] = {
            "to": message.to,
            "body": message.body,
            "from_": settings.TWILIO_FROM_NUMBER,
        }
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
        try:
            created = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            transient = exc.status >= 500 or exc.status == 429
            raise ChannelError(
                exc.msg, transient=transient, code=str(exc.code or exc.status)
            ) from exc
        except RequestException as exc:
            raise ChannelError(str(exc), transient=True, code="network") from exc
        return SendResult(provider="twilio", message_id=str(created.sid))


def _twilio_http_client() -> Any:
    """Twilio's own HTTP client, pointed at ``TWILIO_API_BASE_URL`` when set.

    The override exists for tests and benchmarks that run a local Twilio-compatible
    endpoint; production leaves it empty and talks to api.twilio.com.
    """
    from twilio.http.http_client import TwilioHttpClient

    base_url = getattr(settings, "TWILIO_API_BASE_URL", "")
    timeout = getattr(settings, "TWILIO_TIMEOUT_SECONDS", 10)
    if not base_url:
        return TwilioHttpClient(timeout=timeout)

    class RedirectedTwilioHttpClient(TwilioHttpClient):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            url = url.replace("https://api.twilio.com", base_url.rstrip("/"), 1)
            return super().request(method, url, *args, **kwargs)

    return RedirectedTwilioHttpClient(timeout=timeout)


def email_channel() -> EmailChannel:
    return DjangoEmailChannel()


def sms_channel() -> SmsChannel:
    backend = settings.SMS_BACKEND
    if backend == "twilio":
        return TwilioSmsChannel()
    if backend == "file":
        return FileSmsChannel()
    raise ChannelError(f"Unknown SMS_BACKEND {backend!r}", transient=False, code="config")
