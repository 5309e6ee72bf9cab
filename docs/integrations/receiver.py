#!/usr/bin/env python3
"""A minimal receiver of the platform's signed webhooks (Python standard library only).

    export WEBHOOK_SECRET=whsec_...      # from the answer of POST /api/v1/webhooks/
    python3 docs/integrations/receiver.py  # listens on 127.0.0.1:9000

Every request must carry

* ``Webhook-Id``: the event's id (the same on a retry or a redelivery),
* ``Webhook-Timestamp``: when it was signed, in Unix seconds,
* ``Webhook-Signature``: ``v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`` (several
  space- or comma-separated values while a secret is rotated; one must match).

The receiver refuses a bad signature or a timestamp more than five minutes away from its
clock (400), acknowledges an event it has seen already without handling it again (200),
and prints each verified event once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60
SEEN_MAX = 10_000


class InvalidWebhook(Exception):
    """The request is not a genuine, fresh webhook of the platform."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``v1`` signature of ``body`` sent at ``timestamp`` (what the sender computes)."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> dict[str, object]:
    """Check the signature and the timestamp; return the parsed event.

    ``headers`` is looked up case-insensitively. Raises ``InvalidWebhook`` with the reason.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    timestamp = lower.get("webhook-timestamp", "")
    signatures = lower.get("webhook-signature", "")
    if not lower.get("webhook-id") or not timestamp or not signatures:
        raise InvalidWebhook("missing Webhook-Id, Webhook-Timestamp or Webhook-Signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise InvalidWebhook("Webhook-Timestamp is not a number of seconds") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > TOLERANCE_SECONDS:
        raise InvalidWebhook("Webhook-Timestamp is more than 5 minutes away (a replay?)")
    expected = sign(secret, timestamp, body)
    candidates = [part.strip() for part in signatures.replace(",", " ").split()]
    if not any(
        part.startswith("v1=") and hmac.compare_digest(part[3:], expected) for part in candidates
    ):
        raise InvalidWebhook("no Webhook-Signature matches the secret")
    try:
        event = json.loads(body)
    except ValueError:
        raise InvalidWebhook("the body is not JSON") from None
    if not isinstance(event, dict):
        raise InvalidWebhook("the body is not a JSON object")
    return event


class SeenIds:
    """The ids of recent events, to handle each event once (a bounded memory)."""

    def __init__(self, limit: int = SEEN_MAX) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._limit:
            self._ids.popitem(last=False)
        return True


def make_handler(secret: str, seen: SeenIds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                event = verify(secret, dict(self.headers.items()), body)
            except InvalidWebhook as exc:
                print(f"refused: {exc}", file=sys.stderr, flush=True)
                self._answer(400)
                return
            event_id = self.headers["Webhook-Id"]
            if seen.first_time(event_id):
                print(
                    f"verified {event.get('type', '?')} {event_id}\n"
                    f"{json.dumps(event, indent=2, ensure_ascii=False)}",
                    flush=True,
                )
            else:
                print(f"duplicate {event_id}: already handled", flush=True)
            self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # the events are printed above; no access log

    return Handler


def main() -> None:
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if not secret:
        sys.exit("Set WEBHOOK_SECRET to the secret of POST /api/v1/webhooks/'s answer.")
    host = os.environ.get("RECEIVER_HOST", "127.0.0.1")
    port = int(os.environ.get("RECEIVER_PORT", "9000"))
    server = ThreadingHTTPServer((host, port), make_handler(secret, SeenIds()))
    print(f"Listening on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
