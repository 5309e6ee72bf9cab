"""docs/integrations/guide.md, replayed against the code.

The test reads the guide's Markdown: the ``api_key_create`` command line, and for each
curl command its method, path, headers and JSON body (the ``<<JSON`` here-document,
with the shell variables the guide sets), followed by the example answer. It runs them
in order through the test client against the real demo data (``seed_demo``), with the
worker's periodic tasks run in between (Celery is eager in tests), and the guide's
receiver (docs/integrations/receiver.py) listening on a loopback port. Every field an
example answer shows must be in the real answer, so a renamed field or a changed demo
rule breaks this test, not a reader's integration.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import shlex
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from django.urls import Resolver404, resolve

from config.celery import app as celery_app
from contacts.models import Contact
from tenants.context import tenant_context
from tenants.models import Organization

ROOT = Path(django_settings.BASE_DIR)
GUIDE = ROOT / "docs" / "integrations" / "guide.md"
RECEIVER = ROOT / "docs" / "integrations" / "receiver.py"
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.DOTALL)
VARIABLE = re.compile(r"\$([A-Z_]+)")


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    example: Any  # the JSON answer shown after the command, if any


@dataclass
class Guide:
    key_command: list[str]
    calls: list[Call] = field(default_factory=list)

    def call(self, method: str, prefix: str) -> Call:
        found = [c for c in self.calls if c.method == method and c.path.startswith(prefix)]
        assert len(found) == 1, f"the guide should show one {method} {prefix}... ({found})"
        return found[0]


def read_guide() -> Guide:
    text = GUIDE.read_text()
    command = re.search(r"manage\.py (api_key_create [^)\n]*)\)", text)
    assert command, "the guide creates its API key with manage.py api_key_create"
    guide = Guide(shlex.split(command.group(1)))
    blocks = BLOCK.findall(text)
    for index, (language, source) in enumerate(blocks):
        if language != "sh" or "curl " not in source:
            continue
        method = re.search(r"-X (\w+)", source)
        path = re.search(r'"\$API(/[^"]*)"', source)
        assert path, f'curl without "$API/...": {source}'
        body = re.search(r"<<JSON\n(.*?)\nJSON", source, re.DOTALL)
        following = blocks[index + 1] if index + 1 < len(blocks) else ("", "")
        guide.calls.append(
            Call(
                method=method.group(1) if method else "GET",
                path=path.group(1),
                headers=dict(re.findall(r'-H "([^:"]+): ([^"]*)"', source)),
                body=body.group(1) if body else None,
                example=json.loads(following[1]) if following[0] == "json" else None,
            )
        )
    return guide


def load_receiver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("guide_receiver", RECEIVER)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def expand(text: str, variables: dict[str, str]) -> str:
    return VARIABLE.sub(lambda m: variables[m.group(1)], text)


def assert_shape(example: Any, actual: Any, where: str = "answer") -> None:
    """Every field the example shows exists in the actual answer (recursively)."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        missing = set(example) - set(actual)
        assert not missing, f"{where}: the guide shows fields the API lacks: {sorted(missing)}"
        for name, value in example.items():
            assert_shape(value, actual[name], f"{where}.{name}")
    elif isinstance(example, list) and example and actual:
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        assert_shape(example[0], actual[0], f"{where}[0]")


@dataclass
class Receiver:
    url: str
    secret: dict[str, str]  # set once the webhook is registered


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The guide's receiver on a free loopback port (the guide's 9000 may be taken)."""
    module = load_receiver()
    secret: dict[str, str] = {}
    seen = module.SeenIds()

    def handler(*args: Any, **kwargs: Any) -> Any:
        return module.make_handler(secret["value"], seen)(*args, **kwargs)

    server = module.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/", secret)
    finally:
        server.shutdown()
        server.server_close()


def missing_routes(guide: Guide) -> list[str]:
    missing = []
    for call in guide.calls:
        path = "/api/v1" + VARIABLE.sub("1", call.path).split("?")[0]
        try:
            resolve(path)
        except Resolver404:
            missing.append(f"{call.method} {path}")
    return missing


def run_worker() -> None:
    """What beat and the worker do every minute: the due invitations, the outbox and the
    webhook deliveries (the tasks run eagerly, in this thread)."""
    celery_app.loader.import_default_modules()  # autodiscovery, as a worker starts
    for entry in celery_app.conf.beat_schedule.values():
        name = entry["task"]
        if any(part in name for part in ("invitation_dispatch_due", "outbox", "webhook")):
            celery_app.tasks[name].apply()


@pytest.mark.slow
@pytest.mark.django_db
def test_the_guide_round_trip_works_as_written(
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    guide = read_guide()
    missing = missing_routes(guide)
    if missing:  # the endpoints are being built; the test runs once they all exist
        pytest.skip(f"the guide's endpoints do not exist yet: {missing}")
    # As committed: its after-commit work runs (and is over before the guide starts).
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=io.StringIO())
    organization = Organization.objects.get(slug="demo")
    out = io.StringIO()
    call_command(*guide.key_command, stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip()
    variables = {
        "KEY": key,
        "ORDERED_AT": (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds"),
    }

    def send(call: Call) -> Any:
        path = expand(call.path, variables)
        headers = {
            f"HTTP_{name.upper().replace('-', '_')}": expand(value, variables)
            for name, value in call.headers.items()
            if name != "Content-Type"
        }
        with django_capture_on_commit_callbacks(execute=True):
            if call.body is None:
                response = getattr(Client(), call.method.lower())(f"/api/v1{path}", **headers)
            else:
                body = expand(call.body, variables).replace("http://127.0.0.1:9000/", receiver.url)
                response = getattr(Client(), call.method.lower())(
                    f"/api/v1{path}", data=body, content_type="application/json", **headers
                )
        if call.example is not None:
            assert_shape(call.example, response.json(), f"{call.method} {call.path}")
        return response

    # 1. The key works, and lacks what it does not need.
    check = send(guide.call("GET", "/organization/"))
    assert check.status_code == 403

    # 2. The receiver is registered; its secret is in the answer.
    webhook = send(guide.call("POST", "/webhooks/"))
    assert webhook.status_code == 201, webhook.content
    receiver.secret["value"] = webhook.json()["secret"]

    # 3. The order event schedules the invitation, due now (the order was 2 h ago).
    event_call = guide.call("POST", "/events/")
    event = send(event_call)
    assert event.status_code in (200, 201, 202), event.content
    invitations = event.json()["invitations"]
    assert [i["status"] for i in invitations] == ["scheduled"], event.json()
    variables["INVITATION_ID"] = str(invitations[0]["id"])
    retry = send(event_call)  # the same Idempotency-Key: the same answer, nothing more
    assert retry.json() == event.json()
    assert retry["Idempotent-Replayed"] == "true"

    # 4. The worker sends it.
    with django_capture_on_commit_callbacks(execute=True):
        run_worker()
    invitation = send(guide.call("GET", "/invitations/"))
    assert invitation.status_code == 200
    assert invitation.json()["status"] == "sent", invitation.json()
    assert invitation.json()["url"].startswith(settings.SITE_URL)

    # 5. The customer answers (CSAT 1).
    answer = send(guide.call("POST", "/responses/"))
    assert answer.status_code == 201, answer.content
    with django_capture_on_commit_callbacks(execute=True):
        run_worker()  # the outbox: routing opens the case and queues the webhook

    # 6. A case opened for the contact.
    cases = send(guide.call("GET", "/cases/"))
    assert cases.status_code == 200
    [case] = cases.json()["results"]
    assert case["priority"] == 3  # high (1 low - 4 urgent)

    # 7. The receiver verified the case.created webhook.
    with django_capture_on_commit_callbacks(execute=True):
        run_worker()
    printed = capsys.readouterr().out
    assert "verified case.created" in printed, printed
    assert "verified response.completed" in printed, printed
    with tenant_context(organization):
        contact = Contact.objects.get(crm_id="C-4711")
    assert contact.email == "jane.doe@example.com"


# --- The receiver ---------------------------------------------------------------------


SECRET = "whsec_test"


def _signed(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    receiver = load_receiver()
    return {
        "Webhook-Id": "evt-1",
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": f"v1={receiver.sign(secret, str(timestamp), body)}",
    }


def test_receiver_accepts_a_fresh_signed_event() -> None:
    receiver = load_receiver()
    body = b'{"type": "case.created", "data": {"number": 7}}'
    event = receiver.verify(SECRET, _signed(body, 1_000_000), body, now=1_000_100)
    assert event == {"type": "case.created", "data": {"number": 7}}


def test_receiver_accepts_any_of_several_signatures() -> None:
    receiver = load_receiver()
    body = b"{}"
    headers = _signed(body, 1_000_000)
    headers["Webhook-Signature"] = "v1=00ff, " + headers["Webhook-Signature"]
    assert receiver.verify(SECRET, headers, body, now=1_000_000) == {}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b'{"type": "case.created", "data": {"number": 8}}'}, "no Webhook-Signature"),
        ({"secret": "whsec_other"}, "no Webhook-Signature"),
        ({"now": 1_000_000 + 301}, "5 minutes"),
        ({"now": 1_000_000 - 301}, "5 minutes"),
        ({"drop": "Webhook-Id"}, "missing"),
        ({"drop": "Webhook-Signature"}, "missing"),
    ],
)
def test_receiver_refuses_forged_stale_or_incomplete_requests(
    change: dict[str, Any], reason: str
) -> None:
    receiver = load_receiver()
    body = b'{"type": "case.created", "data": {"number": 7}}'
    headers = _signed(body, 1_000_000, change.get("secret", SECRET))
    headers.pop(change.get("drop", ""), None)
    with pytest.raises(receiver.InvalidWebhook, match=reason):
        receiver.verify(SECRET, headers, change.get("body", body), now=change.get("now", 1_000_000))


def test_receiver_handles_each_event_once_over_http(capsys: pytest.CaptureFixture[str]) -> None:
    import time
    import urllib.request

    receiver = load_receiver()
    server = receiver.ThreadingHTTPServer(
        ("127.0.0.1", 0), receiver.make_handler(SECRET, receiver.SeenIds())
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    body = b'{"type": "case.created", "data": {"number": 7}}'
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        statuses = []
        for headers in (_signed(body, int(time.time())), _signed(body, int(time.time()))):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                statuses.append(answer.status)
        forged = urllib.request.Request(
            url, data=body, headers=_signed(body, int(time.time()), "whsec_other"), method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=5)  # noqa: S310
    finally:
        server.shutdown()
        server.server_close()

    assert statuses == [200, 200]
    assert refused.value.code == 400
    printed = capsys.readouterr()
    assert printed.out.count("verified case.created evt-1") == 1
    assert "duplicate evt-1" in printed.out
    assert "refused: no Webhook-Signature matches" in printed.err
