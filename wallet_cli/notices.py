"""The wallet's side of notices and 手を挙げる (docs/notices.md).

* **Feeds.**  Every municipality the wallet holds a usable registration of publishes its
  notices at ``<issuer>/notices`` as a compact JWS (``typ`` ``furusato-notices+jwt``).  A page
  is kept only when, in this order: its header is ours (``alg``, ``typ``, ``kid`` and nothing
  else), ``kid`` is a key of **the municipality's DID as the wallet's credential names it**,
  listed under ``assertionMethod`` of its DID document (a revoked key is under none) — the way
  check-in QR codes are checked —, the algorithm is the key's, the signature verifies; then
  the payload, parsed strictly within bounds, names the same DID, lgCode and page URL.  A page
  that fails any of it is refused with the reason; the other municipalities' feeds are still
  shown.  The ETag of the first page is kept with what it verified to, and sent back as
  ``If-None-Match`` (304: the kept notices are shown).
* **Preferences.**  The topics the resident wants are stored in the sealed wallet only; every
  feed is fetched whole and filtered here, so the municipality learns nothing of them.  Notices
  for a tier the wallet does not hold are not shown either.
* **手を挙げる.**  An answer to a call (topic 募集) proves the registration with a presentation
  over the issuer's c_nonce (as check-ins do); withdrawing does the same.

Text from a feed is made safe to print (control characters and bidi overrides removed) before
it reaches the terminal.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from did.document import public_key_from_verification_method
from did.errors import FurusatoError, LimitExceededError
from did.jsonio import Limits, load_json
from did.keys import PublicKey
from did.multibase import base64url_decode
from did.resolver import Resolver
from vc.dates import parse_datetime
from wallet_cli import client
from wallet_cli.store import StoredCredential, Wallet, WalletError

JST = timezone(timedelta(hours=9), "JST")
FEED_TYP = "furusato-notices+jwt"
FEED_ALGS = ("EdDSA", "ES256")
MAX_FEED_BYTES = 2 * 1024 * 1024
MAX_HEADER_BYTES = 2048
MAX_PAGES = 5
PAGE_LIMIT = 50
MAX_NOTICES_PER_PAGE = 100
MAX_TEXT = 8000
MAX_TITLE = 200
MAX_LINK = 2048
MESSAGE_MAX = 500
_PAYLOAD_LIMITS = Limits(max_bytes=MAX_FEED_BYTES, max_depth=6, max_nodes=50_000)
_HEADER_LIMITS = Limits(max_bytes=MAX_HEADER_BYTES, max_depth=2, max_nodes=16)
_NOTICE_ID = re.compile(r"[0-9a-f]{16}")
_LG_CODE = re.compile(r"[0-9]{6}")
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# The topics as municipalities publish them (the Japanese name is the value), with an English
# label and the ASCII name ``prefs --topics`` also accepts.
TOPICS: dict[str, tuple[str, str]] = {
    "防災": ("Disaster preparedness", "disaster"),
    "イベント": ("Events", "events"),
    "募集": ("Help wanted", "help-wanted"),
    "子育て": ("Child-rearing", "childcare"),
    "移住": ("Moving here", "moving"),
    "特産品": ("Local products", "products"),
    "お知らせ": ("News", "news"),
}
CALL_TOPIC = "募集"
AUDIENCES: dict[str, tuple[str, str]] = {
    "all": ("すべての登録者", "all registrants"),
    "basic": ("ベーシック登録の方", "basic registrants"),
    "premium": ("プレミアム登録の方", "premium registrants"),
}
CALL_STATES: dict[str, tuple[str, str]] = {
    "open": ("受付中", "open"),
    "full": ("定員に達しました", "full"),
    "closed": ("締切", "closed"),
}


def _malformed(en: str, ja: str) -> WalletError:
    return WalletError(
        f"the notices feed is malformed: {en}",
        f"お知らせのフィードの形式が正しくありません: {ja}",
        code="feed_malformed",
    )


def _untrusted(code: str, en: str, ja: str) -> WalletError:
    return WalletError(
        f"the notices feed is not the municipality's: {en}",
        f"お知らせのフィードが自治体のものと確認できません: {ja}",
        code=code,
    )


def safe(text: str, limit: int = MAX_TEXT, *, lines: bool = False) -> str:
    """Feed text made safe for a terminal: no control characters, no bidi overrides."""
    cleaned = _UNSAFE.sub(" ", text.replace("\r\n", "\n"))
    if not lines:
        cleaned = cleaned.replace("\n", " ").replace("\t", " ")
    return cleaned[:limit]


# --- the feed's wire format ----------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    places: int
    places_left: int
    deadline: datetime
    state: str  # open | full | closed


@dataclass(frozen=True)
class FeedNotice:
    """One notice of a feed, as parsed (docs/notices.md)."""

    id: str
    topic: str
    title_ja: str
    title_en: str | None
    body_ja: str
    body_en: str | None
    audience: str
    published_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    link: str | None = None
    call: Call | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def title(self, lang: str) -> str:
        return safe(self.title_en if lang == "en" and self.title_en else self.title_ja, MAX_TITLE)

    def body(self, lang: str) -> str:
        return safe(self.body_en if lang == "en" and self.body_en else self.body_ja, lines=True)


@dataclass(frozen=True)
class FeedPage:
    issuer: str
    lg_code: str
    name: str
    prefecture: str
    url: str
    notices: list[FeedNotice]
    next: str | None


@dataclass(frozen=True)
class UnverifiedFeed:
    """A page split and its header read; nothing checked against keys (:func:`verify_feed`)."""

    alg: str
    kid: str
    signing_input: bytes
    signature: bytes
    payload: str


def _string(value: object, name: str, limit: int, *, empty: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or (not value and not empty):
        raise _malformed(f"{name!r} is not valid text", f"{name!r} が正しい文字列ではありません")
    return value


def _time(value: object, name: str) -> datetime:
    try:
        return parse_datetime(value, name)
    except FurusatoError:
        raise _malformed(f"{name!r} is not a time", f"{name!r} が日時ではありません") from None


def _count(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _malformed(f"{name!r} is not a valid number", f"{name!r} が正しい数ではありません")
    return value


def _texts(value: object, name: str, limit: int) -> tuple[str, str | None]:
    if not isinstance(value, dict) or "ja" not in value:
        raise _malformed(f"{name!r} has no Japanese text", f"{name!r} に日本語がありません")
    english = value.get("en")
    return (
        _string(value["ja"], f"{name}.ja", limit),
        None if english is None else _string(english, f"{name}.en", limit),
    )


def parse_notice(value: object) -> FeedNotice:
    """One notice of a feed (or of the wallet's cache), strictly."""
    if not isinstance(value, dict):
        raise _malformed("a notice is not an object", "お知らせがオブジェクトではありません")
    notice_id = _string(value.get("id"), "id", 16)
    if not _NOTICE_ID.fullmatch(notice_id):
        raise _malformed("a notice id is not valid", "お知らせの ID が正しくありません")
    audience = value.get("audience")
    if not isinstance(audience, str) or audience not in AUDIENCES:
        raise _malformed("an unknown audience", "対象が不明です")
    title_ja, title_en = _texts(value.get("title"), "title", MAX_TITLE)
    body_ja, body_en = _texts(value.get("body"), "body", MAX_TEXT)
    link = value.get("link")
    if link is not None:
        link = _string(link, "link", MAX_LINK)
        if (
            not link.startswith("https://")
            or _UNSAFE.search(link)
            or any(c.isspace() for c in link)
        ):
            raise _malformed("a link is not https", "リンクが https ではありません")
    expires = value.get("expiresAt")
    call: Call | None = None
    if value.get("call") is not None:
        raw = value["call"]
        if not isinstance(raw, dict) or not isinstance(raw.get("state"), str):
            raise _malformed("a call is not valid", "募集の内容が正しくありません")
        if raw["state"] not in CALL_STATES:
            raise _malformed("a call is not valid", "募集の内容が正しくありません")
        places = _count(raw.get("places"), "call.places", 1, 1_000_000)
        call = Call(
            places,
            _count(raw.get("placesLeft"), "call.placesLeft", 0, places),
            _time(raw.get("deadline"), "call.deadline"),
            str(raw["state"]),
        )
    return FeedNotice(
        id=notice_id,
        topic=_string(value.get("topic"), "topic", 16),
        title_ja=title_ja,
        title_en=title_en,
        body_ja=body_ja,
        body_en=body_en,
        audience=str(audience),
        published_at=_time(value.get("publishedAt"), "publishedAt"),
        updated_at=_time(value.get("updatedAt"), "updatedAt"),
        expires_at=None if expires is None else _time(expires, "expiresAt"),
        link=link,
        call=call,
        raw=value,
    )


def split_feed(text: str | bytes) -> UnverifiedFeed:
    """A page of a feed as served: a compact JWS of at most 2 MiB, strict base64url, our
    header (``alg``, ``typ`` furusato-notices+jwt, ``kid`` — nothing else)."""
    if len(text) > MAX_FEED_BYTES:
        raise LimitExceededError(
            "the notices feed is too large", "お知らせのフィードが大きすぎます"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise _malformed("not ASCII text", "ASCII テキストではありません") from None
    if not text.isascii():
        raise _malformed("not ASCII text", "ASCII テキストではありません")
    parts = text.strip(" \t\r\n").split(".")
    if len(parts) != 3 or not all(parts) or len(parts[0]) > MAX_HEADER_BYTES:
        raise _malformed("not a compact JWS", "JWS の形式ではありません")
    try:
        header = load_json(base64url_decode(parts[0], max_length=MAX_HEADER_BYTES), _HEADER_LIMITS)
        signature = base64url_decode(parts[2], max_length=512)
    except FurusatoError:
        raise _malformed(
            "the header or signature is not base64url",
            "ヘッダーまたは署名が base64url ではありません",
        ) from None
    if (
        not isinstance(header, dict)
        or set(header) != {"alg", "typ", "kid"}
        or header["typ"] != FEED_TYP
        or not isinstance(header["alg"], str)
        or not isinstance(header["kid"], str)
        or len(header["kid"]) > 2048
    ):
        raise _malformed("unexpected header", "ヘッダーが正しくありません")
    return UnverifiedFeed(
        header["alg"],
        header["kid"],
        f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature,
        parts[1],
    )


def parse_feed_payload(payload: str | bytes) -> FeedPage:
    """The payload of a page (base64url text, or its decoded bytes), strictly and within
    bounds.  Data from outside: anything wrong is a ``WalletError``."""
    try:
        data = (
            base64url_decode(payload, max_length=MAX_FEED_BYTES)
            if isinstance(payload, str)
            else payload
        )
        claims = load_json(data, _PAYLOAD_LIMITS)
    except FurusatoError:
        raise _malformed(
            "the payload is not bounded JSON", "内容が上限内の JSON ではありません"
        ) from None
    if not isinstance(claims, dict):
        raise _malformed("the payload is not an object", "内容がオブジェクトではありません")
    issuer = _string(claims.get("iss"), "iss", 2048)
    lg_code = _string(claims.get("lgCode"), "lgCode", 6)
    if not issuer.startswith("did:") or not _LG_CODE.fullmatch(lg_code):
        raise _malformed(
            "'iss' or 'lgCode' is not valid", "'iss' または 'lgCode' が正しくありません"
        )
    items = claims.get("notices")
    if not isinstance(items, list) or len(items) > MAX_NOTICES_PER_PAGE:
        raise _malformed(
            "'notices' is not a list of notices", "'notices' がお知らせのリストではありません"
        )
    following = claims.get("next")
    return FeedPage(
        issuer=issuer,
        lg_code=lg_code,
        name=_string(claims.get("name"), "name", 64),
        prefecture=_string(claims.get("prefecture"), "prefecture", 16),
        url=_string(claims.get("url"), "url", 2048),
        notices=[parse_notice(item) for item in items],
        next=None if following is None else _string(following, "next", 2048),
    )


def key_resolver(resolver: Resolver) -> Callable[[str], PublicKey]:
    """``kid`` → the key, which must be an assertion method of its DID (a revoked key is under
    none, so a page it signed is refused)."""

    def key_for(kid: str) -> PublicKey:
        try:
            return public_key_from_verification_method(resolver.dereference(kid, "assertionMethod"))
        except FurusatoError as exc:
            raise _untrusted(
                "feed_signature_invalid",
                f"its key cannot be found ({exc.message_en})",
                f"署名の鍵が見つかりません ({exc.message_ja})",
            ) from None

    return key_for


def verify_feed(
    unverified: UnverifiedFeed,
    *,
    key_for: Callable[[str], PublicKey],
    issuer: str,
    lg_code: str,
    url: str,
    allowed_algs: tuple[str, ...] = FEED_ALGS,
) -> FeedPage:
    """The page, if the municipality ``issuer`` signed it for ``url`` (module docstring)."""
    did, _, fragment = unverified.kid.partition("#")
    if did != issuer or not fragment:
        raise _untrusted(
            "feed_wrong_issuer",
            "it was signed with a key of someone else",
            "別の者の鍵で署名されています",
        )
    if unverified.alg not in allowed_algs:
        raise _untrusted(
            "feed_signature_invalid",
            f"algorithm {unverified.alg[:20]!r} is not allowed",
            f"アルゴリズム {unverified.alg[:20]!r} は使えません",
        )
    key = key_for(unverified.kid)
    if key.alg != unverified.alg:
        raise _untrusted(
            "feed_signature_invalid",
            "the algorithm is not the key's",
            "アルゴリズムが鍵と一致しません",
        )
    try:
        key.verify(unverified.signature, unverified.signing_input)
    except FurusatoError:
        raise _untrusted(
            "feed_signature_invalid",
            "the signature does not verify (it was changed on the way, or signed by another key)",
            "署名を確認できません (途中で書き換えられたか、別の鍵で署名されています)",
        ) from None
    page = parse_feed_payload(unverified.payload)
    if page.issuer != issuer or page.lg_code != lg_code or page.url != url:
        raise _untrusted(
            "feed_mismatch",
            "it is signed for another municipality or another page",
            "別の自治体またはページのために署名されています",
        )
    return page


# --- what the wallet holds -----------------------------------------------------------------------


@dataclass(frozen=True)
class Membership:
    """A municipality the wallet is registered with: where its issuer is, its DID, the tiers
    of the usable registrations held."""

    lg_code: str
    issuer: str
    issuer_url: str
    name: str
    prefecture: str
    tiers: frozenset[str]

    @property
    def feed_url(self) -> str:
        return f"{self.issuer_url.rstrip('/')}/notices?limit={PAGE_LIMIT}"

    def label(self, lang: str) -> str:
        return (
            f"{self.name} ({self.prefecture})" if lang == "en" else f"{self.prefecture}{self.name}"
        )


def memberships(
    credentials: Iterable[StoredCredential],
    *,
    summary: Callable[[StoredCredential], Mapping[str, Any]],
    issuer_of: Callable[[StoredCredential], str | None],
    usable: Callable[[StoredCredential], bool],
) -> list[Membership]:
    """The municipalities of the usable registrations (resident credentials not known to be
    revoked, suspended or expired), each with the tiers held there."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for stored in credentials:
        info = summary(stored)
        issuer = issuer_of(stored)
        lg_code, tier = info.get("lgCode"), info.get("tier")
        if (
            info.get("kind") != "registration"
            or not usable(stored)
            or not isinstance(issuer, str)
            or not isinstance(lg_code, str)
            or not _LG_CODE.fullmatch(lg_code)
        ):
            continue
        entry = found.setdefault(
            (lg_code, issuer, stored.issuer_url.rstrip("/")),
            {
                "name": info.get("municipality"),
                "prefecture": info.get("prefecture"),
                "tiers": set(),
            },
        )
        if tier in AUDIENCES:
            entry["tiers"].add(tier)
    return [
        Membership(
            lg_code,
            issuer,
            issuer_url,
            str(entry["name"] or lg_code),
            str(entry["prefecture"] or ""),
            frozenset(entry["tiers"]),
        )
        for (lg_code, issuer, issuer_url), entry in sorted(found.items())
    ]


# --- fetching -----------------------------------------------------------------------------------


def _get(http: client.HttpClient, url: str, etag: str | None) -> tuple[int, bytes, str | None]:
    """GET a page: (status, body, ETag); 304 when ``etag`` still holds.  Bounded, no redirects."""
    headers = {"Accept": "application/jwt"}
    if etag:
        headers["If-None-Match"] = etag
    try:
        with http.client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return 304, b"", etag
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_FEED_BYTES:
                    raise LimitExceededError(
                        "the notices feed is too large", "お知らせのフィードが大きすぎます"
                    )
            if response.status_code != 200:
                reason: Any = None
                with contextlib.suppress(FurusatoError):
                    reason = load_json(body, Limits(max_bytes=64 * 1024))
                raise client._http_error(url, response.status_code, reason)
            tag = response.headers.get("etag")
            return 200, body, tag[:200] if tag else None
    except httpx.HTTPError as exc:
        raise client._unreachable(url, exc) from None


def _kept_notices(kept: object) -> list[Any]:
    """The notices of a feed kept in the wallet (a damaged entry has none)."""
    items = kept.get("notices") if isinstance(kept, dict) else None
    return items if isinstance(items, list) else []


@dataclass(frozen=True)
class Pulled:
    membership: Membership
    notices: list[FeedNotice]
    not_modified: bool


def pull(
    http: client.HttpClient,
    membership: Membership,
    key_for: Callable[[str], PublicKey],
    cache: dict[str, Any],
    *,
    now: datetime,
) -> Pulled:
    """The municipality's notices: the first page (with ``If-None-Match`` when the cache has
    its ETag) and the pages it links, up to :data:`MAX_PAGES`, each verified.  ``cache`` (the
    wallet's ``notices.feeds``) is updated with what was verified."""
    url = membership.feed_url
    kept = cache.get(membership.lg_code)
    kept = kept if isinstance(kept, dict) and kept.get("url") == url else None
    status, body, etag = _get(http, url, kept.get("etag") if kept else None)
    if status == 304 and kept is not None:
        try:
            return Pulled(membership, [parse_notice(n) for n in _kept_notices(kept)], True)
        except WalletError:
            status, body, etag = _get(http, url, None)  # a damaged cache: fetch it whole
    collected: list[FeedNotice] = []
    page_url: str | None = url
    prefix = f"{membership.issuer_url.rstrip('/')}/notices?"
    for _ in range(MAX_PAGES):
        if page_url is None:
            break
        if page_url != url:
            if not page_url.startswith(prefix):
                raise _untrusted(
                    "feed_mismatch",
                    "its next page is not on the municipality's issuer",
                    "次のページが自治体の発行者のものではありません",
                )
            status, body, _ = _get(http, page_url, None)
        page = verify_feed(
            split_feed(body),
            key_for=key_for,
            issuer=membership.issuer,
            lg_code=membership.lg_code,
            url=page_url,
        )
        collected.extend(page.notices)
        page_url = page.next
    cache[membership.lg_code] = {
        "url": url,
        "etag": etag,
        "notices": [n.raw for n in collected],
        "fetchedAt": now.isoformat().replace("+00:00", "Z"),
    }
    return Pulled(membership, collected, False)


@dataclass(frozen=True)
class News:
    """What ``news`` shows: the notices to show, newest first, and the feeds refused."""

    items: list[tuple[FeedNotice, Membership]]
    failed: list[tuple[Membership, FurusatoError]]


def collect(
    http: client.HttpClient,
    found: Iterable[Membership],
    cache: dict[str, Any],
    *,
    topics: list[str] | None,
    since: datetime | None,
    now: datetime,
) -> News:
    """Every municipality's feed, verified; one refused does not stop the others."""
    key_for = key_resolver(client.resolver(http))
    items: list[tuple[FeedNotice, Membership]] = []
    failed: list[tuple[Membership, FurusatoError]] = []
    for membership in found:
        try:
            pulled = pull(http, membership, key_for, cache, now=now)
        except FurusatoError as exc:
            failed.append((membership, exc))
            continue
        items.extend(
            (n, membership)
            for n in pulled.notices
            if visible(n, membership.tiers, topics, since=since, now=now)
        )
    # Newest first; within a second, each feed's own order (the sort is stable).
    items.sort(key=lambda item: item[0].published_at, reverse=True)
    return News(items, failed)


def news_json(news: News, raised: Mapping[str, Any], topics: list[str] | None) -> dict[str, Any]:
    """``news --json``: the notices as the feed has them, with the municipality and whether a
    hand is raised; the feeds refused with their reason."""
    return {
        "topics": topics,
        "notices": [
            {
                "lgCode": m.lg_code,
                "municipality": m.name,
                "prefecture": m.prefecture,
                **n.raw,
                "handRaised": n.id in raised,
            }
            for n, m in news.items
        ],
        "failed": [
            {
                "lgCode": m.lg_code,
                "municipality": m.name,
                "code": exc.code,
                "messages": {"ja": exc.message_ja, "en": exc.message_en},
            }
            for m, exc in news.failed
        ],
    }


# --- what is shown ----------------------------------------------------------------------------------


def admitted(audience: str, tiers: frozenset[str]) -> bool:
    return audience == "all" or audience in tiers


def visible(
    notice: FeedNotice,
    tiers: frozenset[str],
    topics: list[str] | None,
    *,
    since: datetime | None,
    now: datetime,
) -> bool:
    """For a tier held, of a topic wanted, published since ``since``, not expired."""
    return (
        admitted(notice.audience, tiers)
        and (topics is None or notice.topic in topics)
        and (since is None or notice.published_at >= since)
        and (notice.expires_at is None or notice.expires_at > now)
    )


def jst(moment: datetime) -> str:
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")


def topic_label(topic: str, lang: str) -> str:
    known = TOPICS.get(topic)
    return known[0] if lang == "en" and known else safe(topic, 16)


def render(
    notice: FeedNotice,
    membership: Membership,
    lang: str,
    hand: Mapping[str, Any] | None = None,
) -> list[str]:
    """The lines that show a notice (Japanese, or English where the notice has it)."""
    en = lang == "en"
    lines = [f"[{topic_label(notice.topic, lang)}] {notice.title(lang)}"]
    lines.append(
        f"  {membership.label(lang)} · {jst(notice.published_at)} · ID {notice.id}"
        + (
            ""
            if notice.audience == "all"
            else f" · {'for' if en else '対象:'} {AUDIENCES[notice.audience][1 if en else 0]}"
        )
    )
    lines.extend(f"  {line}" for line in notice.body(lang).split("\n"))
    if notice.link:
        lines.append(f"  {'Link' if en else 'リンク'}: {safe(notice.link, MAX_LINK)}")
    if notice.expires_at is not None:
        lines.append(f"  {'Until' if en else '掲載終了'}: {jst(notice.expires_at)}")
    if notice.call is not None:
        call = notice.call
        state = CALL_STATES[call.state][1 if en else 0]
        if en:
            lines.append(
                f"  Call: {call.places_left} of {call.places} places left · deadline "
                f"{jst(call.deadline)} · {state}"
            )
        else:
            lines.append(
                f"  募集: 残り {call.places_left} / {call.places} 名 · 締切 {jst(call.deadline)}"
                f" · {state}"
            )
        if hand is not None:
            lines.append(
                "  ✋ You raised your hand: withdraw with furusato-wallet withdraw-hand "
                f"{notice.id}"
                if en
                else f"  ✋ 手を挙げています (取り消し: furusato-wallet withdraw-hand {notice.id})"
            )
        elif call.state == "open":
            lines.append(f"  → furusato-wallet raise-hand {notice.id} [--message …]")
    return lines


# --- preferences (kept in the wallet only) -----------------------------------------------------------


def parse_topics(text: str) -> list[str]:
    """``防災,イベント`` (or the ASCII names: ``disaster,events``) → the topics, in the
    canonical order."""
    aliases = {ascii_name: ja for ja, (_, ascii_name) in TOPICS.items()}
    chosen: set[str] = set()
    for part in text.split(","):
        name = part.strip()
        topic = name if name in TOPICS else aliases.get(name.lower())
        if topic is None:
            known = ", ".join(f"{ja} ({ascii_name})" for ja, (_, ascii_name) in TOPICS.items())
            raise WalletError(
                f"unknown topic {safe(name, 40)!r}; the topics: {known}",
                f"分類 {safe(name, 40)!r} はありません。分類: {known}",
                code="unknown_topic",
            )
        chosen.add(topic)
    return [t for t in TOPICS if t in chosen]


def topics_of(wallet: Wallet) -> list[str] | None:
    """The topics the resident chose (None: every topic)."""
    value = wallet.prefs.get("topics")
    if not isinstance(value, list):
        return None
    return [t for t in TOPICS if t in value]


def set_topics(wallet: Wallet, topics: list[str] | None) -> None:
    if topics is None:
        wallet.prefs.pop("topics", None)
    else:
        wallet.prefs["topics"] = list(topics)


def topics_text(topics: list[str] | None, lang: str) -> str:
    if topics is None:
        return "all topics" if lang == "en" else "すべての分類"
    return ", ".join(topic_label(t, lang) for t in topics) if lang == "en" else "、".join(topics)


# --- the wallet's records: feeds kept, hands raised ----------------------------------------------------


def feeds_cache(wallet: Wallet) -> dict[str, Any]:
    feeds = wallet.notices.setdefault("feeds", {})
    if not isinstance(feeds, dict):
        feeds = wallet.notices["feeds"] = {}
    return feeds


def hands(wallet: Wallet) -> dict[str, Any]:
    raised = wallet.notices.setdefault("hands", {})
    if not isinstance(raised, dict):
        raised = wallet.notices["hands"] = {}
    return raised


def cached(wallet: Wallet, notice_id: str) -> FeedNotice | None:
    """The notice as the wallet last verified it, if it has read it."""
    for kept in feeds_cache(wallet).values():
        for item in _kept_notices(kept):
            if isinstance(item, dict) and item.get("id") == notice_id:
                try:
                    return parse_notice(item)
                except WalletError:
                    return None
    return None


def check_notice_id(value: str) -> str:
    value = value.strip().lower()
    if not _NOTICE_ID.fullmatch(value):
        raise WalletError(
            f"{safe(value, 40)!r} is not a notice id (16 letters and digits, see news)",
            f"{safe(value, 40)!r} はお知らせの ID ではありません (16文字の英数字: news で確認できます)",
            code="bad_notice_id",
        )
    return value


def check_message(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.replace("\r\n", "\n").strip()
    if _UNSAFE.search(text) or len(text) > MESSAGE_MAX:
        raise WalletError(
            f"--message: at most {MESSAGE_MAX} characters, no control characters",
            f"--message は{MESSAGE_MAX}文字以内で、制御文字は使えません",
            code="bad_message",
        )
    return text


def locate(wallet: Wallet, notice_id: str, lg_code: str | None) -> str:
    """The municipality of a notice: ``--lg-code``, else the one whose kept feed has it, else
    the one the hand was raised with."""
    if lg_code is not None:
        if not _LG_CODE.fullmatch(lg_code):
            raise WalletError(
                "--lg-code: the municipality's 6-digit code",
                "--lg-code は自治体の6桁のコードです",
                code="bad_lg_code",
            )
        return lg_code
    for code, kept in sorted(feeds_cache(wallet).items()):
        if isinstance(kept, dict) and any(
            isinstance(n, dict) and n.get("id") == notice_id for n in _kept_notices(kept)
        ):
            return str(code)
    raised = hands(wallet).get(notice_id)
    if isinstance(raised, dict) and isinstance(raised.get("lgCode"), str):
        return str(raised["lgCode"])
    raise WalletError(
        "this notice is not among the notices the wallet has read: run furusato-wallet news "
        "first, or give --lg-code",
        "このお知らせはウォレットが読んだお知らせにありません。先に furusato-wallet news を"
        "実行するか、--lg-code を指定してください",
        code="notice_unknown",
    )


# --- 手を挙げる -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    notice_id: str
    response_id: str
    at: str
    places_left: int | None


def answer(
    http: client.HttpClient,
    issuer_url: str,
    notice_id: str,
    *,
    withdraw: bool,
    message: str | None,
    presentation_for: Callable[[str, str], dict[str, Any]],
) -> Answer:
    """Raise a hand for a call (or withdraw it), proving the registration with a presentation
    over the issuer's c_nonce (challenge) and its identifier (domain)."""
    issuer_url = issuer_url.rstrip("/")
    nonce = client.c_nonce(http, client.issuer_metadata(http, issuer_url))
    body: dict[str, Any] = {"presentation": presentation_for(nonce, issuer_url)}
    url = f"{issuer_url}/notices/{notice_id}/responses"
    if withdraw:
        url += "/withdraw"
    elif message is not None:
        body["message"] = message
    status, reply = http.post(url, json=body)
    if status != (200 if withdraw else 201) or not isinstance(reply, dict):
        raise client._refused(
            "withdrawal" if withdraw else "answer", "取り消し" if withdraw else "応募", reply
        )
    left = reply.get("placesLeft")
    at = reply.get("withdrawnAt" if withdraw else "answeredAt")
    response_id = reply.get("responseId")
    return Answer(
        notice_id,
        client.clean_text(response_id, 64) if isinstance(response_id, str) else "",
        client.clean_text(at, 40) if isinstance(at, str) else "",
        left if isinstance(left, int) and not isinstance(left, bool) and left >= 0 else None,
    )


def remember(wallet: Wallet, lg_code: str, done: Answer, *, withdraw: bool) -> None:
    if withdraw:
        hands(wallet).pop(done.notice_id, None)
    else:
        hands(wallet)[done.notice_id] = {
            "lgCode": lg_code,
            "responseId": done.response_id,
            "answeredAt": done.at,
        }


def parse_since(value: str | None) -> datetime | None:
    """``--since``: a date (the start of that day in Japan) or a date and time."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return datetime.fromisoformat(text).replace(tzinfo=JST)
        except ValueError:
            pass
    else:
        try:
            return parse_datetime(text, "since")
        except FurusatoError:
            pass
    raise WalletError(
        "--since: a date like 2027-03-01 (Japan time) or a time like 2027-03-01T09:00:00+09:00",
        "--since は 2027-03-01 (日本時間) または 2027-03-01T09:00:00+09:00 の形式です",
        code="bad_since",
    )
