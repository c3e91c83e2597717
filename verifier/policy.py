"""What a verifying place accepts: tiers, municipalities or prefectures, freshness, cache age.

A policy file is JSON, for example a nursery of 厚真町 that serves premium registrants only::

    {"name": "厚真町保育所", "tiers": ["premium"], "municipalities": ["015814"],
     "statusMaxAgeHours": 24, "windowSeconds": 120, "requireChallenge": true}

or a garbage point open to any registrant in 北海道::

    {"name": "ごみ集積所", "prefectures": ["010006"]}

Every member is optional; the default accepts any tier of any municipality, status lists up to
24 hours old, QR codes within ±120 s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from did.errors import FurusatoError, MalformedValueError
from schemas.municipalities import municipality_table, validate_lg_code
from vc.furusato import ACTIVITY_CREDENTIAL_TYPE, RESIDENT_CREDENTIAL_TYPE
from vc.model import as_list
from vc.result import Check, failed, passed

TIERS = ("basic", "premium")
TIER_NAMES_JA = {"basic": "ベーシック", "premium": "プレミアム"}
MEMBERS = frozenset(
    {
        "name",
        "tiers",
        "municipalities",
        "prefectures",
        "statusMaxAgeHours",
        "windowSeconds",
        "requireChallenge",
    }
)


def _bad(member: str, en: str, ja: str) -> MalformedValueError:
    return MalformedValueError(f"policy {member}: {en}", f"ポリシーの {member}: {ja}", path=member)


@dataclass(frozen=True)
class Policy:
    name: str = "default"
    tiers: frozenset[str] = frozenset(TIERS)
    municipalities: frozenset[str] = frozenset()  # empty: any
    prefectures: frozenset[str] = frozenset()  # empty: any
    status_max_age: timedelta = timedelta(hours=24)
    window: timedelta = timedelta(seconds=120)
    require_challenge: bool = False
    tags: tuple[str, ...] = field(default=())

    @classmethod
    def from_json(cls, value: object) -> Policy:
        if not isinstance(value, Mapping):
            raise _bad("(file)", "must be a JSON object", "JSON オブジェクトが必要です")
        unknown = set(value) - MEMBERS
        if unknown:
            name = sorted(unknown)[0]
            raise _bad(name, "unknown member", "不明な項目です")
        tiers = _strings(value, "tiers", TIERS)
        codes = _strings(value, "municipalities")
        prefectures = _strings(value, "prefectures")
        table = municipality_table()
        for member, listed in (("municipalities", codes), ("prefectures", prefectures)):
            for code in listed:
                try:
                    validate_lg_code(code)
                    table.get(code)
                except FurusatoError as exc:
                    raise _bad(member, exc.message_en, exc.message_ja) from None
        for code in codes:
            if table.get(code).is_prefecture:
                raise _bad(
                    "municipalities",
                    f"{code} is a prefecture (use prefectures)",
                    f"{code} は都道府県です (prefectures に書いてください)",
                )
        for code in prefectures:
            if not table.get(code).is_prefecture:
                raise _bad(
                    "prefectures", f"{code} is not a prefecture", f"{code} は都道府県ではありません"
                )
        hours = value.get("statusMaxAgeHours", 24)
        seconds = value.get("windowSeconds", 120)
        require = value.get("requireChallenge", False)
        if (
            not isinstance(hours, int | float)
            or isinstance(hours, bool)
            or not 0 < hours <= 24 * 366
        ):
            raise _bad(
                "statusMaxAgeHours",
                "must be a number of hours (up to a year)",
                "時間数 (1年まで) が必要です",
            )
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds <= 3600:
            raise _bad("windowSeconds", "must be 1–3600", "1〜3600 の整数が必要です")
        if not isinstance(require, bool):
            raise _bad("requireChallenge", "must be true or false", "true か false です")
        name = value.get("name", "policy")
        if not isinstance(name, str) or not 0 < len(name) <= 100:
            raise _bad("name", "must be text of 1–100 characters", "1〜100文字の文字列です")
        return cls(
            name=name,
            tiers=frozenset(tiers or TIERS),
            municipalities=frozenset(codes),
            prefectures=frozenset(prefectures),
            status_max_age=timedelta(hours=hours),
            window=timedelta(seconds=seconds),
            require_challenge=require,
        )

    @property
    def restrictive(self) -> bool:
        """True when the policy narrows tiers or municipalities (not everyone is accepted)."""
        return self.tiers != frozenset(TIERS) or bool(self.municipalities or self.prefectures)

    def checks(self, credential: Mapping[str, Any], target: str | None = None) -> list[Check]:
        """The policy's checks of one (already verified) credential.

        A resident credential is checked for its tier and municipality; an activity
        credential (no tier) for its municipality, and it fails a policy that narrows tiers;
        any other credential passes only a policy that accepts everyone.
        """
        types = as_list(credential.get("type"))
        subjects = [s for s in as_list(credential.get("credentialSubject")) if isinstance(s, dict)]
        subject = subjects[0] if subjects else {}
        found = subject.get("municipality")
        municipality: Mapping[str, Any] = found if isinstance(found, dict) else {}
        out: list[Check] = []
        accepted = "・".join(TIER_NAMES_JA[t] for t in TIERS if t in self.tiers)
        accepted_en = ", ".join(t for t in TIERS if t in self.tiers)
        if RESIDENT_CREDENTIAL_TYPE in types:
            tier = subject.get("registrationTier")
            if isinstance(tier, str) and tier in self.tiers:
                out.append(
                    passed(
                        "policy",
                        f"登録区分「{TIER_NAMES_JA.get(str(tier), tier)}」を受け付けています",
                        f"tier {tier} is accepted",
                        target=target,
                    )
                )
            else:
                out.append(
                    failed(
                        "policy",
                        "policy_tier",
                        f"ここで受け付けるのは {accepted} です",
                        f"this place accepts {accepted_en}",
                        target=target,
                    )
                )
        elif ACTIVITY_CREDENTIAL_TYPE in types:
            if self.tiers != frozenset(TIERS):
                out.append(
                    failed(
                        "policy",
                        "policy_tier",
                        f"活動証明書ではなく {accepted} の登録証明書が必要です",
                        f"a {accepted_en} resident credential is needed, not an activity credential",
                        target=target,
                    )
                )
        else:
            if self.restrictive:
                out.append(
                    failed(
                        "policy",
                        "policy_tier",
                        "ふるさと住民登録の証明書ではありません",
                        "not a furusato resident credential",
                        target=target,
                    )
                )
            return out
        if self.municipalities or self.prefectures:
            lg_code = str(municipality.get("lgCode", ""))
            prefecture = str(municipality.get("prefectureCode", ""))
            if lg_code in self.municipalities or prefecture in self.prefectures:
                out.append(
                    passed(
                        "policy", "対象の自治体です", "the municipality is accepted", target=target
                    )
                )
            else:
                out.append(
                    failed(
                        "policy",
                        "policy_municipality",
                        _accepted_ja(self),
                        _accepted_en(self),
                        target=target,
                    )
                )
        return out


def _strings(
    value: Mapping[str, Any], member: str, allowed: Sequence[str] | None = None
) -> list[str]:
    items = value.get(member, [])
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise _bad(member, "must be a list of strings", "文字列のリストが必要です")
    if allowed is not None:
        for item in items:
            if item not in allowed:
                raise _bad(member, f"unknown value {item!r}", f"不明な値 {item!r} です")
    return [str(i) for i in as_list(items)]


def _accepted_ja(policy: Policy) -> str:
    table = municipality_table()
    names = [table.get(c).full_name for c in sorted(policy.municipalities)]
    names += [table.get(c).prefecture + "内" for c in sorted(policy.prefectures)]
    return "ここで受け付けるのは " + "、".join(names) + " の登録者です"


def _accepted_en(policy: Policy) -> str:
    codes = sorted(policy.municipalities) + [f"prefecture {c}" for c in sorted(policy.prefectures)]
    return "this place accepts registrants of " + ", ".join(codes)
