"""An OpenID Connect identity provider on a loopback port, for single sign-on tests.

It speaks the real protocol at the HTTP boundary: discovery document, token endpoint
(client secret and PKCE S256 checked, codes single-use), userinfo, and a JWKS whose RSA
key signs the ID tokens (RS256, PyJWT). The browser step (the IdP's login page) is
played by the test: ``authorize()`` reads the redirect the platform produced and issues a
code for the person the test names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "test-key-1"


@dataclass
class Grant:
    claims: dict[str, Any]
    redirect_uri: str
    code_challenge: str
    nonce: str | None


@dataclass
class FakeIdP:
    client_id: str = "platform-client"
    client_secret: str = "platform-secret"
    issuer: str = ""
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)

    def authorize(self, location: str, **claims: Any) -> str:
        """Play the IdP's login page: return the callback URL with a fresh code."""
        query = parse_qs(urlsplit(location).query)
        assert location.startswith(self.issuer + "/authorize"), location
        assert query["client_id"] == [self.client_id]
        assert query["response_type"] == ["code"]
        assert "openid" in query["scope"][0].split()
        assert query["code_challenge_method"] == ["S256"], "PKCE must be used"
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            claims={"email_verified": True, **claims},
            redirect_uri=query["redirect_uri"][0],
            code_challenge=query["code_challenge"][0],
            nonce=query.get("nonce", [None])[0],
        )
        callback = query["redirect_uri"][0]
        return f"{callback}?{urlencode({'code': code, 'state': query['state'][0]})}"

    def id_token(self, claims: dict[str, Any], nonce: str | None) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
            **claims,
        }
        if nonce:
            payload["nonce"] = nonce
        return jwt.encode(payload, KEY, algorithm="RS256", headers={"kid": KID})


def _jwk() -> dict[str, Any]:
    numbers = KEY.public_key().public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {
        "kty": "RSA",
        "kid": KID,
        "use": "sig",
        "alg": "RS256",
        "n": b64(numbers.n),
        "e": b64(numbers.e),
    }


def _handler(idp: FakeIdP) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return  # the tests assert on requests, not on an access log

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/.well-known/openid-configuration":
                self._json(
                    200,
                    {
                        "issuer": idp.issuer,
                        "authorization_endpoint": f"{idp.issuer}/authorize",
                        "token_endpoint": f"{idp.issuer}/token",
                        "userinfo_endpoint": f"{idp.issuer}/userinfo",
                        "jwks_uri": f"{idp.issuer}/jwks",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_post"],
                        "code_challenge_methods_supported": ["S256"],
                    },
                )
            elif path == "/jwks":
                self._json(200, {"keys": [_jwk()]})
            elif path == "/userinfo":
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                claims = idp.tokens.get(token)
                if claims is None:
                    self._json(401, {"error": "invalid_token"})
                else:
                    self._json(200, claims)
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/token":
                self._json(404, {"error": "not_found"})
                return
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            idp.token_requests.append(form)
            if form.get("client_id") != [idp.client_id] or form.get("client_secret") != [
                idp.client_secret
            ]:
                self._json(401, {"error": "invalid_client"})
                return
            grant = idp.grants.pop(form.get("code", [""])[0], None)  # single use
            verifier = form.get("code_verifier", [""])[0]
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if (
                grant is None
                or form.get("redirect_uri") != [grant.redirect_uri]
                or challenge != grant.code_challenge
            ):
                self._json(400, {"error": "invalid_grant"})
                return
            access_token = secrets.token_urlsafe(24)
            idp.tokens[access_token] = grant.claims
            self._json(
                200,
                {
                    "access_token": access_token,
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": idp.id_token(grant.claims, grant.nonce),
                },
            )

    return Handler


@contextmanager
def fake_idp() -> Iterator[FakeIdP]:
    idp = FakeIdP()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(idp))
    idp.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        server.server_close()
