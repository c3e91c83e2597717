"""What people read: the verification result, the credential's summary, the cache's age.

Shared by the command line (``render``) and the scanner page (``Summary``, ``age_lines``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from did.errors import FurusatoError
from vc.dates import format_datetime, parse_datetime
from vc.formats import FORMAT_NAMES
from vc.model import as_list, issuer_id
from vc.registry import Registry
from vc.result import CHECK_NAMES, Check, VerificationResult
from vc.verify import result_format
from verifier.cache import CacheAge, VerifierCache

JST = timezone(timedelta(hours=9), "JST")
TIER_NAMES = {"basic": ("ベーシック", "basic"), "premium": ("プレミアム", "premium")}


def jst(value: object) -> str:
    """An ISO date-time as people here read it: ``2027-04-01 09:00 JST``."""
    try:
        return parse_datetime(value, "date").astimezone(JST).strftime("%Y-%m-%d %H:%M JST")
    except FurusatoError:
        return str(value)


@dataclass(frozen=True)
class Summary:
    """What the credential says, for the big result screen (nothing personal beyond it)."""

    municipality: str | None = None
    lg_code: str | None = None
    tier: str | None = None
    valid_until: str | None = None
    issuer: str | None = None
    issuer_name: str | None = None
    format: str | None = None  # ldp_vc | jwt_vc_json | dc+sd-jwt (vc.formats)
    # only when the holder chose to disclose them (a premium SD-JWT VC: issuer.personal)
    name: str | None = None
    birth_date: str | None = None

    @classmethod
    def from_result(cls, result: VerificationResult) -> Summary:
        """What the verified credential says, in any format: the first credential of a
        presentation as verified (a vc+jwt's payload, not its envelope), or the credential
        itself (an SD-JWT VC's view)."""
        document = result.document
        if result.kind == "presentation" and result.credentials:
            document = result.credentials[0].document
        summary = cls.of(document)
        fmt = result_format(result)
        return summary if fmt is None else replace(summary, format=fmt)

    @classmethod
    def of(cls, document: Mapping[str, Any] | None) -> Summary:
        credential: Any = document
        if document is not None and "VerifiablePresentation" in as_list(document.get("type")):
            credential = next(iter(as_list(document.get("verifiableCredential", []))), None)
        if not isinstance(credential, dict):
            return cls()
        subject = credential.get("credentialSubject")
        subject = subject if isinstance(subject, dict) else {}
        found = subject.get("municipality")
        municipality: Mapping[str, Any] = found if isinstance(found, dict) else {}
        issuer = credential.get("issuer")
        name = f"{municipality.get('prefecture', '')} {municipality.get('name', '')}".strip()
        tier = subject.get("registrationTier")
        issuer_name = issuer.get("name") if isinstance(issuer, dict) else None
        person, born = subject.get("name"), subject.get("birthDate")
        return cls(
            name=person[:100] if isinstance(person, str) else None,
            birth_date=born[:10] if isinstance(born, str) else None,
            municipality=name or None,
            lg_code=str(municipality["lgCode"]) if "lgCode" in municipality else None,
            tier=tier if isinstance(tier, str) else None,
            valid_until=jst(credential["validUntil"]) if "validUntil" in credential else None,
            issuer=issuer_id(credential) or None,
            issuer_name=issuer_name if isinstance(issuer_name, str) else None,
        )

    def tier_name(self, lang: str) -> str | None:
        if self.tier is None:
            return None
        ja, en = TIER_NAMES.get(self.tier, (self.tier, self.tier))
        return ja if lang == "ja" else en

    def format_name(self, lang: str) -> str | None:
        if self.format is None:
            return None
        ja, en = FORMAT_NAMES.get(self.format, (self.format, self.format))
        return ja if lang == "ja" else en

    def lines(self, lang: str) -> list[str]:
        ja = lang == "ja"
        lines = []
        if self.name is not None:
            lines.append(("氏名: " if ja else "Name: ") + self.name)
        if self.birth_date is not None:
            lines.append(("生年月日: " if ja else "Date of birth: ") + self.birth_date)
        if self.municipality or self.lg_code:
            where = f"{self.municipality or ''} ({self.lg_code})".strip()
            lines.append(("自治体: " if ja else "Municipality: ") + where)
        if self.tier is not None:
            lines.append(("登録区分: " if ja else "Tier: ") + str(self.tier_name(lang)))
        if self.valid_until is not None:
            lines.append(("有効期限: " if ja else "Valid until: ") + self.valid_until)
        if self.issuer:
            label = f"{self.issuer_name} ({self.issuer})" if self.issuer_name else self.issuer
            lines.append(("発行者: " if ja else "Issuer: ") + label)
        if self.format is not None:
            lines.append(("形式: " if ja else "Format: ") + str(self.format_name(lang)))
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "municipality": self.municipality,
            "lgCode": self.lg_code,
            "tier": self.tier,
            "tierName": {"ja": self.tier_name("ja"), "en": self.tier_name("en")},
            "validUntil": self.valid_until,
            "issuer": self.issuer,
            "issuerName": self.issuer_name,
            "format": self.format,
            "formatName": {"ja": self.format_name("ja"), "en": self.format_name("en")},
            "name": self.name,
            "birthDate": self.birth_date,
        }


def headline(result: VerificationResult, lang: str) -> str:
    ja = lang == "ja"
    if result.verified:
        return "✓ 有効です (検証できました)" if ja else "✓ VALID (verified)"
    return "✗ 無効です (検証できません)" if ja else "✗ NOT VALID (not verified)"


def check_line(check: Check, lang: str, prefix: str = "") -> str:
    name_ja, name_en = CHECK_NAMES.get(check.check, (check.check, check.check))
    name = name_ja if lang == "ja" else name_en
    code = "" if check.ok else f" [{check.code}]"
    return f"{prefix}{name}: {check.message(lang)}{code}"


def render(result: VerificationResult, lang: str) -> str:
    lines = [headline(result, lang)]
    lines += [f"  {line}" for line in Summary.from_result(result).lines(lang)]
    groups: list[tuple[str, VerificationResult]] = [("", result)] + [
        (f"verifiableCredential[{i}] ", r) for i, r in enumerate(result.credentials)
    ]
    for prefix, part in groups:
        for check in part.checks:
            mark = "  ・" if check.ok else "  ✗"
            lines.append(f"{mark} {check_line(check, lang, prefix)}")
    for warning in result.warnings:
        lines.append(f"  ! {warning.message(lang)} [{warning.code}]")
    return "\n".join(lines)


def ago(moment: datetime | None, now: datetime, lang: str) -> str:
    if moment is None:
        return "未取得" if lang == "ja" else "never"
    minutes = max(0, int((now - moment).total_seconds() // 60))
    when = moment.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")
    if minutes < 60:
        span = f"{minutes}分前" if lang == "ja" else f"{minutes} min ago"
    elif minutes < 48 * 60:
        span = f"{minutes // 60}時間前" if lang == "ja" else f"{minutes // 60} h ago"
    else:
        span = f"{minutes // 1440}日前" if lang == "ja" else f"{minutes // 1440} days ago"
    return f"{when} ({span})"


def age_lines(age: CacheAge, now: datetime, lang: str) -> list[str]:
    ja = lang == "ja"
    lines = [
        ("全国レジストリの取得: " if ja else "Registry fetched: ")
        + ago(age.registry_fetched, now, lang)
    ]
    if age.lists:
        lines.append(
            (
                f"ステータスリスト {age.lists} 件、最も古い取得: "
                if ja
                else f"Status lists: {age.lists}, oldest fetched: "
            )
            + ago(age.oldest_list, now, lang)
        )
    else:
        lines.append("ステータスリスト: 未取得" if ja else "Status lists: none fetched")
    return lines


def cache_summary(
    cache: VerifierCache, age: CacheAge, registry: Registry | None, now: datetime
) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return format_datetime(moment) if moment is not None else None

    return {
        "cacheDir": str(cache.directory),
        "registryFetchedAt": iso(age.registry_fetched),
        "registrySequence": registry.sequence if registry is not None else None,
        "registryNextUpdate": iso(registry.next_update) if registry is not None else None,
        "registryStale": registry.is_stale(now) if registry is not None else None,
        "municipalities": len(registry.entries) if registry is not None else 0,
        "statusLists": age.lists,
        "oldestStatusListFetchedAt": iso(age.oldest_list),
    }
