"""The issuer service as an ASGI app: ``create_app(services)``.

The app is stateless apart from the database: run N uvicorn workers behind any load balancer
(DESIGN.md §11).  ``app_from_env`` is the factory uvicorn's workers call.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from did.errors import FurusatoError, LimitExceededError, MalformedValueError
from issuer.api import admin, pages, public, vcapi
from issuer.api.common import problem_response
from issuer.bootstrap import Services, open_services, resolve_secret
from issuer.errors import InternalError, NotFoundError, ServiceError
from issuer.settings import Settings

log = logging.getLogger("furusato.issuer")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OAUTH_PATH = re.compile(r"^/lg/[^/]+/(token|credential|nonce|renewal)$")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class BodyLimit:
    """Refuse bodies over ``max_bytes`` (413) before the app reads them: by Content-Length at
    once, and by counting for chunked bodies (the app's handler then answers the
    LimitExceededError raised while it reads).  Starlette has no limit of its own."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> LimitExceededError:
        return LimitExceededError(
            f"the request body is larger than {self.max_bytes} bytes",
            f"リクエスト本文が大きすぎます (上限 {self.max_bytes} バイト)",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0 or declared > self.max_bytes:
                request = Request(scope)
                oauth = bool(OAUTH_PATH.match(request.url.path))
                response = problem_response(request, self._error(), oauth=oauth)
                await response(scope, _no_receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._error()
            return message

        await self.app(scope, counted, send)


class SecurityHeaders:
    """nosniff and no-referrer on every response; a strict CSP and no framing for pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                        (b"content-security-policy", CSP.encode()),
                        (b"x-frame-options", b"DENY"),
                    ]
                headers += [(name, value) for name, value in extra if name not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def create_app(svc: Services) -> FastAPI:
    app = FastAPI(
        title="furusato-vc issuer",
        version="0.1.0",
        description="ふるさと住民登録の発行者サービス / "
        "Issuer service of furusato resident registration",
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = svc

    @app.exception_handler(FurusatoError)
    async def furusato_error(request: Request, exc: FurusatoError) -> JSONResponse:
        if not isinstance(exc, ServiceError) and not isinstance(exc, LimitExceededError):
            log.info("refused %s %s: %s", request.method, request.url.path, exc.code)
        return problem_response(request, exc, oauth=bool(OAUTH_PATH.match(request.url.path)))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("path", "query", "body"))
        error = MalformedValueError(
            f"{where or 'request'}: {first.get('msg', 'invalid value')}",
            f"{where or 'リクエスト'} の値が正しくありません",
            path=where or None,
        )
        return problem_response(request, error, oauth=bool(OAUTH_PATH.match(request.url.path)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            error: ServiceError = NotFoundError(
                f"no such page: {request.url.path[:100]}",
                f"ページがありません: {request.url.path[:100]}",
            )
        else:
            error = ServiceError(
                str(exc.detail),
                "リクエストを処理できません",
                status=exc.status_code,
                code=f"http_{exc.status_code}",
            )
        return problem_response(request, error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        error = InternalError(
            "an unexpected error occurred; nothing was changed",
            "予期しないエラーが発生しました。変更は行われていません",
        )
        return problem_response(request, error)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(public.router)
    app.include_router(vcapi.router)
    app.include_router(admin.router)
    app.include_router(pages.router)
    app.mount(
        "/static",
        StaticFiles(directory=str(resources.files("issuer").joinpath("static"))),
        name="static",
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimitMiddleware, max_bytes=svc.settings.max_body_bytes)
    return app


class BodyLimitMiddleware(BodyLimit):
    """``BodyLimit`` under the name Starlette's ``add_middleware`` instantiates."""


def app_from_env() -> FastAPI:
    """The factory for ``uvicorn --factory`` workers: settings from the environment."""
    settings = Settings.from_env()
    secret = resolve_secret(settings, prompt=None)
    return create_app(open_services(settings, secret))
