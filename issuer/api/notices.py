"""Notices and 手を挙げる over HTTP (docs/notices.md).

Everyone:

* ``GET /lg/{lg}/notices?limit=&cursor=`` — a page of the municipality's signed feed
  (``application/jwt``: a compact JWS, :mod:`issuer.notices`), newest first; ``ETag`` and
  ``If-None-Match`` → 304.

Registrants (the wallet), proving their registration with a presentation over a fresh
c_nonce — the way check-ins and premium applications do:

* ``POST /lg/{lg}/notices/{id}/responses`` ``{"presentation": VP, "message": "…"}`` → 201, the
  hand raised;
* ``POST /lg/{lg}/notices/{id}/responses/withdraw`` ``{"presentation": VP}`` → the answer
  withdrawn, its place free.

Staff (admin API, bearer token with the ``notices`` permission: roles staff and admin):
list, create, read, edit (``PATCH``), close a call, withdraw a notice, read the answers.  The
console pages are in :mod:`issuer.api.notices_pages`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from did.errors import MalformedValueError
from issuer import notices, oid4vci
from issuer.api.admin import principal
from issuer.api.common import json_body, services
from issuer.api.public import LgCode
from issuer.auth import Principal
from issuer.bootstrap import Services
from issuer.errors import ServiceError
from issuer.notices import Cursor, NoticeDraft
from issuer.tenants import active_key, get_tenant
from vc.dates import format_datetime, parse_datetime
from vc.furusato import RESIDENT_CREDENTIAL_TYPE

router = APIRouter(tags=["notices"])
admin_router = APIRouter(prefix="/admin/api", tags=["admin"])
JSON_BODY = Depends(json_body)
NoticeId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$", description="お知らせの ID / notice id")]
LIMIT = Query(
    notices.PAGE_DEFAULT,
    ge=1,
    le=notices.PAGE_MAX,
    description="1ページの件数 / notices per page",
)
CURSOR = Query(
    None,
    max_length=40,
    pattern=f"^{notices.CURSOR.pattern}$",
    description="前のページの next の値 / from the previous page's next link",
)

_TEXTS = {
    "type": "object",
    "properties": {
        "ja": {"type": "string", "maxLength": notices.BODY_MAX},
        "en": {"type": ["string", "null"], "maxLength": notices.BODY_EN_MAX},
    },
    "additionalProperties": False,
}
NOTICE_SCHEMA = {
    "type": "object",
    "properties": {
        "topic": {"type": "string", "enum": list(notices.TOPICS)},
        "title": _TEXTS,
        "body": _TEXTS,
        "link": {"type": ["string", "null"], "maxLength": notices.LINK_MAX},
        "audience": {"type": "string", "enum": list(notices.AUDIENCES)},
        "publishedAt": {"type": ["string", "null"], "format": "date-time"},
        "expiresAt": {"type": ["string", "null"], "format": "date-time"},
        "call": {
            "type": ["object", "null"],
            "properties": {
                "places": {"type": "integer", "minimum": 1, "maximum": notices.MAX_PLACES},
                "deadline": {"type": "string", "format": "date-time"},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
NOTICE_FIELDS = frozenset(
    ("topic", "title", "body", "link", "audience", "publishedAt", "expiresAt", "call")
)
NOTICE_BODY = {"content": {"application/json": {"schema": NOTICE_SCHEMA}}, "required": True}
ANSWER_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "presentation": {"type": "object"},
                    "message": {"type": ["string", "null"], "maxLength": notices.MESSAGE_MAX},
                },
                "required": ["presentation"],
                "additionalProperties": False,
            }
        }
    },
    "required": True,
}
WITHDRAW_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"presentation": {"type": "object"}},
                "required": ["presentation"],
                "additionalProperties": False,
            }
        }
    },
    "required": True,
}


# --- the feed -------------------------------------------------------------------------------------


@router.get(
    "/lg/{lg_code}/notices",
    operation_id="notices_feed",
    summary="お知らせ (署名付きフィード) / The municipality's notices, signed",
    responses={
        200: {
            "description": "A compact JWS (typ furusato-notices+jwt)",
            "content": {"application/jwt": {"schema": {"type": "string"}}},
        },
        304: {"description": "Not modified (If-None-Match)"},
    },
)
def feed(
    request: Request, lg_code: LgCode, limit: int = LIMIT, cursor: str | None = CURSOR
) -> Response:
    svc = services(request)
    now = svc.clock()
    after = Cursor.parse(cursor)
    with svc.db.read() as session:
        tenant = get_tenant(session, lg_code)
        page = notices.feed_page(session, lg_code, now=now, cursor=after, limit=limit)
        claims = notices.feed_claims(tenant, page, limit=limit, cursor=after, now=now)
        key = active_key(session, svc.ring, tenant)
    prepared = notices.prepare_feed(key, claims)
    headers = {"ETag": prepared.etag, "Cache-Control": "public, max-age=60"}
    if notices.etag_matches(request.headers.get("if-none-match"), prepared.etag):
        return Response(status_code=304, headers=headers)
    return Response(prepared.jws(), media_type="application/jwt", headers=headers)


# --- 手を挙げる ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """The registration a presentation proved: its key, the credential, the tier."""

    holder: str
    credential_id: str
    tier: str


def _registration(svc: Services, lg_code: str, body: Any, now: datetime) -> Registration:
    """A resident credential of this municipality (not revoked or suspended: the status lists
    are checked), presented by its subject over a fresh c_nonce for our identifier."""
    credential = oid4vci.presented_credential(svc, lg_code, body=body, now=now)
    types = credential.get("type")
    subject = credential.get("credentialSubject")
    holder = subject.get("id") if isinstance(subject, dict) else None
    tier = subject.get("registrationTier") if isinstance(subject, dict) else None
    credential_id = credential.get("id")
    if not (
        isinstance(types, list)
        and RESIDENT_CREDENTIAL_TYPE in types
        and isinstance(holder, str)
        and isinstance(tier, str)
        and tier in notices.AUDIENCES
        and isinstance(credential_id, str)
    ):
        raise ServiceError(
            "present your registration (a FurusatoResidentCredential of this municipality)",
            "この自治体の登録証明書 (FurusatoResidentCredential) を提示してください",
            code="registration_required",
            status=403,
        )
    return Registration(holder, credential_id, str(tier))


def _answer_body(body: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) - allowed or "presentation" not in body:
        shape = '{"presentation": <VP>' + (', "message": "…"}' if "message" in allowed else "}")
        raise MalformedValueError(
            f"send {shape}", f"{shape.replace('<VP>', '<提示>')} を送ってください"
        )
    return body


@router.post(
    "/lg/{lg_code}/notices/{notice_id}/responses",
    status_code=201,
    operation_id="notice_raise_hand",
    summary="募集に手を挙げる / Raise your hand for a call",
    openapi_extra={"requestBody": ANSWER_BODY},
)
def raise_hand(
    request: Request, lg_code: LgCode, notice_id: NoticeId, body: Any = JSON_BODY
) -> JSONResponse:
    svc = services(request)
    now = svc.clock()
    fields = _answer_body(body, {"presentation", "message"})
    notices.check_message(fields.get("message"))  # before the c_nonce is used up
    who = _registration(svc, lg_code, fields, now)
    with svc.db.transaction() as session:
        answered = notices.raise_hand(
            session,
            lg_code,
            notice_id,
            holder_did=who.holder,
            credential_id=who.credential_id,
            tier=who.tier,
            message=fields.get("message"),
            now=now,
        )
        answer = {
            "noticeId": notice_id,
            "responseId": answered.response.id,
            "answeredAt": format_datetime(answered.response.created_at),
            "placesLeft": answered.places_left,
        }
    return JSONResponse(answer, status_code=201, headers={"Cache-Control": "no-store"})


@router.post(
    "/lg/{lg_code}/notices/{notice_id}/responses/withdraw",
    operation_id="notice_withdraw_hand",
    summary="手を挙げたのを取り消す / Withdraw your answer to a call",
    openapi_extra={"requestBody": WITHDRAW_BODY},
)
def withdraw_hand(
    request: Request, lg_code: LgCode, notice_id: NoticeId, body: Any = JSON_BODY
) -> JSONResponse:
    svc = services(request)
    now = svc.clock()
    who = _registration(svc, lg_code, _answer_body(body, {"presentation"}), now)
    with svc.db.transaction() as session:
        withdrawn = notices.withdraw_hand(
            session, lg_code, notice_id, holder_did=who.holder, now=now
        )
        answer = {
            "noticeId": notice_id,
            "responseId": withdrawn.response.id,
            "withdrawnAt": format_datetime(now),
            "placesLeft": withdrawn.places_left,
        }
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


# --- staff: the admin API ---------------------------------------------------------------------------


def _staff(svc: Services, request: Request) -> Principal:
    return principal(svc, request, "notices")


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise MalformedValueError(f"{path}: a string", f"{path} は文字列です", path=path)
    return value


def _optional_string(value: object, path: str) -> str | None:
    return None if value is None else _string(value, path)


def _time(value: object, path: str) -> datetime | None:
    return None if value is None else parse_datetime(value, path)


def _texts(value: object, path: str, ja: str, en: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) - {"ja", "en"}:
        raise MalformedValueError(
            f'{path}: {{"ja": "…", "en": "…"}} (en optional)',
            f'{path} は {{"ja": "…", "en": "…"}} です (en は省略可)',
            path=path,
        )
    out: dict[str, Any] = {}
    if "ja" in value:
        out[ja] = _string(value["ja"], f"{path}.ja")
    if "en" in value:
        out[en] = _optional_string(value["en"], f"{path}.en")
    return out


def draft_from_json(body: Any, base: NoticeDraft | None = None) -> NoticeDraft:
    """The admin API's notice (docs/notices.md) as a draft: a whole notice when ``base`` is
    None (create), else the members given replace those of ``base`` (PATCH).  Types are
    checked here; the values by :func:`issuer.notices.check_draft`."""
    allowed = NOTICE_FIELDS
    if not isinstance(body, dict) or set(body) - allowed:
        raise MalformedValueError(
            f"send a JSON object with {', '.join(sorted(allowed))}",
            f"{', '.join(sorted(allowed))} を持つ JSON オブジェクトを送ってください",
        )
    changes: dict[str, Any] = {}
    for name in ("topic", "audience"):
        if name in body:
            changes[name] = _string(body[name], name)
    if "title" in body:
        changes.update(_texts(body["title"], "title", "title_ja", "title_en"))
    if "body" in body:
        changes.update(_texts(body["body"], "body", "body_ja", "body_en"))
    if "link" in body:
        changes["link"] = _optional_string(body["link"], "link")
    if "publishedAt" in body:
        changes["published_at"] = _time(body["publishedAt"], "publishedAt")
    if "expiresAt" in body:
        changes["expires_at"] = _time(body["expiresAt"], "expiresAt")
    if "call" in body:
        call = body["call"]
        if call is None:
            changes.update(places=None, deadline=None)
        elif isinstance(call, dict) and set(call) <= {"places", "deadline"}:
            places = call.get("places")
            if places is not None and (isinstance(places, bool) or not isinstance(places, int)):
                raise MalformedValueError(
                    "call.places: a whole number", "call.places は整数です", path="call.places"
                )
            changes.update(places=places, deadline=_time(call.get("deadline"), "call.deadline"))
        else:
            raise MalformedValueError(
                'call: {"places": n, "deadline": "…"} or null',
                'call は {"places": 人数, "deadline": "…"} または null です',
                path="call",
            )
    return replace(base or NoticeDraft(topic="", title_ja="", body_ja=""), **changes)


@admin_router.get(
    "/notices", operation_id="admin_notices", summary="お知らせの一覧 / The notices, newest first"
)
def admin_notices(
    request: Request, limit: int = LIMIT, cursor: str | None = CURSOR
) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    now = svc.clock()
    with svc.db.read() as session:
        page = notices.staff_page(session, who.lg_code, cursor=Cursor.parse(cursor), limit=limit)
    items = [notices.admin_notice_json(r, page.taken.get(r.notice_id, 0), now) for r in page.rows]
    body: dict[str, Any] = {"notices": items}
    if page.next is not None:
        body["next"] = page.next.text()
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _one(svc: Services, lg_code: str, notice_id: str) -> dict[str, Any]:
    now = svc.clock()
    with svc.db.read() as session:
        row = notices.get_notice(session, lg_code, notice_id)
        taken = notices.answers_count(session, lg_code, [notice_id]).get(notice_id, 0)
        return notices.admin_notice_json(row, taken, now)


@admin_router.post(
    "/notices",
    status_code=201,
    operation_id="admin_create_notice",
    summary="お知らせを公開する / Publish a notice",
    openapi_extra={"requestBody": NOTICE_BODY},
)
def admin_create_notice(request: Request, body: Any = JSON_BODY) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    draft = draft_from_json(body)
    with svc.db.transaction() as session:
        tenant = get_tenant(session, who.lg_code)
        row = notices.create_notice(session, tenant, draft, now=svc.clock(), actor=who.actor)
        notice_id = row.notice_id
    return JSONResponse(
        _one(svc, who.lg_code, notice_id), status_code=201, headers={"Cache-Control": "no-store"}
    )


@admin_router.get(
    "/notices/{notice_id}", operation_id="admin_notice", summary="お知らせ / One notice"
)
def admin_notice(request: Request, notice_id: NoticeId) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    return JSONResponse(_one(svc, who.lg_code, notice_id), headers={"Cache-Control": "no-store"})


@admin_router.patch(
    "/notices/{notice_id}",
    operation_id="admin_update_notice",
    summary="お知らせを編集する / Edit a notice (the members given replace the old ones)",
    openapi_extra={"requestBody": NOTICE_BODY},
)
def admin_update_notice(
    request: Request, notice_id: NoticeId, body: Any = JSON_BODY
) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    with svc.db.transaction() as session:
        row = notices.get_notice(session, who.lg_code, notice_id)
        draft = draft_from_json(body, notices.draft_of(row))
        notices.update_notice(
            session, who.lg_code, notice_id, draft, now=svc.clock(), actor=who.actor
        )
    return JSONResponse(_one(svc, who.lg_code, notice_id), headers={"Cache-Control": "no-store"})


@admin_router.post(
    "/notices/{notice_id}/close",
    operation_id="admin_close_notice",
    summary="募集を締め切る / Close a call",
)
def admin_close_notice(request: Request, notice_id: NoticeId) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    with svc.db.transaction() as session:
        notices.close_call(session, who.lg_code, notice_id, now=svc.clock(), actor=who.actor)
    return JSONResponse(_one(svc, who.lg_code, notice_id), headers={"Cache-Control": "no-store"})


@admin_router.post(
    "/notices/{notice_id}/withdraw",
    operation_id="admin_withdraw_notice",
    summary="お知らせを取り下げる / Withdraw a notice",
)
def admin_withdraw_notice(request: Request, notice_id: NoticeId) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    with svc.db.transaction() as session:
        notices.withdraw_notice(session, who.lg_code, notice_id, now=svc.clock(), actor=who.actor)
    return JSONResponse(_one(svc, who.lg_code, notice_id), headers={"Cache-Control": "no-store"})


@admin_router.get(
    "/notices/{notice_id}/responses",
    operation_id="admin_notice_responses",
    summary="募集への応募 (手を挙げた人) / The answers to a call",
)
def admin_notice_responses(request: Request, notice_id: NoticeId) -> JSONResponse:
    svc = services(request)
    who = _staff(svc, request)
    with svc.db.read() as session:
        rows = notices.responses_of(session, who.lg_code, notice_id)
        body = {
            "noticeId": notice_id,
            "active": sum(1 for r in rows if r.withdrawn_at is None),
            "responses": [notices.response_json(r) for r in rows],
        }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


__all__ = ["admin_router", "draft_from_json", "router"]
