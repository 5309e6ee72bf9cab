"""Writes of the responses app: the submit path every channel shares, and the outbox."""

from responses.services.outbox import outbox_dispatch, outbox_dispatch_due
from responses.services.submit import SubmitResult, response_submit

__all__ = ["SubmitResult", "outbox_dispatch", "outbox_dispatch_due", "response_submit"]
