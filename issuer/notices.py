"""Notices and 手を挙げる (raising a hand): the municipality's signed feed, calls for help.

Staff publish **notices** (DESIGN.md §12): a topic — the Japanese name is the value on the wire
(:data:`TOPICS`, with English labels for display) —, a title and a body in Japanese with
optional English, an optional https link to a public-interest partner service, the tiers the
notice is for (``all``, ``basic``, ``premium``), when it is published and, optionally, when it
expires.  A notice of topic 募集 is a **call for help**: it also has a number of places and a
deadline.  Staff can edit a notice, close a call and withdraw a notice.

The **feed** of a municipality (``GET /lg/{lgCode}/notices``) lists its published notices,
newest first, a page at a time, as a compact JWS signed with the municipality's current key —
the key and header shape of the check-in QR codes (:mod:`issuer.activities`)::

    header  {"alg": "EdDSA", "typ": "furusato-notices+jwt", "kid": <DID URL of the key>}
    payload {"iss": <DID>, "lgCode": "015814", "name": "厚真町", "prefecture": "北海道",
             "url": <this page's URL>, "notices": [<notice>, …], "next": <next page's URL>}

Every tier's notices are in it with their ``audience``: the wallet keeps what its registrations
admit, so the municipality never learns who reads what.  The ETag is a hash of the signing
input (header and payload), so an unchanged page answers 304 without being signed again.

A registrant **raises a hand** for a call by proving its registration (a presentation over a
fresh c_nonce, like check-ins); what is kept is the registration key, the credential it
presented, its tier, the optional message, the time, and when it was withdrawn.  The notice's
row is locked (``FOR UPDATE``; SQLite writers are serialized anyway) while the places are
counted, so concurrent answers cannot overfill a call.  One registration answers a call once:
a second answer is refused (``already_answered``) until the first is withdrawn, which frees its
place.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from did.errors import MalformedValueError
from did.multibase import base64url_encode
from issuer import audit
from issuer.activities import _b64  # the check-in QR's JWS encoding: one way to sign
from issuer.db import Notice, NoticeResponse
from issuer.errors import ForbiddenError, NotFoundError, ServiceError
from issuer.tenants import ActiveKey, TenantInfo
from vc.dates import format_datetime

# The topics, in display order: the Japanese name is the value (the feed, the API, the wallet's
# preferences); the English label is for display.
TOPICS: dict[str, str] = {
    "防災": "Disaster preparedness",
    "イベント": "Events",
    "募集": "Help wanted",
    "子育て": "Child-rearing",
    "移住": "Moving here",
    "特産品": "Local products",
    "お知らせ": "News",
}
CALL_TOPIC = "募集"
AUDIENCES: dict[str, tuple[str, str]] = {
    "all": ("すべての登録者", "all registrants"),
    "basic": ("ベーシック登録の方", "basic registrants"),
    "premium": ("プレミアム登録の方", "premium registrants"),
}
TYP = "furusato-notices+jwt"

TITLE_MAX = 120
TITLE_EN_MAX = 200
BODY_MAX = 4000
BODY_EN_MAX = 8000
LINK_MAX = 2048
MESSAGE_MAX = 500
MAX_PLACES = 10_000
PAGE_DEFAULT = 20
PAGE_MAX = 50
MAX_AHEAD = timedelta(days=366)  # publication and deadlines: at most a year ahead…
MAX_SHOWN = timedelta(days=5 * 366)  # …and a notice shown for at most five years
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOTICE_ID = re.compile(r"[0-9a-f]{16}")
CURSOR = re.compile(r"([0-9]{1,17})\.([0-9a-f]{16})")
# Control characters, and the invisible ones that reorder or hide text (bidi overrides,
# isolates, line/paragraph separators): never in a title, a body or a message.
_HIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_HOST = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


class NoticeRefused(ServiceError):
    """A notice or an answer the rules refuse; ``code`` says which rule."""

    status = 409
    code = "notice_refused"
    title_en = "Refused"
    title_ja = "受け付けられません"


def _refused(code: str, en: str, ja: str, status: int = 409) -> NoticeRefused:
    return NoticeRefused(en, ja, code=code, status=status)


def _invalid(path: str, en: str, ja: str) -> ServiceError:
    return ServiceError(en, ja, path=path, code="notice_invalid")


def not_found() -> NotFoundError:
    return NotFoundError("no such notice", "そのお知らせはありません", code="notice_not_found")


# --- what staff write -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeDraft:
    """A notice as staff write it (the admin API and the console parse into this)."""

    topic: str
    title_ja: str
    body_ja: str
    audience: str = "all"
    title_en: str | None = None
    body_en: str | None = None
    link: str | None = None
    published_at: datetime | None = None  # None: now
    expires_at: datetime | None = None
    places: int | None = None  # calls (募集) only
    deadline: datetime | None = None  # calls (募集) only


def draft_of(row: Notice) -> NoticeDraft:
    return NoticeDraft(
        topic=row.topic,
        title_ja=row.title_ja,
        body_ja=row.body_ja,
        audience=row.audience,
        title_en=row.title_en,
        body_en=row.body_en,
        link=row.link,
        published_at=row.published_at,
        expires_at=row.expires_at,
        places=row.places,
        deadline=row.deadline,
    )


def _text(
    value: object, path: str, limit: int, *, lines: bool, required: bool, what: tuple[str, str]
) -> str | None:
    """Text a person reads: NFC, trimmed, no hidden characters (newlines only where
    ``lines``), 1..``limit`` characters; empty is None unless ``required``."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(path, f"{what[1]}: a string", f"{what[0]}は文字列です")
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n")).strip()
    if not text:
        if required:
            raise _invalid(path, f"{what[1]} is required", f"{what[0]}を入力してください")
        return None
    if _HIDDEN.search(text) or (not lines and ("\n" in text or "\t" in text)):
        raise _invalid(
            path,
            f"{what[1]} contains control characters" + ("" if lines else " (it is one line)"),
            f"{what[0]}に制御文字が含まれています" + ("" if lines else " (1行で入力してください)"),
        )
    if len(text) > limit:
        raise _invalid(
            path,
            f"{what[1]}: at most {limit} characters ({len(text)} given)",
            f"{what[0]}は{limit}文字以内です ({len(text)}文字)",
        )
    return text


def check_link(value: object) -> str | None:
    """An https URL of a public web service (no user name or password in it), or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    bad = _invalid(
        "link",
        "link: an https URL such as https://example.jp/page (no spaces, at most "
        f"{LINK_MAX} characters)",
        f"リンクは https://example.jp/page のような https の URL です (空白なし、{LINK_MAX}文字以内)",
    )
    if not isinstance(value, str):
        raise bad
    link = value.strip()
    if len(link) > LINK_MAX or not link.isascii() or re.search(r"[\s\x00-\x1f\x7f]", link):
        raise bad
    try:
        parts = urlsplit(link)
        port = parts.port  # raises for a bad port
        host = (parts.hostname or "").lower()
    except ValueError:
        raise bad from None
    if parts.scheme.lower() != "https" or parts.username is not None or parts.password is not None:
        raise bad
    if not _HOST.fullmatch(host) or host.endswith((".localhost", ".local")) or port == 0:
        raise bad
    return link


def _places(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PLACES:
        raise _invalid(
            "places",
            f"places: a whole number from 1 to {MAX_PLACES}",
            f"募集人数は1〜{MAX_PLACES}の整数です",
        )
    return value


def check_draft(
    draft: NoticeDraft, *, now: datetime, existing: Notice | None = None
) -> NoticeDraft:
    """The draft with its text normalized, or an error naming the field.  Times that must lie
    ahead (publication within a year, expiry and deadline after now) are checked when they are
    new: an edit may keep a deadline that has passed."""
    if not isinstance(draft.topic, str) or draft.topic not in TOPICS:
        raise _invalid(
            "topic",
            f"topic: one of {', '.join(TOPICS)}",
            f"分類は {', '.join(TOPICS)} のいずれかです",
        )
    if not isinstance(draft.audience, str) or draft.audience not in AUDIENCES:
        raise _invalid(
            "audience",
            "audience: all, basic or premium",
            "対象は all・basic・premium のいずれかです",
        )
    title_ja = _text(
        draft.title_ja, "title.ja", TITLE_MAX, lines=False, required=True, what=("件名", "title")
    )
    body_ja = _text(
        draft.body_ja, "body.ja", BODY_MAX, lines=True, required=True, what=("本文", "body")
    )
    title_en = _text(
        draft.title_en,
        "title.en",
        TITLE_EN_MAX,
        lines=False,
        required=False,
        what=("英語の件名", "the English title"),
    )
    body_en = _text(
        draft.body_en,
        "body.en",
        BODY_EN_MAX,
        lines=True,
        required=False,
        what=("英語の本文", "the English body"),
    )
    published = draft.published_at or now
    if published > now + MAX_AHEAD:
        raise _invalid(
            "publishedAt",
            "publishedAt: at most a year ahead",
            "掲載開始は1年先までです",
        )

    def changed(name: str, value: datetime | None) -> bool:
        return existing is None or getattr(existing, name) != value

    expires = draft.expires_at
    if expires is not None and (
        expires <= published
        or expires > published + MAX_SHOWN
        or (changed("expires_at", expires) and expires <= now)
    ):
        raise _invalid(
            "expiresAt",
            "expiresAt: after the publication and after now, within five years",
            "掲載終了は掲載開始より後、現在より後、5年以内です",
        )
    places, deadline = draft.places, draft.deadline
    if draft.topic == CALL_TOPIC:
        if places is None or deadline is None:
            raise _invalid(
                "places" if places is None else "deadline",
                "a call (募集) needs its number of places and a deadline",
                "募集には募集人数と締切が必要です",
            )
        places = _places(places)
        if (
            deadline <= published
            or deadline > now + MAX_AHEAD
            or (changed("deadline", deadline) and deadline <= now)
            or (expires is not None and deadline > expires)
        ):
            raise _invalid(
                "deadline",
                "deadline: after the publication and after now, within a year, and not after "
                "the notice expires",
                "締切は掲載開始より後、現在より後、1年以内で、掲載終了より前です",
            )
    elif places is not None or deadline is not None:
        raise _invalid(
            "places" if places is not None else "deadline",
            f"places and a deadline are for calls (topic {CALL_TOPIC}) only",
            f"募集人数と締切は分類「{CALL_TOPIC}」のお知らせだけに指定できます",
        )
    if title_ja is None or body_ja is None:  # pragma: no cover - required above
        raise AssertionError("required text")
    return NoticeDraft(
        topic=draft.topic,
        title_ja=title_ja,
        body_ja=body_ja,
        audience=draft.audience,
        title_en=title_en,
        body_en=body_en,
        link=check_link(draft.link),
        published_at=published,
        expires_at=expires,
        places=places,
        deadline=deadline,
    )


def _apply(row: Notice, draft: NoticeDraft) -> None:
    assert draft.published_at is not None
    row.topic = draft.topic
    row.title_ja, row.title_en = draft.title_ja, draft.title_en
    row.body_ja, row.body_en = draft.body_ja, draft.body_en
    row.link = draft.link
    row.audience = draft.audience
    row.published_at = draft.published_at
    row.expires_at = draft.expires_at
    row.places, row.deadline = draft.places, draft.deadline


def new_notice_id() -> str:
    return uuid.uuid4().hex[:16]


def create_notice(
    session: Session,
    tenant: TenantInfo,
    draft: NoticeDraft,
    *,
    now: datetime,
    actor: str,
    new_id: Callable[[], str] = new_notice_id,
) -> Notice:
    checked = check_draft(draft, now=now)
    row = Notice(
        lg_code=tenant.lg_code,
        notice_id=new_id(),
        closed_at=None,
        withdrawn_at=None,
        created_at=now,
        created_by=actor,
        updated_at=now,
        updated_by=actor,
    )
    _apply(row, checked)
    session.add(row)
    session.flush()
    _audit(session, row, "notice.create", now=now, actor=actor)
    return row


def _audit(session: Session, row: Notice, action: str, *, now: datetime, actor: str) -> None:
    """Staff's changes to notices go to the municipality's audit chain (no answer content)."""
    audit.append(
        session,
        row.lg_code,
        at=now,
        actor=actor,
        action=action,
        subject=row.notice_id,
        details={"topic": row.topic, "audience": row.audience},
    )


def get_notice(session: Session, lg_code: str, notice_id: str, *, lock: bool = False) -> Notice:
    """A notice of this municipality (another's answers as one that does not exist)."""
    if not NOTICE_ID.fullmatch(notice_id):
        raise not_found()
    query = select(Notice).where(Notice.lg_code == lg_code, Notice.notice_id == notice_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise not_found()
    return row


def _not_withdrawn(row: Notice) -> None:
    if row.withdrawn_at is not None:
        raise _refused(
            "notice_withdrawn",
            "this notice was withdrawn",
            "このお知らせは取り下げられています",
        )


def update_notice(
    session: Session,
    lg_code: str,
    notice_id: str,
    draft: NoticeDraft,
    *,
    now: datetime,
    actor: str,
) -> Notice:
    """Replace the notice's content with ``draft`` (build it from :func:`draft_of` and the
    changes).  A call keeps its topic while it has answers, and at least as many places."""
    row = get_notice(session, lg_code, notice_id, lock=True)
    _not_withdrawn(row)
    checked = check_draft(draft, now=now, existing=row)
    taken = answers_count(session, lg_code, [notice_id]).get(notice_id, 0)
    if taken and checked.topic != CALL_TOPIC:
        raise _refused(
            "call_has_answers",
            f"this call has {taken} answers: it stays a call (close it instead)",
            f"この募集には {taken} 件の応募があるため、分類は変更できません (締め切ってください)",
        )
    if checked.places is not None and checked.places < taken:
        raise _refused(
            "places_below_answers",
            f"this call already has {taken} answers: places cannot be fewer",
            f"この募集には既に {taken} 件の応募があります。募集人数はそれより少なくできません",
        )
    _apply(row, checked)
    row.updated_at, row.updated_by = now, actor
    _audit(session, row, "notice.update", now=now, actor=actor)
    return row


def close_call(
    session: Session, lg_code: str, notice_id: str, *, now: datetime, actor: str
) -> Notice:
    """No more answers to this call (the answers received stay)."""
    row = get_notice(session, lg_code, notice_id, lock=True)
    _not_withdrawn(row)
    if row.topic != CALL_TOPIC:
        raise _refused(
            "not_a_call", "this notice is not a call (募集)", "このお知らせは募集ではありません"
        )
    if row.closed_at is None:
        row.closed_at = now
        row.updated_at, row.updated_by = now, actor
        _audit(session, row, "notice.close", now=now, actor=actor)
    return row


def withdraw_notice(
    session: Session, lg_code: str, notice_id: str, *, now: datetime, actor: str
) -> Notice:
    """Take the notice out of the feed for good (kept, with its answers, for the records)."""
    row = get_notice(session, lg_code, notice_id, lock=True)
    if row.withdrawn_at is None:
        row.withdrawn_at = now
        row.updated_at, row.updated_by = now, actor
        _audit(session, row, "notice.withdraw", now=now, actor=actor)
    return row


# --- states -----------------------------------------------------------------------------------------


def notice_state(row: Notice, now: datetime) -> str:
    """withdrawn | scheduled | expired | published."""
    if row.withdrawn_at is not None:
        return "withdrawn"
    if row.published_at > now:
        return "scheduled"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "published"


def call_state(row: Notice, taken: int, now: datetime) -> str:
    """open | full | closed (closed by staff, past its deadline, or no longer shown)."""
    if (
        row.closed_at is not None
        or row.deadline is None
        or row.deadline <= now
        or notice_state(row, now) in ("withdrawn", "expired")
    ):
        return "closed"
    return "full" if row.places is not None and taken >= row.places else "open"


def answers_count(session: Session, lg_code: str, notice_ids: Iterable[str]) -> dict[str, int]:
    """Answers not withdrawn, per notice."""
    ids = list(notice_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(NoticeResponse.notice_id, func.count())
        .where(
            NoticeResponse.tenant_id == lg_code,
            NoticeResponse.notice_id.in_(ids),
            NoticeResponse.withdrawn_at.is_(None),
        )
        .group_by(NoticeResponse.notice_id)
    ).all()
    return {notice_id: int(count) for notice_id, count in rows}


# --- the wire shape ---------------------------------------------------------------------------------


def _texts(ja: str, en: str | None) -> dict[str, str]:
    return {"ja": ja, **({"en": en} if en else {})}


def notice_json(row: Notice, taken: int, now: datetime) -> dict[str, Any]:
    """A notice as the feed carries it."""
    item: dict[str, Any] = {
        "id": row.notice_id,
        "topic": row.topic,
        "title": _texts(row.title_ja, row.title_en),
        "body": _texts(row.body_ja, row.body_en),
        "audience": row.audience,
        "publishedAt": format_datetime(row.published_at),
        "updatedAt": format_datetime(row.updated_at),
    }
    if row.link:
        item["link"] = row.link
    if row.expires_at is not None:
        item["expiresAt"] = format_datetime(row.expires_at)
    if row.places is not None and row.deadline is not None:
        item["call"] = {
            "places": row.places,
            "placesLeft": max(0, row.places - taken),
            "deadline": format_datetime(row.deadline),
            "state": call_state(row, taken, now),
        }
    return item


def _iso(value: datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def admin_notice_json(row: Notice, taken: int, now: datetime) -> dict[str, Any]:
    """What staff see of a notice: the feed's shape, its state and history, the answers."""
    item = notice_json(row, taken, now)
    item.update(
        state=notice_state(row, now),
        createdAt=_iso(row.created_at),
        createdBy=row.created_by,
        updatedAt=_iso(row.updated_at),
        updatedBy=row.updated_by,
        closedAt=_iso(row.closed_at),
        withdrawnAt=_iso(row.withdrawn_at),
    )
    if "call" in item:
        item["call"]["answers"] = taken
    return item


def response_json(row: NoticeResponse) -> dict[str, Any]:
    """What staff see of an answer: no name (unless the person wrote one in the message), no
    registration key — the credential it presented, its tier, when."""
    return {
        "id": row.id,
        "noticeId": row.notice_id,
        "answeredAt": format_datetime(row.created_at),
        "tier": row.tier,
        "credentialId": row.credential_id,
        "message": row.message,
        "state": "withdrawn" if row.withdrawn_at is not None else "active",
        "withdrawnAt": _iso(row.withdrawn_at),
    }


# --- paging -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the publication time (µs since 1970) and id of its last notice."""

    published_at: datetime
    notice_id: str

    def text(self) -> str:
        micros = (self.published_at - EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.notice_id}"

    @classmethod
    def of(cls, row: Notice) -> Cursor:
        return cls(row.published_at, row.notice_id)

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        if text is None:
            return None
        match = CURSOR.fullmatch(text)
        if match is None:
            raise MalformedValueError(
                "cursor: the value of a 'next' link, as given",
                "cursor には 'next' のリンクの値をそのまま指定してください",
                path="cursor",
            )
        micros = int(match.group(1))
        return cls(EPOCH + timedelta(microseconds=micros), match.group(2))


def _page(query: Any, cursor: Cursor | None, limit: int) -> Any:
    if cursor is not None:
        query = query.where(
            or_(
                Notice.published_at < cursor.published_at,
                and_(
                    Notice.published_at == cursor.published_at,
                    Notice.notice_id < cursor.notice_id,
                ),
            )
        )
    return query.order_by(Notice.published_at.desc(), Notice.notice_id.desc()).limit(limit + 1)


@dataclass(frozen=True)
class Page:
    rows: list[Notice]
    taken: dict[str, int]
    next: Cursor | None


def _paged(session: Session, lg_code: str, query: Any, cursor: Cursor | None, limit: int) -> Page:
    rows = list(session.execute(_page(query, cursor, limit)).scalars())
    following = Cursor.of(rows[limit - 1]) if len(rows) > limit else None
    rows = rows[:limit]
    return Page(rows, answers_count(session, lg_code, [r.notice_id for r in rows]), following)


def staff_page(
    session: Session, lg_code: str, *, cursor: Cursor | None, limit: int = PAGE_DEFAULT
) -> Page:
    """Every notice of the municipality (scheduled, withdrawn and expired ones too)."""
    return _paged(session, lg_code, select(Notice).where(Notice.lg_code == lg_code), cursor, limit)


def feed_page(
    session: Session,
    lg_code: str,
    *,
    now: datetime,
    cursor: Cursor | None,
    limit: int = PAGE_DEFAULT,
) -> Page:
    """The published notices, newest first: not withdrawn, not scheduled, not expired."""
    query = select(Notice).where(
        Notice.lg_code == lg_code,
        Notice.withdrawn_at.is_(None),
        Notice.published_at <= now,
        or_(Notice.expires_at.is_(None), Notice.expires_at > now),
    )
    return _paged(session, lg_code, query, cursor, limit)


# --- the signed feed --------------------------------------------------------------------------------


def feed_url(tenant: TenantInfo, *, limit: int, cursor: Cursor | None = None) -> str:
    """The canonical URL of a page of the feed (what its ``url`` claim says)."""
    query = f"limit={limit}" + (f"&cursor={cursor.text()}" if cursor is not None else "")
    return f"{tenant.identifier}/notices?{query}"


def feed_claims(
    tenant: TenantInfo, page: Page, *, limit: int, cursor: Cursor | None, now: datetime
) -> dict[str, Any]:
    """The payload of a page of the feed (module docstring)."""
    claims: dict[str, Any] = {
        "iss": tenant.did,
        "lgCode": tenant.lg_code,
        "name": tenant.name,
        "prefecture": tenant.prefecture,
        "url": feed_url(tenant, limit=limit, cursor=cursor),
        "notices": [notice_json(r, page.taken.get(r.notice_id, 0), now) for r in page.rows],
    }
    if page.next is not None:
        claims["next"] = feed_url(tenant, limit=limit, cursor=page.next)
    return claims


@dataclass(frozen=True)
class SignedFeed:
    """A page of the feed: its ETag (of the signing input) and a way to sign it."""

    etag: str
    signing_input: str
    key: ActiveKey

    def jws(self) -> str:
        signature = self.key.signer.sign(self.signing_input.encode("ascii"))
        return f"{self.signing_input}.{base64url_encode(signature)}"


def prepare_feed(key: ActiveKey, claims: Mapping[str, Any]) -> SignedFeed:
    """The JWS of the check-in QR codes' shape over ``claims`` (signed on :meth:`jws`)."""
    header = {"alg": key.signer.alg, "typ": TYP, "kid": key.verification_method}
    signing_input = f"{_b64(header)}.{_b64(dict(claims))}"
    digest = hashlib.sha256(signing_input.encode("ascii")).hexdigest()[:32]
    # Weak: the same content signed again is the same feed, though an ES256 signature differs.
    return SignedFeed(f'W/"{digest}"', signing_input, key)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: ``*`` or any listed tag equal under weak comparison."""
    if not if_none_match:
        return False
    opaque = etag.removeprefix("W/")
    for candidate in if_none_match[:4096].split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == opaque:
            return True
    return False


# --- 手を挙げる ---------------------------------------------------------------------------------------


def check_message(value: object) -> str | None:
    return _text(
        value,
        "message",
        MESSAGE_MAX,
        lines=True,
        required=False,
        what=("メッセージ", "the message"),
    )


def admits(audience: str, tier: str) -> bool:
    return audience == "all" or audience == tier


def _answerable(row: Notice, tier: str, now: datetime) -> None:
    """Refuse an answer to a notice that is not an open call for this tier."""
    if notice_state(row, now) == "scheduled":
        raise not_found()  # not public yet: as if it did not exist
    _not_withdrawn(row)
    if row.topic != CALL_TOPIC or row.places is None or row.deadline is None:
        raise _refused(
            "not_a_call",
            "this notice is not a call for help (募集): there is nothing to answer",
            "このお知らせは募集ではないため、手を挙げることはできません",
        )
    if not admits(row.audience, tier):
        ja, en = AUDIENCES[row.audience]
        raise ForbiddenError(
            f"this call is for {en} only",
            f"この募集は{ja}が対象です",
            code="audience_not_admitted",
        )
    if row.closed_at is not None or notice_state(row, now) == "expired":
        raise _refused("call_closed", "this call is closed", "この募集は締め切られました")
    if row.deadline <= now:
        raise _refused(
            "call_deadline_passed",
            "the deadline of this call has passed",
            "この募集の締切を過ぎています",
        )


def _active_answer(
    session: Session, lg_code: str, notice_id: str, holder_did: str
) -> NoticeResponse | None:
    return session.execute(
        select(NoticeResponse).where(
            NoticeResponse.tenant_id == lg_code,
            NoticeResponse.notice_id == notice_id,
            NoticeResponse.holder_did == holder_did,
            NoticeResponse.withdrawn_at.is_(None),
        )
    ).scalar_one_or_none()


def _already() -> NoticeRefused:
    return _refused(
        "already_answered",
        "you have already raised your hand for this call (withdraw it first to answer again)",
        "この募集には既に手を挙げています (もう一度応募するには、先に取り消してください)",
    )


@dataclass(frozen=True)
class Answered:
    response: NoticeResponse
    places_left: int


def raise_hand(
    session: Session,
    lg_code: str,
    notice_id: str,
    *,
    holder_did: str,
    credential_id: str,
    tier: str,
    message: object,
    now: datetime,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> Answered:
    """Record the answer of the registration ``holder_did`` (already proven by the caller) to
    an open call, under a lock on the notice: full, closed, past its deadline, for another
    tier, or answered already are refused."""
    text = check_message(message)
    row = get_notice(session, lg_code, notice_id, lock=True)
    _answerable(row, tier, now)
    assert row.places is not None
    if _active_answer(session, lg_code, notice_id, holder_did) is not None:
        raise _already()
    taken = answers_count(session, lg_code, [notice_id]).get(notice_id, 0)
    if taken >= row.places:
        raise _refused(
            "call_full",
            f"this call is full: all {row.places} places are taken",
            f"この募集は定員 ({row.places} 名) に達しました",
        )
    response = NoticeResponse(
        tenant_id=lg_code,
        id=new_id(),
        notice_id=notice_id,
        holder_did=holder_did,
        credential_id=credential_id,
        tier=tier,
        message=text,
        created_at=now,
        withdrawn_at=None,
    )
    try:
        with session.begin_nested():
            session.add(response)
    except IntegrityError:  # the partial unique index: one answer per registration
        raise _already() from None
    return Answered(response, row.places - taken - 1)


def withdraw_hand(
    session: Session, lg_code: str, notice_id: str, *, holder_did: str, now: datetime
) -> Answered:
    """Withdraw the registration's answer: its place is free again."""
    row = get_notice(session, lg_code, notice_id, lock=True)
    if notice_state(row, now) == "scheduled":
        raise not_found()
    response = _active_answer(session, lg_code, notice_id, holder_did)
    if response is None:
        raise NotFoundError(
            "you have not raised your hand for this call",
            "この募集には手を挙げていません",
            code="no_answer",
        )
    response.withdrawn_at = now
    session.flush()
    taken = answers_count(session, lg_code, [notice_id]).get(notice_id, 0)
    return Answered(response, max(0, (row.places or 0) - taken))


def responses_of(session: Session, lg_code: str, notice_id: str) -> list[NoticeResponse]:
    """The answers to a notice of this municipality, in the order they came."""
    get_notice(session, lg_code, notice_id)
    return list(
        session.execute(
            select(NoticeResponse)
            .where(NoticeResponse.tenant_id == lg_code, NoticeResponse.notice_id == notice_id)
            .order_by(NoticeResponse.created_at, NoticeResponse.id)
        ).scalars()
    )


__all__ = [
    "AUDIENCES",
    "CALL_TOPIC",
    "TOPICS",
    "Answered",
    "Cursor",
    "NoticeDraft",
    "NoticeRefused",
    "Page",
    "SignedFeed",
    "admin_notice_json",
    "check_draft",
    "close_call",
    "create_notice",
    "draft_of",
    "feed_claims",
    "feed_page",
    "get_notice",
    "notice_json",
    "prepare_feed",
    "raise_hand",
    "response_json",
    "responses_of",
    "staff_page",
    "update_notice",
    "withdraw_hand",
    "withdraw_notice",
]
