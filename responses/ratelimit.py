"""Rate limits of the public endpoints: fixed one-minute windows counted in the cache.

``cache.add`` + ``cache.incr`` are atomic on Redis (production), so parallel web workers
share one count. The embedded default's file cache is per machine and not atomic: a
burst may slip a few requests past the limit there, which a single-node install accepts.
(django-ratelimit refuses both the file cache and Django's own Redis cache in its
system checks, hence this small counter.)

Limits are requests per minute from settings: ``PUBLIC_RATE_LIMIT_PER_IP`` for every
public request of one client address, ``PUBLIC_RATE_LIMIT_PER_TOKEN`` for the submits of
one survey link. 0 turns a limit off. Without the cache (Redis down) the limits fail
open, with a warning in the log: customers' answers are never refused for it.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

WINDOW_SECONDS = 60
logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the address ``TRUSTED_PROXY_HOPS`` proxies
    in front of the app put into X-Forwarded-For (the rightmost ones are theirs)."""
    hops = int(getattr(settings, "TRUSTED_PROXY_HOPS", 0) or 0)
    if hops:
        forwarded = [
            part.strip()
            for part in request.headers.get("X-Forwarded-For", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR", ""))


def _hit(scope: str, key: str, limit: int) -> bool:
    """Count one request; True when it is over ``limit`` in the current window."""
    if limit <= 0:
        return False
    window = int(time.time() // WINDOW_SECONDS)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"rl:{scope}:{window}:{digest}"
    try:
        cache.add(cache_key, 0, WINDOW_SECONDS + 5)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, WINDOW_SECONDS + 5)
            count = 1
    except Exception:  # the cache (Redis) is down
        # Fail open: a customer's answer matters more than a limit. Logged, so an
        # outage that disables the limits does not go unnoticed.
        logger.warning("rate limit not counted: the cache is unavailable", exc_info=True)
        return False
    return count > limit


def retry_after() -> int:
    """Seconds until the current window ends."""
    return WINDOW_SECONDS - int(time.time()) % WINDOW_SECONDS or WINDOW_SECONDS


def public_token_limited(token: str) -> bool:
    """Count one request for a link token only (``PUBLIC_RATE_LIMIT_PER_TOKEN``): for
    requests that legitimately come in bulk from shared addresses, like mail providers'
    one-click unsubscribes (RFC 8058)."""
    return _hit("token", token, settings.PUBLIC_RATE_LIMIT_PER_TOKEN)


def public_request_limited(request: HttpRequest, token: str = "") -> bool:
    """Count a public request by client address and, when given, by link token."""
    limited = _hit("ip", client_ip(request), settings.PUBLIC_RATE_LIMIT_PER_IP)
    if token and request.method == "POST":
        limited = _hit("token", token, settings.PUBLIC_RATE_LIMIT_PER_TOKEN) or limited
    return limited
