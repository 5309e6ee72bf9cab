"""Email and SMS channel adapters, with providers faked at the HTTP boundary."""

from __future__ import annotations

import base64
import email
import json
from pathlib import Path
from typing import Any

import pytest

from integrations.channels import (
    ChannelError,
    EmailMessage,
    FileSmsChannel,
    SmsMessage,
    email_channel,
    sms_channel,
)
from integrations.sms_encoding import sms_length
from tests.fakes import FakeProvider, Reply, fake_provider

provider = pytest.fixture(fake_provider)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("Grüße aus Köln, Straße ÄÖÜ é", "GSM-7", 28, 1),
        ("Preis: 10€ [netto]", "GSM-7", 21, 1),
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        ("Danke 🙂", "UCS-2", 8, 1),
        ("ł" * 70, "UCS-2", 70, 1),
        ("ł" * 71, "UCS-2", 71, 2),
        ("„Danke“" + "a" * 65, "UCS-2", 72, 2),
    ],
)
def test_sms_length_follows_gsm_rules(text: str, encoding: str, units: int, segments: int) -> None:
    length = sms_length(text)
    assert (length.encoding, length.units, length.segments) == (encoding, units, segments)


def _message(**overrides: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "to": "kunde@example.com",
        "subject": "Wie war Ihr Einkauf?",
        "text": "Bitte bewerten Sie uns: https://feedback.example/s/abc",
        "html": "<p>Bitte bewerten Sie uns</p>",
        "headers": {"List-Unsubscribe": "<https://feedback.example/u/abc>"},
        "metadata": {"invitation": "42"},
    }
    fields.update(overrides)
    return EmailMessage(**fields)


def test_embedded_email_is_one_readable_eml_file_per_message(settings: Any, tmp_path: Path) -> None:
    settings.EMAIL_BACKEND = "integrations.email_backends.EmlFileBackend"
    settings.OUTBOX_DIR = tmp_path
    first = email_channel().send(_message())
    second = email_channel().send(_message(to="zwei@example.com"))
    files = sorted((tmp_path / "email").glob("*.eml"))
    assert len(files) == 2
    assert first.message_id != second.message_id
    parsed = email.message_from_bytes(files[0].read_bytes())
    assert parsed["To"] == "kunde@example.com"
    assert parsed["List-Unsubscribe"] == "<https://feedback.example/u/abc>"
    assert parsed["Message-ID"] == first.message_id
    kinds = [part.get_content_type() for part in parsed.walk()]
    assert "text/plain" in kinds
    assert "text/html" in kinds
    assert first.provider == "EmlFileBackend"


@pytest.fixture
def postmark(settings: Any, provider: FakeProvider) -> FakeProvider:
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "POSTMARK_API_URL": provider.url}
    return provider


def test_esp_send_returns_the_provider_message_id(postmark: FakeProvider) -> None:
    postmark.queue(
        Reply(
            200, {"ErrorCode": 0, "Message": "OK", "MessageID": "pm-123", "To": "kunde@example.com"}
        )
    )
    result = email_channel().send(_message())
    assert result.provider == "postmark"
    assert result.message_id == "pm-123"
    sent = postmark.received[0]
    assert sent.headers["X-Postmark-Server-Token"] == "server-token"
    payload = sent.json
    assert payload["To"] == "kunde@example.com"
    assert payload["Metadata"] == {"invitation": "42"}
    assert {"Name": "List-Unsubscribe", "Value": "<https://feedback.example/u/abc>"} in payload[
        "Headers"
    ]


@pytest.mark.parametrize(
    ("status", "transient"), [(500, True), (503, True), (429, True), (401, False)]
)
def test_esp_errors_say_whether_a_retry_can_help(
    postmark: FakeProvider, status: int, transient: bool
) -> None:
    postmark.queue(Reply(status, {"ErrorCode": 10, "Message": "nope"}))
    with pytest.raises(ChannelError) as error:
        email_channel().send(_message())
    assert error.value.transient is transient


def test_esp_refusing_the_recipient_is_final(postmark: FakeProvider) -> None:
    postmark.queue(
        Reply(422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'kunde@example.com'."})
    )
    with pytest.raises(ChannelError) as error:
        email_channel().send(_message())
    assert error.value.transient is False
    assert error.value.code == "recipient_refused"


@pytest.fixture
def twilio(settings: Any, provider: FakeProvider) -> FakeProvider:
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC" + "1" * 32
    settings.TWILIO_AUTH_TOKEN = "auth-token"
    settings.TWILIO_FROM_NUMBER = "+4930123456"
    settings.TWILIO_API_BASE_URL = provider.url
    settings.TWILIO_TIMEOUT_SECONDS = 2
    return provider


def _twilio_message(sid: str = "SM" + "a" * 32) -> dict[str, Any]:
    return {"sid": sid, "status": "queued", "to": "+491701234567", "body": "Hi"}


def test_sms_goes_to_twilio_with_its_client_and_returns_the_sid(twilio: FakeProvider) -> None:
    twilio.queue(Reply(201, _twilio_message()))
    result = sms_channel().send(
        SmsMessage(
            to="+491701234567",
            body="Wie zufrieden waren Sie? Antworten Sie 0-10.",
            status_callback="https://feedback.example/hooks/twilio/status",
        )
    )
    assert result == type(result)(provider="twilio", message_id="SM" + "a" * 32)
    request = twilio.received[0]
    assert request.path == f"/2010-04-01/Accounts/{'AC' + '1' * 32}/Messages.json"
    user, password = (
        base64.b64decode(request.headers["Authorization"].split()[1]).decode().split(":")
    )
    assert (user, password) == ("AC" + "1" * 32, "auth-token")
    assert request.form["To"] == ["+491701234567"]
    assert request.form["From"] == ["+4930123456"]
    assert request.form["StatusCallback"] == ["https://feedback.example/hooks/twilio/status"]


@pytest.mark.parametrize(
    ("reply", "transient"),
    [
        (Reply(500, {"code": 20500, "message": "Internal error", "status": 500}), True),
        (Reply(429, {"code": 20429, "message": "Too many requests", "status": 429}), True),
        (Reply(400, {"code": 21211, "message": "Invalid 'To' number", "status": 400}), False),
    ],
)
def test_twilio_errors_say_whether_a_retry_can_help(
    twilio: FakeProvider, reply: Reply, transient: bool
) -> None:
    twilio.queue(reply)
    with pytest.raises(ChannelError) as error:
        sms_channel().send(SmsMessage(to="+491701234567", body="Hi"))
    assert error.value.transient is transient


def test_twilio_timeout_is_transient(twilio: FakeProvider) -> None:
    twilio.queue(Reply(201, _twilio_message(), delay=3))
    with pytest.raises(ChannelError) as error:
        sms_channel().send(SmsMessage(to="+491701234567", body="Hi"))
    assert error.value.transient is True


def test_file_sms_channel_writes_one_json_file_per_message(tmp_path: Path) -> None:
    result = FileSmsChannel(tmp_path).send(SmsMessage(to="+41791234567", body="Grüezi 🙂"))
    (path,) = tmp_path.glob("*.json")
    data = json.loads(path.read_text())
    assert data["id"] == result.message_id
    assert (data["to"], data["body"], data["encoding"], data["segments"]) == (
        "+41791234567",
        "Grüezi 🙂",
        "UCS-2",
        1,
    )
