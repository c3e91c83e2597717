"""The admin console's notice pages: the list with the form of a new notice, one notice with
its answers, edit, close a call, withdraw.

The conventions of the premium pages (:mod:`issuer.api.premium_pages`): the token in the
HttpOnly ``fvc_admin`` cookie, a CSRF token in every form, Japanese first with English under
it, no JavaScript, nothing from elsewhere; times are typed and shown in Japan time.  Each route
parses, calls :mod:`issuer.notices` and renders; the role needs the ``notices`` permission.
A refusal shows the page again with the message in both languages and its stable code
(``data-code``) at the error's 4xx status, the form keeping what was typed; an action that
succeeds answers 303 to the notice's page with ``?done=…`` (POST, redirect, GET).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from did.errors import FurusatoError, MalformedValueError
from issuer import notices
from issuer.api.common import services
from issuer.api.pages import FORM, _csrf
from issuer.api.premium_pages import (
    JST,
    _error,
    _jst,
    _local_time,
    console_html,
    console_refusal,
    console_staff,
)
from issuer.auth import Principal
from issuer.bootstrap import Services
from issuer.notices import Cursor, NoticeDraft
from issuer.tenants import TenantInfo, get_tenant
from shellkit.web import status_of

router = APIRouter(include_in_schema=False)

STATES: dict[str, tuple[str, str]] = {
    "published": ("掲載中", "published"),
    "scheduled": ("掲載予定", "scheduled"),
    "expired": ("掲載終了", "expired"),
    "withdrawn": ("取り下げ済み", "withdrawn"),
}
CALL_STATES: dict[str, tuple[str, str]] = {
    "open": ("受付中", "open"),
    "full": ("定員に達しました", "full"),
    "closed": ("締切", "closed"),
}
DONE: dict[str, tuple[str, str]] = {
    "created": (
        "お知らせを公開しました。掲載開始の時刻から住民のウォレットに届きます。",
        "The notice was published; residents' wallets get it from its publication time.",
    ),
    "updated": ("お知らせを更新しました。", "The notice was updated."),
    "closed": (
        "募集を締め切りました。受け付けた応募はそのまま残ります。",
        "The call was closed; the answers received stay.",
    ),
    "withdrawn": (
        "お知らせを取り下げました。フィードから削除されました。",
        "The notice was withdrawn: it is no longer in the feed.",
    ),
}
TIERS: dict[str, tuple[str, str]] = {
    "basic": ("ベーシック", "basic"),
    "premium": ("プレミアム", "premium"),
}
FORM_FIELDS = (
    "topic",
    "audience",
    "title_ja",
    "title_en",
    "body_ja",
    "body_en",
    "link",
    "published_at",
    "expires_at",
    "places",
    "deadline",
)
LOCAL = "%Y-%m-%dT%H:%M"

LABELS: dict[str, Any] = {
    "topics": notices.TOPICS,
    "audiences": notices.AUDIENCES,
    "states": STATES,
    "call_states": CALL_STATES,
    "tiers": TIERS,
    "call_topic": notices.CALL_TOPIC,
    "limits": {
        "title": notices.TITLE_MAX,
        "title_en": notices.TITLE_EN_MAX,
        "body": notices.BODY_MAX,
        "body_en": notices.BODY_EN_MAX,
        "link": notices.LINK_MAX,
        "places": notices.MAX_PLACES,
    },
    "jst": _jst,
}


# --- shared by the pages ------------------------------------------------------------------------


def _done(done: str | None) -> dict[str, Any] | None:
    if done not in DONE:
        return None
    ja, en = DONE[done]
    return {"error": False, "ja": ja, "en": en, "code": done}


def _html(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return console_html(request, name, context, status, labels=LABELS)


def _refusal(request: Request, error: FurusatoError) -> HTMLResponse:
    return console_refusal(request, error, labels=LABELS)


def _see(notice_id: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/notices/{notice_id}?done={done}", status_code=303)


def _staff(svc: Services, request: Request) -> Principal:
    return console_staff(svc, request, "notices")


def _acting(svc: Services, request: Request, form: dict[str, str]) -> Principal:
    return console_staff(svc, request, "notices", form)


def _context(svc: Services, who: Principal, tenant: TenantInfo) -> dict[str, Any]:
    return {"tenant": tenant, "role": who.role, "csrf": _csrf(svc, who), "section": "notices"}


def _local(value: datetime | None) -> str:
    return value.astimezone(JST).strftime(LOCAL) if value is not None else ""


def form_of(draft: NoticeDraft) -> dict[str, str]:
    """A notice's values as its edit form shows them (times in Japan time, to the minute)."""
    return {
        "topic": draft.topic,
        "audience": draft.audience,
        "title_ja": draft.title_ja,
        "title_en": draft.title_en or "",
        "body_ja": draft.body_ja,
        "body_en": draft.body_en or "",
        "link": draft.link or "",
        "published_at": _local(draft.published_at),
        "expires_at": _local(draft.expires_at),
        "places": str(draft.places) if draft.places is not None else "",
        "deadline": _local(draft.deadline),
    }


def _time(form: Mapping[str, str], name: str, kept: datetime | None) -> datetime | None:
    """An optional ``datetime-local`` field in Japan time; the stored time when the field
    still shows it (the form has minutes, the notice may have seconds)."""
    text = form.get(name, "").strip()
    if not text:
        return None
    if kept is not None and text == _local(kept):
        return kept
    return _local_time(form, name)


def draft_from_form(form: Mapping[str, str], base: NoticeDraft | None = None) -> NoticeDraft:
    """The console's form as a draft (the values are checked by the domain).  Places and the
    deadline are read for a call (募集) only: the fields stay on the form for other topics."""
    topic = form.get("topic", "")
    places: int | None = None
    deadline: datetime | None = None
    if topic == notices.CALL_TOPIC:
        text = form.get("places", "").strip()
        if text:
            if not text.isdigit() or len(text) > 6:
                raise MalformedValueError(
                    "places: a whole number", "募集人数は整数で入力してください", path="places"
                )
            places = int(text)
        deadline = _time(form, "deadline", base.deadline if base else None)
    return NoticeDraft(
        topic=topic,
        title_ja=form.get("title_ja", ""),
        body_ja=form.get("body_ja", ""),
        audience=form.get("audience", ""),
        title_en=form.get("title_en", ""),
        body_en=form.get("body_en", ""),
        link=form.get("link", ""),
        published_at=_time(form, "published_at", base.published_at if base else None),
        expires_at=_time(form, "expires_at", base.expires_at if base else None),
        places=places,
        deadline=deadline,
    )


def _kept(form: Mapping[str, str]) -> dict[str, str]:
    return {k: form.get(k, "") for k in FORM_FIELDS}


# --- the list and a new notice --------------------------------------------------------------------


def _list(
    request: Request,
    svc: Services,
    who: Principal,
    *,
    cursor: str | None = None,
    message: dict[str, Any] | None = None,
    status: int = 200,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    now = svc.clock()
    with svc.db.read() as session:
        tenant = get_tenant(session, who.lg_code)
        page = notices.staff_page(session, who.lg_code, cursor=Cursor.parse(cursor), limit=50)
    rows = [notices.admin_notice_json(r, page.taken.get(r.notice_id, 0), now) for r in page.rows]
    return _html(
        request,
        "admin_notices.html",
        {
            **_context(svc, who, tenant),
            "notices": rows,
            "next": page.next.text() if page.next is not None else None,
            "first_page": cursor is None,
            "message": message,
            "form": form or {"audience": "all"},
        },
        status,
    )


@router.get("/admin/notices", response_class=HTMLResponse)
def list_page(request: Request, cursor: str | None = None) -> HTMLResponse:
    svc = services(request)
    try:
        who = _staff(svc, request)
        if cursor is not None and not notices.CURSOR.fullmatch(cursor):
            raise MalformedValueError(
                "cursor: the value of the link to older notices",
                "cursor には「以前のお知らせ」のリンクの値を指定してください",
                path="cursor",
            )
        return _list(request, svc, who, cursor=cursor)
    except FurusatoError as exc:
        return _refusal(request, exc)


@router.post("/admin/notices")
def create_action(request: Request, form: dict[str, str] = FORM) -> Response:
    svc = services(request)
    try:
        who = _acting(svc, request, form)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        draft = draft_from_form(form)
        with svc.db.transaction() as session:
            tenant = get_tenant(session, who.lg_code)
            row = notices.create_notice(session, tenant, draft, now=svc.clock(), actor=who.actor)
            notice_id = row.notice_id
    except FurusatoError as exc:
        try:
            return _list(
                request, svc, who, message=_error(exc), status=status_of(exc), form=_kept(form)
            )
        except FurusatoError:
            return _refusal(request, exc)
    return _see(notice_id, "created")


# --- one notice -----------------------------------------------------------------------------------


def _detail(
    request: Request,
    svc: Services,
    who: Principal,
    notice_id: str,
    *,
    message: dict[str, Any] | None = None,
    status: int = 200,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    now = svc.clock()
    with svc.db.read() as session:
        tenant = get_tenant(session, who.lg_code)
        row = notices.get_notice(session, who.lg_code, notice_id)
        answers = notices.responses_of(session, who.lg_code, notice_id)
        taken = sum(1 for a in answers if a.withdrawn_at is None)
        notice = notices.admin_notice_json(row, taken, now)
        values = form_of(notices.draft_of(row))
    return _html(
        request,
        "admin_notices_detail.html",
        {
            **_context(svc, who, tenant),
            "notice": notice,
            "answers": [notices.response_json(a) for a in answers],
            "message": message,
            "form": form or values,
        },
        status,
    )


def _refused_action(
    request: Request,
    svc: Services,
    who: Principal,
    notice_id: str,
    error: FurusatoError,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The notice again with the refusal on it (or the refusal alone if there is none)."""
    try:
        return _detail(
            request, svc, who, notice_id, message=_error(error), status=status_of(error), form=form
        )
    except FurusatoError:
        return _refusal(request, error)


@router.get("/admin/notices/{notice_id}", response_class=HTMLResponse)
def notice_page(request: Request, notice_id: str, done: str | None = None) -> HTMLResponse:
    svc = services(request)
    try:
        who = _staff(svc, request)
        return _detail(request, svc, who, notice_id, message=_done(done))
    except FurusatoError as exc:
        return _refusal(request, exc)


def _checked(svc: Services, request: Request, form: dict[str, str], notice_id: str) -> Principal:
    who = _acting(svc, request, form)
    with svc.db.read() as session:
        notices.get_notice(session, who.lg_code, notice_id)  # another's: as if none
    return who


@router.post("/admin/notices/{notice_id}/edit")
def edit_action(request: Request, notice_id: str, form: dict[str, str] = FORM) -> Response:
    svc = services(request)
    try:
        who = _checked(svc, request, form, notice_id)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        with svc.db.transaction() as session:
            base = notices.draft_of(notices.get_notice(session, who.lg_code, notice_id))
            draft = draft_from_form(form, base)
            notices.update_notice(
                session, who.lg_code, notice_id, draft, now=svc.clock(), actor=who.actor
            )
    except FurusatoError as exc:
        return _refused_action(request, svc, who, notice_id, exc, _kept(form))
    return _see(notice_id, "updated")


@router.post("/admin/notices/{notice_id}/close")
def close_action(request: Request, notice_id: str, form: dict[str, str] = FORM) -> Response:
    svc = services(request)
    try:
        who = _checked(svc, request, form, notice_id)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        with svc.db.transaction() as session:
            notices.close_call(session, who.lg_code, notice_id, now=svc.clock(), actor=who.actor)
    except FurusatoError as exc:
        return _refused_action(request, svc, who, notice_id, exc)
    return _see(notice_id, "closed")


@router.post("/admin/notices/{notice_id}/withdraw")
def withdraw_action(request: Request, notice_id: str, form: dict[str, str] = FORM) -> Response:
    svc = services(request)
    try:
        who = _checked(svc, request, form, notice_id)
    except FurusatoError as exc:
        return _refusal(request, exc)
    try:
        if form.get("confirm") != "1":
            raise notices.NoticeRefused(
                "tick the box to confirm: a withdrawn notice cannot be published again",
                "確認のチェックを入れてください。取り下げたお知らせは再び公開できません",
                path="confirm",
                code="confirm_required",
                status=400,
            )
        with svc.db.transaction() as session:
            notices.withdraw_notice(
                session, who.lg_code, notice_id, now=svc.clock(), actor=who.actor
            )
    except FurusatoError as exc:
        return _refused_action(request, svc, who, notice_id, exc)
    return _see(notice_id, "withdrawn")


__all__ = ["CALL_STATES", "STATES", "draft_from_form", "form_of", "router"]
