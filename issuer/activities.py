"""Activities (担い手活動): sites, signed check-in QR codes, check-ins, reviewed documents.

A municipality defines **activity sites** (a 公民館 cleanup, a farm, a festival…) and prints a
**check-in QR** per time window.  The QR carries ``FCI1:`` + a compact JWS signed with the
municipality's current key (``typ`` ``furusato-checkin+jwt``)::

    {"iss": <municipality DID>, "lgCode": "015814", "site": <site id>, "name": <site name>,
     "category": "volunteer", "qr": <random id>, "nbf": …, "exp": …,
     "url": <check-in endpoint>, "geo": [lat, lon, radius_m]}      # geo only with a geofence

The wallet scans it and posts it to ``url`` with a presentation of its registration (a
credential of this municipality, over a fresh c_nonce) and, for a geofenced site, its
location.  The issuer checks, in order: the JWS (its own key, not revoked), the municipality
(a QR of another municipality is refused), the time window (±60 s), the site (still active),
the geofence (haversine distance ≤ radius; the location is what the device says), and that
this registrant has not used this QR before (a unique index, whatever the concurrency).  It
records the activity and returns a ``FurusatoActivityCredential``.

Staff can also record an activity from a document they reviewed (a certificate of a volunteer
group, a work contract…): the file is checked (PDF/PNG/JPEG by its magic bytes, ≤ 10 MB) and
stored encrypted (AES-256-GCM, key derived from the deployment secret, bound to the tenant
and the document id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from did.errors import FurusatoError
from did.jsonio import Limits, load_json
from did.key import did_key_verification_method_id
from did.multibase import base64url_decode, base64url_encode
from issuer import audit
from issuer.db import (
    LDP_VC,
    Activity,
    ActivityDocument,
    ActivitySite,
    IssuedCredential,
    SigningKey,
)
from issuer.errors import NotFoundError, ServiceError
from issuer.issuance import new_credential_id
from issuer.tenants import KeyRing, TenantInfo, _public_key, active_key, keys_of
from schemas.municipalities import municipality_table
from vc.furusato import ACTIVITY_CATEGORIES, activity_credential
from vc.issue import issue_credential

PREFIX = "FCI1:"
TYP = "furusato-checkin+jwt"
SKEW = timedelta(seconds=60)
MAX_PAYLOAD = 4096
MAX_WINDOW = timedelta(days=366)
ACTIVITY_WINDOW = timedelta(days=365)  # the rule counts activities of the last 12 months
MAX_TIMESTAMP = 2**33  # the year 2242: beyond it a "time" is garbage
MAX_DOCUMENT = 10 * 1024 * 1024
DOCUMENT_TYPES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
JST = timezone(timedelta(hours=9))


class CheckinRefused(ServiceError):
    """A check-in that cannot count; ``code`` says why."""

    status = 400
    code = "checkin_refused"
    title_en = "Check-in refused"
    title_ja = "チェックインできません"


def _refused(code: str, en: str, ja: str, status: int = 400) -> CheckinRefused:
    return CheckinRefused(en, ja, code=code, status=status)


# --- sites ------------------------------------------------------------------------------------


def create_site(
    session: Session,
    tenant: TenantInfo,
    *,
    name: str,
    category: str,
    latitude: float | None,
    longitude: float | None,
    radius_m: int | None,
    now: datetime,
    actor: str,
) -> ActivitySite:
    name = name.strip()
    if not 0 < len(name) <= 100:
        raise ServiceError("name: 1–100 characters", "名称は1〜100文字です", path="name")
    if category not in ACTIVITY_CATEGORIES:
        raise ServiceError(
            f"category: one of {', '.join(ACTIVITY_CATEGORIES)}",
            f"活動の種類は {', '.join(ACTIVITY_CATEGORIES)} のいずれかです",
            path="category",
        )
    geofenced = (latitude, longitude, radius_m) != (None, None, None)
    if geofenced:
        if latitude is None or longitude is None or radius_m is None:
            raise ServiceError(
                "a geofence needs latitude, longitude and radius together",
                "位置の範囲には緯度・経度・半径をすべて指定してください",
                path="radius",
            )
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180 and 10 <= radius_m <= 50_000):
            raise ServiceError(
                "latitude −90..90, longitude −180..180, radius 10..50,000 m",
                "緯度は −90〜90、経度は −180〜180、半径は 10〜50,000 m です",
                path="radius",
            )
    site = ActivitySite(
        lg_code=tenant.lg_code,
        site_id=uuid.uuid4().hex[:16],
        name=name,
        category=category,
        latitude=latitude,
        longitude=longitude,
        radius_m=radius_m,
        created_at=now,
        active=True,
    )
    session.add(site)
    audit.append(
        session,
        tenant.lg_code,
        at=now,
        actor=actor,
        action="site.create",
        subject=site.site_id,
        details={"category": category, "geofence": geofenced},
    )
    return site


def sites_of(session: Session, lg_code: str, include_closed: bool = False) -> list[ActivitySite]:
    query = select(ActivitySite).where(ActivitySite.lg_code == lg_code)
    if not include_closed:
        query = query.where(ActivitySite.active.is_(True))
    return list(
        session.execute(query.order_by(ActivitySite.created_at, ActivitySite.site_id)).scalars()
    )


def get_site(session: Session, lg_code: str, site_id: str) -> ActivitySite:
    site = session.get(ActivitySite, (lg_code, site_id))
    if site is None:
        raise NotFoundError(
            "no such activity site", "その活動場所はありません", code="site_not_found"
        )
    return site


def close_site(
    session: Session, tenant: TenantInfo, site_id: str, *, now: datetime, actor: str
) -> ActivitySite:
    """No more check-ins at this site (its QR codes stop working at once)."""
    site = get_site(session, tenant.lg_code, site_id)
    if site.active:
        site.active = False
        audit.append(
            session,
            tenant.lg_code,
            at=now,
            actor=actor,
            action="site.close",
            subject=site.site_id,
            details={},
        )
    return site


# --- the check-in QR ------------------------------------------------------------------------------


def checkin_url(tenant: TenantInfo) -> str:
    return f"{tenant.public_url.rstrip('/')}/lg/{tenant.lg_code}/checkins"


def _b64(value: Any) -> str:
    return base64url_encode(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def checkin_payload(
    session: Session,
    ring: KeyRing,
    tenant: TenantInfo,
    site: ActivitySite,
    *,
    valid_from: datetime,
    valid_until: datetime,
) -> str:
    """The text of a site's check-in QR for one time window (signed now)."""
    if not valid_from < valid_until or valid_until - valid_from > MAX_WINDOW:
        raise ServiceError(
            "the window must end after it starts and last at most a year",
            "期間は開始より後に終わり、1年以内にしてください",
            path="validUntil",
        )
    key = active_key(session, ring, tenant)
    claims: dict[str, Any] = {
        "iss": tenant.did,
        "lgCode": tenant.lg_code,
        "site": site.site_id,
        "name": site.name,
        "category": site.category,
        "qr": secrets.token_urlsafe(12),
        "nbf": int(valid_from.timestamp()),
        "exp": int(valid_until.timestamp()),
        "url": checkin_url(tenant),
    }
    if site.radius_m is not None:
        claims["geo"] = [site.latitude, site.longitude, site.radius_m]
    header = {"alg": key.signer.alg, "typ": TYP, "kid": key.verification_method}
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    signature = key.signer.sign(signing_input.encode("ascii"))
    return PREFIX + f"{signing_input}.{base64url_encode(signature)}"


@dataclass(frozen=True)
class CheckinClaims:
    lg_code: str
    site_id: str
    qr_id: str
    not_before: datetime
    expires: datetime
    geofence: tuple[float, float, int] | None


def _malformed(en: str, ja: str) -> CheckinRefused:
    return _refused(
        "checkin_malformed", f"not a check-in QR: {en}", f"チェックイン用 QR ではありません: {ja}"
    )


def _part(text: str, what: str) -> dict[str, Any]:
    try:
        value = load_json(
            base64url_decode(text, max_length=MAX_PAYLOAD),
            Limits(max_bytes=MAX_PAYLOAD, max_depth=4),
        )
    except FurusatoError:
        value = None
    if not isinstance(value, dict):
        raise _malformed(
            f"the {what} is not base64url JSON", f"{what} が base64url の JSON ではありません"
        )
    return value


def _signing_key(session: Session, tenant: TenantInfo, kid: object) -> SigningKey:
    """The tenant's key a QR names (current, retired or revoked — the caller checks)."""
    for key in keys_of(session, tenant.lg_code):
        if tenant.did_method == "key":
            method = did_key_verification_method_id(_public_key(key))
        else:
            method = f"{tenant.did}#{key.key_id}"
        if kid == method:
            return key
    raise _refused(
        "checkin_wrong_municipality",
        "this check-in QR was not signed by this municipality",
        "このチェックイン QR はこの自治体が署名したものではありません",
    )


def read_checkin(session: Session, tenant: TenantInfo, payload: object) -> CheckinClaims:
    """The claims of a check-in QR this municipality signed; refusals name the reason."""
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD or not payload.startswith(PREFIX):
        raise _malformed("it does not start with FCI1:", "FCI1: で始まっていません")
    parts = payload[len(PREFIX) :].split(".")
    if len(parts) != 3:
        raise _malformed("not a compact JWS", "JWS の形式ではありません")
    header, claims = _part(parts[0], "header"), _part(parts[1], "payload")
    if header.get("typ") != TYP or set(header) != {"alg", "typ", "kid"}:
        raise _malformed("unexpected header", "ヘッダーが正しくありません")
    if claims.get("lgCode") != tenant.lg_code or claims.get("iss") != tenant.did:
        raise _refused(
            "checkin_wrong_municipality",
            "this check-in QR belongs to another municipality",
            "このチェックイン QR は別の自治体のものです",
        )
    key = _signing_key(session, tenant, header.get("kid"))
    public = _public_key(key)
    if header.get("alg") != public.alg or key.revoked_at is not None:
        raise _refused(
            "checkin_signature_invalid",
            "the QR's signature does not verify",
            "QR の署名を確認できません",
        )
    try:
        signature = base64url_decode(parts[2], max_length=512)
        public.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except FurusatoError:
        raise _refused(
            "checkin_signature_invalid",
            "the QR's signature does not verify",
            "QR の署名を確認できません",
        ) from None
    site, qr, nbf, exp = claims.get("site"), claims.get("qr"), claims.get("nbf"), claims.get("exp")
    if not (
        isinstance(site, str)
        and isinstance(qr, str)
        and 0 < len(site) <= 64
        and 0 < len(qr) <= 64
        and isinstance(nbf, int)
        and isinstance(exp, int)
        and 0 <= nbf <= MAX_TIMESTAMP
        and 0 <= exp <= MAX_TIMESTAMP
    ):
        raise _malformed("missing or malformed claims", "必要な項目がないか、正しくありません")
    geo = claims.get("geo")
    fence: tuple[float, float, int] | None = None
    if geo is not None:
        if not (
            isinstance(geo, list)
            and len(geo) == 3
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in geo)
            and -90 <= geo[0] <= 90
            and -180 <= geo[1] <= 180
            and 0 < geo[2] <= 50_000
        ):
            raise _malformed("bad geofence", "位置の範囲が正しくありません")
        fence = (float(geo[0]), float(geo[1]), int(geo[2]))
    return CheckinClaims(
        tenant.lg_code,
        site,
        qr,
        datetime.fromtimestamp(nbf, tz=UTC),
        datetime.fromtimestamp(exp, tz=UTC),
        fence,
    )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius 6,371,008.8 m)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def parse_location(value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    if (
        isinstance(value, dict)
        and set(value) == {"latitude", "longitude"}
        and all(isinstance(value[k], int | float) and not isinstance(value[k], bool) for k in value)
        and -90 <= value["latitude"] <= 90
        and -180 <= value["longitude"] <= 180
    ):
        return float(value["latitude"]), float(value["longitude"])
    raise ServiceError(
        'location: {"latitude": −90..90, "longitude": −180..180}',
        'location は {"latitude": −90〜90, "longitude": −180〜180} です',
        path="location",
    )


@dataclass(frozen=True)
class CheckedIn:
    activity: Activity
    credential: dict[str, Any]


def record_checkin(
    session: Session,
    ring: KeyRing,
    tenant: TenantInfo,
    *,
    payload: object,
    holder_did: str,
    location: tuple[float, float] | None,
    now: datetime,
) -> CheckedIn:
    """Check a scanned QR (module docstring) and record the check-in of ``holder_did``."""
    claims = read_checkin(session, tenant, payload)
    if now < claims.not_before - SKEW or now > claims.expires + SKEW:
        raise _refused(
            "checkin_outside_window",
            "this check-in QR is not valid at this time",
            "このチェックイン QR は今の時間には使えません",
        )
    site = session.get(ActivitySite, (tenant.lg_code, claims.site_id))
    if site is None or not site.active:
        raise _refused(
            "checkin_site_closed", "this activity site is closed", "この活動場所は終了しています"
        )
    if claims.geofence is not None:
        if location is None:
            raise _refused(
                "checkin_location_required",
                "this site checks where you are: send your location",
                "この場所では位置情報が必要です。位置情報を送ってください",
            )
        lat, lon, radius = claims.geofence
        if distance_m(lat, lon, *location) > radius:
            raise _refused(
                "checkin_outside_area",
                "you are not at the activity site",
                "活動場所の範囲外です",
            )
    key = active_key(session, ring, tenant)
    credential_id = new_credential_id()
    activity = Activity(
        lg_code=tenant.lg_code,
        activity_id=uuid.uuid4().hex,
        holder_did=holder_did,
        kind="checkIn",
        category=site.category,
        site_id=site.site_id,
        qr_id=claims.qr_id,
        activity_date=now,
        recorded_at=now,
        recorded_by="checkin",
        credential_id=credential_id,
    )
    try:
        with session.begin_nested():
            session.add(activity)
    except IntegrityError:
        raise _refused(
            "checkin_duplicate",
            "you have already checked in with this QR",
            "この QR では既にチェックインしています",
            status=409,
        ) from None
    signed = _activity_credential(
        tenant, key, credential_id, holder_did, site.category, now, "checkIn", site, issued=now
    )
    _store_receipt(session, tenant, signed, key.key_id, now, actor="checkin")
    return CheckedIn(activity, signed)


def _activity_credential(
    tenant: TenantInfo,
    key: Any,
    credential_id: str,
    holder_did: str,
    category: str,
    when: datetime,
    evidence: str,
    site: ActivitySite | None,
    *,
    issued: datetime,
    name: str | None = None,
) -> dict[str, Any]:
    """The signed receipt of an activity done at ``when``, issued at ``issued``."""
    unsigned = activity_credential(
        credential_id=credential_id,
        issuer=tenant.did,
        issuer_name=tenant.name,
        municipality=municipality_table().get(tenant.lg_code),
        holder=holder_did,
        category=category,
        activity_date=when.astimezone(JST).date(),
        evidence=evidence,
        valid_from=issued.replace(microsecond=0),
        name=name or (site.name if site is not None else None),
        check_in_time=when.replace(microsecond=0) if evidence == "checkIn" else None,
        site_id=site.site_id if site is not None else None,
        site_name=site.name if site is not None else None,
    )
    return issue_credential(
        unsigned, key.signer, verification_method=key.verification_method, created=issued
    )


def _store_receipt(
    session: Session,
    tenant: TenantInfo,
    signed: dict[str, Any],
    key_id: str,
    now: datetime,
    *,
    actor: str,
) -> None:
    session.add(
        IssuedCredential(
            lg_code=tenant.lg_code,
            credential_id=signed["id"],
            holder_did=signed["credentialSubject"]["id"],
            tier=None,
            state="active",
            source="activity",  # a receipt of an activity, not a registration
            key_id=key_id,
            issued_at=now,
            valid_from=now.replace(microsecond=0),
            valid_until=None,
            document=json.dumps(signed, ensure_ascii=False),
        )
    )
    audit.append(
        session,
        tenant.lg_code,
        at=now,
        actor=actor,
        action="activity.record",
        subject=signed["id"],
        details={"evidence": signed["credentialSubject"]["activity"]["evidenceKind"]},
    )


# --- documents staff reviewed --------------------------------------------------------------------


def document_type(data: bytes) -> str:
    if not data:
        raise ServiceError(
            "the file is empty", "ファイルが空です", path="file", code="document_empty"
        )
    if len(data) > MAX_DOCUMENT:
        raise ServiceError(
            f"the file is larger than {MAX_DOCUMENT // (1024 * 1024)} MB",
            f"ファイルが {MAX_DOCUMENT // (1024 * 1024)} MB を超えています",
            path="file",
            code="document_too_large",
            status=413,
        )
    for magic, media in DOCUMENT_TYPES.items():
        if data.startswith(magic):
            return media
    raise ServiceError(
        "only PDF, PNG or JPEG files",
        "PDF・PNG・JPEG のファイルのみです",
        path="file",
        code="document_type",
    )


def _document_key(secret: str) -> bytes:
    return hmac.new(
        secret.encode("utf-8"), b"furusato activity documents v1", hashlib.sha256
    ).digest()


def seal_document(secret: str, lg_code: str, document_id: str, data: bytes) -> bytes:
    nonce = os.urandom(12)
    aad = f"{lg_code}/{document_id}".encode()
    return nonce + AESGCM(_document_key(secret)).encrypt(nonce, data, aad)


def open_document(secret: str, row: ActivityDocument) -> bytes:
    aad = f"{row.lg_code}/{row.document_id}".encode()
    return AESGCM(_document_key(secret)).decrypt(row.sealed[:12], row.sealed[12:], aad)


def record_document_activity(
    session: Session,
    ring: KeyRing,
    secret: str,
    tenant: TenantInfo,
    *,
    holder_did: str,
    category: str,
    activity_date: date,
    name: str,
    data: bytes,
    now: datetime,
    actor: str,
) -> Activity:
    """Staff record an activity from a document they reviewed; the file is kept encrypted."""
    media = document_type(data)
    if category not in ACTIVITY_CATEGORIES:
        raise ServiceError(
            f"category: one of {', '.join(ACTIVITY_CATEGORIES)}",
            f"活動の種類は {', '.join(ACTIVITY_CATEGORIES)} のいずれかです",
            path="category",
        )
    name = name.strip()
    if not 0 < len(name) <= 100:
        raise ServiceError("name: 1–100 characters", "活動名は1〜100文字です", path="name")
    today = now.astimezone(JST).date()
    when = datetime(activity_date.year, activity_date.month, activity_date.day, 12, tzinfo=JST)
    if activity_date > today or when <= now - ACTIVITY_WINDOW:  # what the rule counts
        raise ServiceError(
            "the activity date must be within the last 12 months",
            "活動日は過去12か月以内にしてください",
            path="activityDate",
        )
    key = active_key(session, ring, tenant)
    credential_id = new_credential_id()
    activity = Activity(
        lg_code=tenant.lg_code,
        activity_id=uuid.uuid4().hex,
        holder_did=holder_did,
        kind="document",
        category=category,
        site_id=None,
        qr_id=None,
        activity_date=when,
        recorded_at=now,
        recorded_by=actor,
        credential_id=credential_id,
    )
    session.add(activity)
    document_id = uuid.uuid4().hex
    session.add(
        ActivityDocument(
            lg_code=tenant.lg_code,
            document_id=document_id,
            activity_id=activity.activity_id,
            media_type=media,
            size=len(data),
            sealed=seal_document(secret, tenant.lg_code, document_id, data),
            uploaded_at=now,
            uploaded_by=actor,
        )
    )
    signed = _activity_credential(
        tenant,
        key,
        credential_id,
        holder_did,
        category,
        when,
        "document",
        None,
        issued=now,
        name=name,
    )
    _store_receipt(session, tenant, signed, key.key_id, now, actor=actor)
    return activity


def document_of(session: Session, lg_code: str, activity_id: str) -> ActivityDocument:
    row = session.execute(
        select(ActivityDocument).where(
            ActivityDocument.lg_code == lg_code, ActivityDocument.activity_id == activity_id
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(
            "no document for this activity", "この活動の書類はありません", code="document_not_found"
        )
    return row


def activities_of(session: Session, lg_code: str, holder_did: str) -> list[Activity]:
    return list(
        session.execute(
            select(Activity)
            .where(Activity.lg_code == lg_code, Activity.holder_did == holder_did)
            .order_by(Activity.activity_date.desc())
        ).scalars()
    )


def receipts(session: Session, lg_code: str, credential_ids: list[str]) -> list[dict[str, Any]]:
    """The activity receipts among ``credential_ids`` (issued as ``ldp_vc`` only)."""
    rows = session.execute(
        select(IssuedCredential.document).where(
            IssuedCredential.lg_code == lg_code,
            IssuedCredential.credential_id.in_(credential_ids),
            IssuedCredential.format == LDP_VC,  # JSON text; other formats are compact strings
        )
    ).scalars()
    return [json.loads(r) for r in rows]
