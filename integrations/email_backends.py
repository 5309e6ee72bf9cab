"""Email backend of the embedded default: one ``.eml`` file per message.

Unlike Django's file backend (one log file per connection), each message becomes a
standalone RFC 5322 file that any mail program opens, named by time and Message-ID,
written atomically into ``OUTBOX_DIR/email``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import make_msgid
from django.utils import timezone


class EmlFileBackend(BaseEmailBackend):
    def __init__(self, *args: Any, folder: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.folder = Path(folder or Path(settings.OUTBOX_DIR) / "email")

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            message_id = message.extra_headers.setdefault(
                "Message-ID", make_msgid(domain="outbox.local")
            )
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
            safe_id = re.sub(r"[^A-Za-z0-9.@_-]", "", message_id)
            path = self.folder / f"{stamp}-{safe_id}.eml"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(message.message().as_bytes())
            tmp.replace(path)
            sent += 1
        return sent
