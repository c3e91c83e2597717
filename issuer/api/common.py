"""What every route shares: the services, bounded JSON bodies, problem+json responses.

Errors are mapped once, here (STYLE.md 3, 14): a ``FurusatoError`` becomes an RFC 9457
problem+json body with ``type``, ``title``, ``status``, ``detail`` (in the language the
client prefers, Japanese unless it asks for English), the stable ``code``, the messages in
both languages and, where known, the ``path`` of the bad value.  OAuth endpoints answer in
the OAuth shape (``error``, ``error_description``) with the same problem members added.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from did.errors import FurusatoError, ParsingError
from did.jsonio import Limits, load_json
from issuer.bootstrap import Services
from issuer.errors import UnsupportedMediaTypeError
from shellkit.web import PROBLEM_JSON, prefers_english, problem_body, status_of

log = logging.getLogger("furusato.issuer")


def services(request: Request) -> Services:
    value: Services = request.app.state.services
    return value


def problem_response(
    request: Request,
    error: FurusatoError,
    *,
    oauth: bool = False,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    status = status_of(error)
    body = problem_body(error, status, english=prefers_english(request))
    if extra:
        body.update(extra)
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if oauth:
        body["error"] = getattr(error, "oauth_error", None) or _oauth_fallback(status)
        # RFC 6749 §5.2: error_description is ASCII
        body["error_description"] = error.message_en.encode("ascii", "replace").decode()
        if status == 401:
            headers["WWW-Authenticate"] = f'Bearer error="{body["error"]}"'
        return JSONResponse(body, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _oauth_fallback(status: int) -> str:
    return {401: "invalid_token", 413: "invalid_request"}.get(status, "invalid_request")


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_json(request: Request, *, max_bytes: int | None = None) -> Any:
    """The request body as JSON: JSON media type, bounded size, depth and node count."""
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaTypeError(
            "send the body as application/json", "本文は application/json で送ってください"
        )
    limit = max_bytes or services(request).settings.max_body_bytes
    body = await request.body()  # the size middleware has already bounded it
    return load_json(body, Limits(max_bytes=limit))


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body as single-valued strings."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise UnsupportedMediaTypeError(
            "send the body as application/x-www-form-urlencoded",
            "本文は application/x-www-form-urlencoded で送ってください",
        )
    form = await request.form(max_files=0, max_fields=32)
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise ParsingError("files are not accepted", "ファイルは受け付けていません")
        if key in values:
            raise ParsingError(
                f"the parameter {key} is repeated", f"パラメータ {key} が重複しています"
            )
        values[key] = value
    return values


# Bodies are read by these async dependencies; the endpoints themselves are plain ``def`` so
# FastAPI runs them in its thread pool — their database round trips and signing must never
# block the event loop (one worker would otherwise serve one request at a time).


async def json_body(request: Request) -> Any:
    return await read_json(request)


async def optional_json_body(request: Request) -> Any:
    """The JSON body, or None when the request has none (chunked bodies included)."""
    if not await request.body():
        return None
    return await read_json(request)


async def form_body(request: Request) -> dict[str, str]:
    return await read_form(request)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
