"""Web glue shared by the issuer service and the verifier app (both FastAPI on uvicorn).

* RFC 9457 problem+json for every ``FurusatoError``: ``type``, ``title``, ``status``,
  ``detail`` in the language the client prefers (Japanese unless it asks for English), the
  stable ``code``, the messages in both languages and, where known, the ``path``;
* ``BodyLimit``: bodies over a bound are refused (413) before the app reads them;
* ``SecurityHeaders``: nosniff and no-referrer everywhere, a strict CSP and no framing for
  pages.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from did.errors import FurusatoError, LimitExceededError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Responder = Callable[[Request, FurusatoError], Response]

PROBLEM_JSON = "application/problem+json"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def prefers_english(request: Request) -> bool:
    accept = request.headers.get("accept-language", "")
    first = accept.split(",")[0].strip().lower()
    return first.startswith("en")


def status_of(error: FurusatoError) -> int:
    status = getattr(error, "http_status", None)  # service errors and the OID4VCI codec's
    if isinstance(status, int):
        return status
    if isinstance(error, LimitExceededError):
        return 413
    return 400


def problem_body(error: FurusatoError, status: int, *, english: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": error.problem_type,
        "title": error.title_en if english else error.title_ja,
        "status": status,
        "detail": error.message_en if english else error.message_ja,
        "code": error.code,
        "messages": {"ja": error.message_ja, "en": error.message_en},
    }
    if error.path:
        body["path"] = error.path
    return body


def problem_response(request: Request, error: FurusatoError) -> JSONResponse:
    """The problem+json response of ``error`` (never cached)."""
    status = status_of(error)
    body = problem_body(error, status, english=prefers_english(request))
    return JSONResponse(
        body, status_code=status, headers={"Cache-Control": "no-store"}, media_type=PROBLEM_JSON
    )


class BodyLimit:
    """Refuse bodies over ``max_bytes`` (413) before the app reads them: by Content-Length at
    once, and by counting for chunked bodies (the app's handler then answers the
    LimitExceededError raised while it reads).  Starlette has no limit of its own."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        respond: Responder | None = None,
        larger: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        """``larger``: paths (regular expressions, matched whole) allowed a larger limit."""
        self.app = app
        self.max_bytes = max_bytes
        self.respond = respond or problem_response
        self.larger = tuple(larger)

    def _limit(self, scope: Scope) -> int:
        path = scope.get("path", "")
        for pattern, limit in self.larger:
            if pattern.fullmatch(path):
                return limit
        return self.max_bytes

    @staticmethod
    def _error(limit: int) -> LimitExceededError:
        return LimitExceededError(
            f"the request body is larger than {limit} bytes",
            f"リクエスト本文が大きすぎます (上限 {limit} バイト)",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0 or declared > limit:
                response = self.respond(Request(scope), self._error(limit))
                await response(scope, _no_receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise self._error(limit)
            return message

        await self.app(scope, counted, send)


class SecurityHeaders:
    """nosniff and no-referrer on every response; a strict CSP and no framing for pages."""

    def __init__(self, app: ASGIApp, csp: str = CSP) -> None:
        self.app = app
        self.csp = csp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {name.lower() for name, _ in headers}
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    extra += [
                        (b"content-security-policy", self.csp.encode()),
                        (b"x-frame-options", b"DENY"),
                    ]
                headers += [(name, value) for name, value in extra if name not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
