"""``furusato-verifier serve``: the scanner app of a verifying device (a tablet at a counter).

Pages (Japanese; ``?lang=en`` for English):

* ``/`` — scan: the camera (the browser's ``BarcodeDetector`` where it exists, otherwise
  frames sent to ``/api/verify-image`` and decoded here with zxing), a photo upload and a
  paste box; the result fills the screen: a big ✓ or ✗, municipality, tier, valid until and
  the reason.  Interactive mode shows a challenge (text and QR) for the wallet to sign.
  Without JavaScript the same form posts to ``/verify`` and gets a result page.
* ``/cache`` — when the registry and the status lists were last synced.

API (JSON; errors are problem+json):

* ``POST /api/verify`` ``{"payload": "FR1:…", "challenge": "…"}`` → the result; the payload
  may also be the compact text of a ``vc+jwt``, ``vp+jwt`` or SD-JWT VC;
* ``POST /api/verify-image`` (an image body, PNG/JPEG/…) → the result, or 422
  ``qr_not_found``;
* ``POST /api/challenge`` → ``{"challenge", "expiresAt", "qr"}``: single use, valid for the
  policy's window;
* ``GET /api/cache`` → the cache summary.

OpenID4VP 1.0 (docs/oid4vp.md; the online case: a wallet on a phone answers over the network):

* ``/oid4vp`` — the page: a button makes a request, its QR is shown, the result appears when the
  wallet has answered (the page polls);
* ``POST /oid4vp/requests`` (optional JSON ``{"formats": [...], "claims": [[...], ...]}``) →
  ``{"id", "uri", "qr", "expiresAt", "statusUrl"}``: a transaction with a fresh nonce and state;
* ``POST /oid4vp/response`` — the wallet's ``direct_post`` (form: ``vp_token``, ``state``) →
  200 ``{}`` when verified; a refused presentation, an unknown or expired ``state`` or a second
  response to the same request → 400 problem+json with a code;
* ``GET /oid4vp/requests/{id}`` → the transaction's status and, once answered, the result.

It serves the verifying device itself: ``serve`` binds to 127.0.0.1 unless told otherwise.
Nothing from a QR code is logged.
"""

from __future__ import annotations

import base64
import io
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import segno
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from did.errors import FurusatoError, LimitExceededError, MalformedValueError
from did.jsonio import Limits, load_json
from shellkit.qrimage import read_one_qr_bytes
from shellkit.web import (
    PROBLEM_JSON,
    ASGIApp,
    BodyLimit,
    Receive,
    Scope,
    SecurityHeaders,
    Send,
    prefers_english,
    problem_body,
    problem_response,
    status_of,
)
from vc import envelope, formats, oid4vp
from vc.dates import format_datetime
from vc.result import VerificationResult, failed, from_error
from verifier import check as checking
from verifier import oid4vp as oid4vp_verifier
from verifier.cache import VerifierCache
from verifier.display import (
    Summary,
    age_lines,
    ago,
    cache_summary,
    check_line,
    headline,
    jst,
)
from verifier.policy import Policy

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_BODY = 8 * 1024 * 1024  # a phone photo of a QR code
MAX_PAYLOAD = 64 * 1024
MAX_CHALLENGES = 1000
MAX_OID4VP_RESPONSE = 2 * 1024 * 1024  # a form-encoded vp_token (oid4vp.MAX_VP_TOKEN_BYTES)
OID4VP_MIN_LIFETIME = timedelta(minutes=5)  # time to open the wallet, scan, choose, consent
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp")


class WebError(FurusatoError):
    code = "bad_request"
    title_en = "Bad request"
    title_ja = "リクエストが正しくありません"

    def __init__(self, message_en: str, message_ja: str, *, status: int, code: str) -> None:
        super().__init__(message_en, message_ja, code=code)
        self.http_status = status


class Challenges:
    """Challenges handed out in interactive mode: random, single use, short-lived."""

    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self._issued: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def issue(self, now: datetime) -> tuple[str, datetime]:
        challenge = secrets.token_urlsafe(12)
        expires = now + self.lifetime
        with self._lock:
            self._issued = {c: t for c, t in self._issued.items() if t > now}
            if len(self._issued) >= MAX_CHALLENGES:
                oldest = min(self._issued, key=self._issued.__getitem__)
                del self._issued[oldest]
            self._issued[challenge] = expires
        return challenge, expires

    def take(self, challenge: str, now: datetime) -> bool:
        """True once for a challenge we issued that has not expired."""
        with self._lock:
            expires = self._issued.pop(challenge, None)
        return expires is not None and expires > now


@dataclass
class Verifier:
    """What the app holds: the cache, the policy, the clock, the challenges."""

    cache: VerifierCache
    policy: Policy
    clock: Callable[[], datetime]
    challenges: Challenges

    def verify(self, payload: str, challenge: str | None) -> VerificationResult:
        now = self.clock()
        if challenge is not None and not self.challenges.take(challenge, now):
            return VerificationResult.of(
                [
                    failed(
                        "challenge",
                        "challenge_mismatch",
                        "この確認コードは期限切れか使用済みです。新しいコードを表示してください",
                        "this challenge has expired or was used; show a new one",
                    )
                ]
            )
        try:
            registry = self.cache.registry(now)
        except FurusatoError as exc:
            return VerificationResult.of([from_error("registry", exc)])
        return checking.check(
            payload,
            qr=True,
            policy=self.policy,
            now=now,
            registry=registry,
            status_lists=self.cache,
            replay=self.cache,
            challenge=challenge,
        )


def result_json(result: VerificationResult, now: datetime, cache: VerifierCache) -> dict[str, Any]:
    """The result for the page: headline, summary, reasons and warnings in both languages."""
    failures = list(result.errors)
    return {
        "verified": result.verified,
        "headline": {"ja": headline(result, "ja"), "en": headline(result, "en")},
        "summary": Summary.from_result(result).to_json(),
        "reasons": [
            {"code": c.code, "ja": check_line(c, "ja"), "en": check_line(c, "en")} for c in failures
        ],
        "warnings": [
            {"code": w.code, "ja": w.message("ja"), "en": w.message("en")} for w in result.warnings
        ],
        "cache": {"ja": age_lines(cache.age(), now, "ja"), "en": age_lines(cache.age(), now, "en")},
        "result": result.to_json(),
    }


def oid4vp_result_json(
    outcome: oid4vp.ResponseVerification, now: datetime, cache: VerifierCache
) -> dict[str, Any]:
    """An OpenID4VP outcome for the page: the overall verdict, the response's own failed
    checks, and per presentation what :func:`result_json` says plus the claims it disclosed."""
    return {
        "verified": outcome.verified,
        "codes": outcome.codes,
        "reasons": [
            {"code": c.code, "ja": c.message("ja"), "en": c.message("en")}
            for c in outcome.checks
            if not c.ok
        ],
        "credentials": [_presented_json(p, now, cache) for p in outcome.presentations],
    }


def _presented_json(
    presented: oid4vp.PresentedCredential, now: datetime, cache: VerifierCache
) -> dict[str, Any]:
    out = result_json(presented.result, now, cache)
    out["reasons"] += [
        {"code": c.code, "ja": c.message("ja"), "en": c.message("en")}
        for c in presented.checks
        if not c.ok
    ]
    out |= {
        "id": presented.query_id,
        "format": presented.format,
        "verified": presented.verified,
        "claims": dict(presented.claims) if presented.claims is not None else None,
    }
    return out


def _dcql_of(options: object) -> dict[str, Any]:
    """The DCQL query of the page's request body: ``formats`` (default: all three) and
    ``claims`` (paths of the SD-JWT VC claims; default: tier and lgCode)."""
    if not isinstance(options, dict) or not set(options) <= {"formats", "claims"}:
        raise MalformedValueError(
            'send {"formats": [...], "claims": [[...], ...]}',
            '{"formats": [...], "claims": [[...], ...]} を送ってください',
        )
    fmts = options.get("formats", list(oid4vp.FORMATS))
    claims = options.get("claims", [list(p) for p in oid4vp.DEFAULT_CLAIMS])
    if not isinstance(fmts, list) or not isinstance(claims, list):
        raise MalformedValueError("formats and claims are arrays", "formats と claims は配列です")
    if not all(isinstance(p, list) for p in claims):
        raise MalformedValueError("each claim is a path (an array)", "各クレームはパス (配列) です")
    return oid4vp.furusato_dcql_query(fmts, claims=claims)


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "ja"


def _payload_from(value: object) -> str:
    """The text a holder shows: a QR payload (``FR1:``, ``FRJ:``) or the compact text of a
    ``vc+jwt``, ``vp+jwt`` or SD-JWT VC (docs/formats.md)."""
    if not isinstance(value, str) or not value.strip():
        raise WebError(
            "give the QR payload (text starting with FR1: or FRJ:, or a vc+jwt, vp+jwt or "
            "SD-JWT VC)",
            "QR データ (FR1: または FRJ: で始まるテキスト、または vc+jwt・vp+jwt・SD-JWT VC) を"
            "入力してください",
            status=400,
            code="payload_missing",
        )
    text = value.strip()
    if len(text) > MAX_PAYLOAD:
        raise LimitExceededError("the payload is too long", "QR データが長すぎます")
    if (
        not text.startswith((envelope.PROFILE_PREFIX, envelope.GENERIC_PREFIX))
        and formats.compact_kind(text) is None
    ):
        raise WebError(
            "not a QR payload (text starting with FR1: or FRJ:, or a vc+jwt, vp+jwt or SD-JWT VC)",
            "QR データではありません (FR1: または FRJ: で始まるテキスト、または vc+jwt・vp+jwt・"
            "SD-JWT VC)",
            status=400,
            code="not_a_payload",
        )
    return text


def _decode_image(data: bytes) -> str:
    if not data:
        raise WebError("the image is empty", "画像が空です", status=400, code="image_missing")
    try:
        return read_one_qr_bytes(data)
    except FurusatoError as exc:
        raise WebError(exc.message_en, exc.message_ja, status=422, code="qr_not_found") from None


def _challenge_of(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise MalformedValueError("challenge: must be the text shown", "challenge が不正です")
    return value


def create_app(
    cache: VerifierCache,
    policy: Policy,
    *,
    clock: Callable[[], datetime],
    allowed_hosts: Sequence[str] = LOCAL_HOSTS,
    public_url: str | None = None,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
) -> FastAPI:
    """The app; ``allowed_hosts`` are the Host headers it answers (DNS rebinding: a web page
    elsewhere must not reach the device's verifier through a name that points here).
    ``public_url`` is where wallets reach it (its OpenID4VP ``response_uri`` is under it; by
    default the URL the page was loaded from — https, or http on loopback for tests)."""
    app = FastAPI(
        title="furusato-vc verifier",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    state = Verifier(cache, policy, clock, Challenges(policy.window))
    app.state.verifier = state
    transactions = oid4vp_verifier.Transactions(max(policy.window, OID4VP_MIN_LIFETIME))
    app.state.oid4vp = transactions
    templates = Jinja2Templates(directory=str(resources.files("verifier").joinpath("templates")))
    templates.env.filters["jst"] = jst  # times as people here read them (DESIGN §13)

    def page(request: Request, name: str, **context: Any) -> HTMLResponse:
        lang = _lang(request)
        now = clock()
        registry = None
        try:
            registry = cache.registry(now)
        except FurusatoError:
            registry = None
        return templates.TemplateResponse(
            request,
            name,
            {
                "lang": lang,
                "ja": lang == "ja",
                "policy": policy,
                "synced": registry is not None,
                "stale": registry is not None and registry.is_stale(now),
                "age": age_lines(cache.age(), now, lang),
                **context,
            },
            headers={"Cache-Control": "no-store"},
        )

    @app.exception_handler(FurusatoError)
    async def furusato_error(request: Request, exc: FurusatoError) -> Response:
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        error = MalformedValueError("the request is not valid", "リクエストが正しくありません")
        return problem_response(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error = WebError(
            f"no such page: {request.url.path[:100]}"
            if exc.status_code == 404
            else str(exc.detail),
            f"ページがありません: {request.url.path[:100]}"
            if exc.status_code == 404
            else "リクエストを処理できません",
            status=exc.status_code,
            code="not_found" if exc.status_code == 404 else f"http_{exc.status_code}",
        )
        return problem_response(request, error)

    @app.get("/", response_class=HTMLResponse)
    def scan_page(request: Request) -> HTMLResponse:
        return page(request, "scan.html", outcome=None)

    @app.post("/verify", response_class=HTMLResponse)
    async def verify_form(request: Request) -> HTMLResponse:
        """The form without JavaScript: payload text or an image file; a result page."""
        form = await request.form(max_files=1, max_fields=4)
        image = form.get("image")
        challenge = _challenge_of(form.get("challenge"))
        try:
            if isinstance(image, UploadFile) and image.filename:
                payload = _decode_image(await image.read(MAX_BODY + 1))
            else:
                payload = _payload_from(form.get("payload"))
        except FurusatoError as exc:
            return page(request, "scan.html", outcome=None, problem=exc)
        result = state.verify(payload, challenge)
        return page(request, "scan.html", outcome=result_json(result, clock(), cache))

    @app.post("/api/verify")
    async def verify_api(request: Request) -> JSONResponse:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":  # a cross-site form cannot send this without asking
            raise WebError(
                "send the body as application/json",
                "本文は application/json で送ってください",
                status=415,
                code="unsupported_media_type",
            )
        body = load_json(await request.body(), Limits(max_bytes=MAX_PAYLOAD * 2, max_depth=4))
        if not isinstance(body, dict):
            raise MalformedValueError("send a JSON object", "JSON オブジェクトを送ってください")
        payload = _payload_from(body.get("payload"))
        result = state.verify(payload, _challenge_of(body.get("challenge")))
        return JSONResponse(
            result_json(result, clock(), cache), headers={"Cache-Control": "no-store"}
        )

    @app.post("/api/verify-image")
    async def verify_image(request: Request) -> JSONResponse:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in IMAGE_TYPES:
            raise WebError(
                "send the image as image/png or image/jpeg",
                "画像は image/png か image/jpeg で送ってください",
                status=415,
                code="unsupported_media_type",
            )
        payload = _decode_image(await request.body())
        result = state.verify(payload, _challenge_of(request.query_params.get("challenge")))
        return JSONResponse(
            result_json(result, clock(), cache), headers={"Cache-Control": "no-store"}
        )

    @app.post("/api/challenge")
    def new_challenge() -> JSONResponse:
        challenge, expires = state.challenges.issue(clock())
        buffer = io.BytesIO()
        segno.make(challenge, error="m").save(buffer, kind="svg", scale=6, border=2)
        qr = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
        return JSONResponse(
            {"challenge": challenge, "expiresAt": format_datetime(expires), "qr": qr},
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/cache", response_class=HTMLResponse)
    def cache_page(request: Request) -> HTMLResponse:
        now = clock()
        try:
            registry = cache.registry(now)
        except FurusatoError:
            registry = None
        age = cache.age()
        return page(
            request,
            "cache.html",
            summary=cache_summary(cache, age, registry, now),
            registry_age=ago(age.registry_fetched, now, _lang(request)),
            oldest_list_age=ago(age.oldest_list, now, _lang(request)),
            lists=age.lists,
        )

    @app.get("/api/cache")
    def cache_api() -> JSONResponse:
        now = clock()
        registry = cache.registry(now)
        return JSONResponse(cache_summary(cache, cache.age(), registry, now))

    @app.get("/oid4vp", response_class=HTMLResponse)
    def oid4vp_page(request: Request) -> HTMLResponse:
        return page(request, "oid4vp.html")

    @app.post("/oid4vp/requests", status_code=201)
    async def oid4vp_request(request: Request) -> JSONResponse:
        body = await request.body()
        options: object = {}
        if body:
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                raise WebError(
                    "send the body as application/json",
                    "本文は application/json で送ってください",
                    status=415,
                    code="unsupported_media_type",
                )
            options = load_json(body, Limits(max_bytes=4096, max_depth=4, max_nodes=256))
        query = _dcql_of(options)
        base = (public_url or str(request.base_url)).rstrip("/")
        now = clock()
        tx = transactions.create(
            base + "/oid4vp/response",
            query,
            now=now,
            random_bytes=random_bytes,
            unsafe_allow_http_loopback=True,
        )
        uri = tx.request.to_uri()
        buffer = io.BytesIO()
        segno.make(uri, error="l", micro=False).save(buffer, kind="png", scale=4, border=4)
        qr = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
        return JSONResponse(
            {
                "id": tx.id,
                "uri": uri,
                "qr": qr,
                "expiresAt": format_datetime(tx.expires_at),
                "statusUrl": f"/oid4vp/requests/{tx.id}",
            },
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @app.post("/oid4vp/response")
    async def oid4vp_response(request: Request) -> JSONResponse:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            raise WebError(
                "send the response as application/x-www-form-urlencoded (direct_post)",
                "応答は application/x-www-form-urlencoded で送ってください (direct_post)",
                status=415,
                code="unsupported_media_type",
            )
        body = await request.body()
        if len(body) > MAX_OID4VP_RESPONSE:
            raise LimitExceededError("the response is too large", "応答が大きすぎます")
        try:
            pairs = parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=True,
                max_num_fields=oid4vp.MAX_FORM_FIELDS,
            )
        except (ValueError, UnicodeDecodeError):
            raise oid4vp.InvalidResponseError(
                "the form is not well-formed", "フォームの形式が不正です"
            ) from None
        response = oid4vp.parse_response(pairs)
        now = clock()
        tx = transactions.take(response.state, now)
        outcome = oid4vp_verifier.verify_with_cache(
            tx.request, response, cache=cache, policy=policy, now=now
        )
        tx.outcome = outcome
        if not outcome.verified:
            error = oid4vp.InvalidResponseError(
                "the presentation was not accepted: " + ", ".join(outcome.codes),
                "提示を受け付けられませんでした: " + ", ".join(outcome.codes),
                code="oid4vp_presentation_refused",
            )
            status = status_of(error)
            payload = problem_body(error, status, english=prefers_english(request))
            payload["codes"] = outcome.codes
            return JSONResponse(
                payload,
                status_code=status,
                headers={"Cache-Control": "no-store"},
                media_type=PROBLEM_JSON,
            )
        return JSONResponse({}, headers={"Cache-Control": "no-store"})

    @app.get("/oid4vp/requests/{tid}")
    def oid4vp_status(tid: str) -> JSONResponse:
        now = clock()
        tx = transactions.get(tid[:64], now)
        answer: dict[str, Any] = {
            "id": tx.id,
            "status": tx.status(now),
            "createdAt": format_datetime(tx.created_at),
            "expiresAt": format_datetime(tx.expires_at),
        }
        if tx.outcome is not None:
            answer["result"] = oid4vp_result_json(tx.outcome, now, cache)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.mount(
        "/static",
        StaticFiles(directory=str(resources.files("verifier").joinpath("static"))),
        name="static",
    )
    # The camera needs the page's permission; nothing else is allowed.
    app.add_middleware(SecurityHeaders, csp=CSP)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_BODY)
    app.add_middleware(HostCheck, allowed=frozenset(allowed_hosts))
    return app


CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)


class HostCheck:
    """Answer only requests whose Host header is one of ``allowed`` (``"*"``: any)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "*" not in self.allowed:
            host = Headers(scope=scope).get("host", "")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.allowed:
                error = WebError(
                    "this verifier answers only on this device (Host not allowed)",
                    "この確認アプリはこの端末からのみ使えます (Host が許可されていません)",
                    status=400,
                    code="host_not_allowed",
                )
                await problem_response(Request(scope), error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware(BodyLimit):
    """``BodyLimit`` under the name Starlette's ``add_middleware`` instantiates."""


def default_clock() -> datetime:
    return datetime.now(UTC)


def run(
    cache_dir: Path, policy: Policy, *, host: str, port: int, public_url: str | None = None
) -> None:
    # Listening on every address (a LAN tablet): any Host; otherwise loopback names and the
    # address given.
    hosts = ["*"] if host in ("0.0.0.0", "::") else [*LOCAL_HOSTS, host]  # noqa: S104
    app = create_app(
        VerifierCache(cache_dir),
        policy,
        clock=default_clock,
        allowed_hosts=hosts,
        public_url=public_url,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
