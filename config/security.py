"""Response headers for pages whose URL is a secret.

Survey, response, unsubscribe and follow-up links (``/s/<token>/``, ``/r/…``, ``/u/…``,
``/f/…``) and password reset links authorize by their URL. Their pages send
``Referrer-Policy: no-referrer`` (the site-wide policy is ``same-origin``), so no request
they start carries the link, not even to this server's own assets, and ``no-store`` so
no shared cache keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

SECRET_PATH = re.compile(r"^/(?:[srfu]/[^/]+/|accounts/password/reset/key/)")


class SecretUrlHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if SECRET_PATH.match(request.path_info):
            response["Referrer-Policy"] = "no-referrer"
            if "no-store" not in response.get("Cache-Control", ""):
                response["Cache-Control"] = "no-store"
            response.headers.setdefault("X-Robots-Tag", "noindex, nofollow")
        return response
