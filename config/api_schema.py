"""OpenAPI post-processing: the error answers and headers every operation shares.

Each operation gets the RFC 9457 problem responses it can produce (401, 403, 429
always; 400 when it takes input; 404 when its path names an object or it takes a list
cursor (DRF answers an unknown cursor with 404); 409/422 for an
``Idempotency-Key`` on POST), the ``Idempotency-Key`` request header on POST, and the
``RateLimit-*`` response headers, so a client generated from the schema knows them and
schemathesis can check every answer against it.
"""

from __future__ import annotations

from typing import Any

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Invalid request"},
        "status": {"type": "integer", "example": 400},
        "detail": {"type": "string", "example": "The request has invalid fields."},
        "instance": {"type": "string", "example": "/api/v1/contacts/"},
        "errors": {
            "description": "Field messages of a 400: field name -> list of messages "
            "(nested for nested input, per item for bulk input).",
            "oneOf": [{"type": "object"}, {"type": "array"}],
        },
    },
    "required": ["type", "title", "status"],
}

_DESCRIPTIONS = {
    "400": "Invalid input; `errors` names each field.",
    "401": "No API key, or an invalid or revoked one.",
    "403": "The API key lacks the scope for this request.",
    "404": "No such object in the key's organization.",
    "404-cursor": "The `cursor` is not one of this list's `next`/`previous` cursors.",
    "409": "A request with the same Idempotency-Key is still running.",
    "422": "The Idempotency-Key was used for a different request.",
    "429": "Rate limit exceeded; retry after `Retry-After` seconds.",
}

_RATE_HEADERS = {
    "RateLimit-Limit": "Requests allowed per window for this API key.",
    "RateLimit-Remaining": "Requests left in the current window.",
    "RateLimit-Reset": "Seconds until the window resets.",
}

IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Any unique string (a UUID). A retry with the same key within 24 hours "
    "returns the first answer (with `Idempotent-Replayed: true`) and has no further effect.",
}


def _problem_response(code: str, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or _DESCRIPTIONS[code],
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def add_problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if not operation.get("security") and method == "get" and "schema" in path:
                continue
            codes = ["401", "403", "429"]
            if method in ("post", "put", "patch") or operation.get("parameters"):
                codes.append("400")
            parameter_names = {p.get("name") for p in operation.get("parameters", [])}
            if "{" in path or "cursor" in parameter_names:
                codes.append("404")
            if method == "post":
                codes += ["409", "422"]
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                    parameters.append(IDEMPOTENCY_PARAMETER)
            responses = operation["responses"]
            for code in codes:
                description = None
                if code == "404" and "{" not in path:
                    description = _DESCRIPTIONS["404-cursor"]  # a list: only a bad cursor
                responses.setdefault(code, _problem_response(code, description))
            for code, response in responses.items():
                if code.startswith("2"):
                    headers = response.setdefault("headers", {})
                    for name, text in _RATE_HEADERS.items():
                        headers.setdefault(
                            name, {"schema": {"type": "integer"}, "description": text}
                        )
    return result
