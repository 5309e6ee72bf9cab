"""Signed parameters of open links and widget identities.

A CRM or shop back end that wants to tell us who is answering (``crm_id``) and some
CRM attributes adds them to the open link (or passes them to the widget) together with
``sig``, an HMAC-SHA256 of the parameters under the survey's ``link_secret``:

    canonical = urlencode(sorted((key, value) for every parameter except "sig"))
    sig = hex(HMAC_SHA256(key=survey.link_secret, message=canonical))

Parameters: ``crm_id`` (the contact), ``exp`` (optional, Unix time after which the
link stops identifying anyone), and ``a.<name>`` for attributes (``a.segment=gold``).
Unsigned or wrongly signed parameters are ignored (the answer is stored anonymously),
never trusted. docs/responses.md has examples in Python and JavaScript.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

SIGNATURE_PARAM = "sig"
ATTRIBUTE_PREFIX = "a."
MAX_PARAMS = 30
MAX_VALUE_LENGTH = 200


def canonical(params: Mapping[str, str]) -> str:
    return urlencode(sorted((k, v) for k, v in params.items() if k != SIGNATURE_PARAM))


def sign_params(secret: str, params: Mapping[str, str]) -> str:
    """The ``sig`` value for ``params`` (what a CRM computes on its side)."""
    return hmac.new(secret.encode(), canonical(params).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Identity:
    """What signed parameters say about the customer; empty when unsigned or invalid."""

    crm_id: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    valid: bool = False


def verify_params(secret: str, params: Mapping[str, str], now: float | None = None) -> Identity:
    """The identity in ``params`` if ``sig`` matches (and ``exp`` has not passed)."""
    signature = params.get(SIGNATURE_PARAM, "")
    relevant = {
        k: v for k, v in params.items() if k in ("crm_id", "exp") or k.startswith(ATTRIBUTE_PREFIX)
    }
    if (
        not signature
        or not relevant
        or len(relevant) > MAX_PARAMS
        or any(len(v) > MAX_VALUE_LENGTH for v in relevant.values())
        # Bytes: compare_digest refuses str with non-ASCII characters (a forged ``sig``).
        or not hmac.compare_digest(sign_params(secret, relevant).encode(), str(signature).encode())
    ):
        return Identity()
    expires = relevant.get("exp", "")
    if expires and (not expires.isdigit() or int(expires) < (now or time.time())):
        return Identity()
    attributes = {
        k[len(ATTRIBUTE_PREFIX) :]: v
        for k, v in relevant.items()
        if k.startswith(ATTRIBUTE_PREFIX) and len(k) > len(ATTRIBUTE_PREFIX)
    }
    return Identity(crm_id=relevant.get("crm_id", ""), attributes=attributes, valid=True)
