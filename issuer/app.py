"""The issuer service as an ASGI app: ``create_app(services)``.

The app is stateless apart from the database: run N uvicorn workers behind any load balancer
(DESIGN.md §11).  ``app_from_env`` is the factory uvicorn's workers call.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from did.errors import FurusatoError, LimitExceededError, MalformedValueError
from issuer.activities import MAX_DOCUMENT
from issuer.api import admin, notices_pages, pages, premium, premium_pages, public, vcapi
from issuer.api import notices as notices_api
from issuer.api import stats as stats_api
from issuer.api.common import problem_response
from issuer.bootstrap import Services, open_services, resolve_secret
from issuer.errors import InternalError, NotFoundError, ServiceError
from issuer.settings import Settings
from shellkit.web import BodyLimit, SecurityHeaders

log = logging.getLogger("furusato.issuer")

OAUTH_PATH = re.compile(r"^/lg/[^/]+/(token|credential|nonce|renewal)$")
# reviewed documents (staff upload, up to 10 MB: issuer.activities.MAX_DOCUMENT)
DOCUMENT_PATH = re.compile(
    r"^/admin(/api/premium/applications/[^/]+/documents|/premium/[^/]+/document)$"
)
DOCUMENT_BODY_LIMIT = MAX_DOCUMENT + 64 * 1024


def _respond(request: Request, error: FurusatoError) -> JSONResponse:
    return problem_response(request, error, oauth=bool(OAUTH_PATH.match(request.url.path)))


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
    app.include_router(premium.router)
    app.include_router(premium.admin_router)
    app.include_router(premium_pages.router)
    app.include_router(notices_api.router)
    app.include_router(notices_api.admin_router)
    app.include_router(notices_pages.router)
    app.include_router(stats_api.router)
    app.include_router(stats_api.admin_router)
    app.include_router(stats_api.national_router)
    app.include_router(pages.router)
    app.mount(
        "/static",
        StaticFiles(directory=str(resources.files("issuer").joinpath("static"))),
        name="static",
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=svc.settings.max_body_bytes,
        respond=_respond,
        larger=((DOCUMENT_PATH, DOCUMENT_BODY_LIMIT),),
    )
    return app


class BodyLimitMiddleware(BodyLimit):
    """``BodyLimit`` under the name Starlette's ``add_middleware`` instantiates."""


def app_from_env() -> FastAPI:
    """The factory for ``uvicorn --factory`` workers: settings from the environment."""
    settings = Settings.from_env()
    secret = resolve_secret(settings, prompt=None)
    return create_app(open_services(settings, secret))
