"""What verification returns: ``VerificationResult`` with one ``Check`` per thing checked.

Verification never raises on bad input (STYLE.md 4); it reports.  Every failed check has a
stable ``code`` from :data:`CODES` (DESIGN.md §9 plus the few finer codes the core needs) and
a message in Japanese and English.  ``verified`` is true only when no check failed; warnings
never make a result fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from did.errors import FurusatoError

# code → (Japanese, English): the default message for each failure code.  Codes are stable:
# scripts and other programs match on them.  Never rename one; add new ones.
CODES: Mapping[str, tuple[str, str]] = {
    "malformed": ("データの形式が不正です", "the data is malformed"),
    "limit_exceeded": ("入力が大きすぎます", "the input is too large"),
    "unsupported_format": ("対応していない形式です", "unsupported format"),
    "context_not_allowed": (
        "許可されていない JSON-LD コンテキストが使われています",
        "a JSON-LD context that is not allowed",
    ),
    "undefined_term": (
        "定義されていない用語が含まれ、署名の対象外になります",
        "an undefined term that the signature would not cover",
    ),
    "proof_missing": ("署名 (proof) がありません", "there is no proof"),
    "proof_malformed": ("署名 (proof) の形式が不正です", "the proof is malformed"),
    "proof_purpose_mismatch": (
        "署名の目的 (proofPurpose) が想定と異なります",
        "the proof purpose is not the expected one",
    ),
    "proof_expired": ("署名 (proof) の有効期限が切れています", "the proof has expired"),
    "sd_jwt_alg_not_allowed": (
        "SD-JWT の署名アルゴリズム (alg) が許可されていないか、鍵と合いません",
        "the SD-JWT algorithm (alg) is not allowed or does not fit the key",
    ),
    "sd_jwt_typ_invalid": (
        "SD-JWT の種類 (typ) が正しくありません",
        "the SD-JWT typ is not accepted",
    ),
    "sd_jwt_sd_alg_unsupported": (
        "SD-JWT のダイジェスト方式 (_sd_alg) に対応していません",
        "the SD-JWT digest algorithm (_sd_alg) is not supported",
    ),
    "sd_jwt_disclosure_unreferenced": (
        "どのダイジェストにも対応しない開示 (Disclosure) があります",
        "a disclosure that no digest references",
    ),
    "sd_jwt_digest_duplicated": ("同じダイジェストが2回現れます", "the same digest occurs twice"),
    "sd_jwt_claim_conflict": (
        "開示された項目の名前が既存の項目と衝突しています",
        "a disclosed claim conflicts with an existing one",
    ),
    "sd_jwt_claim_not_disclosable": (
        "この項目は選択的開示にできません",
        "this claim cannot be selectively disclosable",
    ),
    "sd_jwt_claim_not_found": ("指定した項目がありません", "the named claim does not exist"),
    "sd_jwt_key_binding_missing": (
        "保有者の鍵による証明 (KB-JWT) がありません",
        "the key binding JWT is missing",
    ),
    "sd_jwt_key_binding_invalid": (
        "保有者の鍵による証明 (KB-JWT) が正しくありません",
        "the key binding JWT is invalid",
    ),
    "jose_alg_not_allowed": (
        "JWS の署名アルゴリズム (alg) が許可されていないか、鍵と合いません",
        "the JWS algorithm (alg) is not allowed or does not fit the key",
    ),
    "signature_invalid": (
        "署名が正しくありません (改ざんの可能性があります)",
        "the signature is invalid (the data may have been altered)",
    ),
    "verification_method_unresolved": (
        "署名鍵 (verificationMethod) を確認できません",
        "the signing key (verification method) cannot be resolved",
    ),
    "issuer_mismatch": (
        "署名鍵が発行者のものではありません",
        "the signing key does not belong to the issuer",
    ),
    "issuer_unknown": ("発行者が信頼リストにありません", "the issuer is not in the trust list"),
    "key_revoked": ("署名鍵は失効しています", "the signing key has been revoked"),
    "key_not_valid_at_time": (
        "署名時点で署名鍵が有効ではありません",
        "the signing key was not valid at the time of signing",
    ),
    "municipality_mismatch": (
        "自治体コードが発行者と一致しません",
        "the municipality code does not belong to the issuer",
    ),
    "not_yet_valid": ("まだ有効期間が始まっていません", "not yet valid"),
    "expired": ("有効期限が切れています", "expired"),
    "revoked": ("失効しています", "revoked"),
    "suspended": ("一時停止されています", "suspended"),
    "status_unknown": (
        "失効情報がないため、有効かどうか確認できません",
        "no status list is available, so the status cannot be checked",
    ),
    "status_stale": (
        "失効情報が古すぎるため、有効かどうか確認できません",
        "the status list is too old to rely on",
    ),
    "status_invalid": ("失効情報 (ステータスリスト) が不正です", "the status list is invalid"),
    "holder_binding_failed": (
        "提示者が証明書の本人と一致しません",
        "the presenter is not the subject of the credential",
    ),
    "presentation_stale": (
        "提示データの作成時刻が許容範囲外です (スクリーンショットの可能性があります)",
        "the presentation was not created within the allowed window (a screenshot?)",
    ),
    "challenge_mismatch": ("チャレンジが一致しません", "the challenge does not match"),
    "domain_mismatch": ("ドメインが一致しません", "the domain does not match"),
    "replayed": ("同じ提示データが既に使われています", "this presentation has been seen before"),
    "policy_tier": ("受け付けない登録区分です", "this registration tier is not accepted here"),
    "policy_municipality": (
        "受け付けない自治体です",
        "this municipality is not accepted here",
    ),
    "invalid_key": ("鍵の形式が不正です", "the key is malformed"),
    "invalid_did": ("DID が不正です", "the DID is malformed"),
    "unknown_municipality": ("登録されていない自治体コードです", "unknown municipality code"),
    "registry_stale": (
        "全国レジストリの有効期限が過ぎています (sync で更新してください)",
        "the national registry has passed its expiry (run sync to refresh it)",
    ),
    "challenge_not_checked": (
        "チャレンジを指定していないため、再利用の確認をしていません",
        "no challenge was given, so replay was not checked",
    ),
}

# What each check is about, for people (ja, en).
CHECK_NAMES: Mapping[str, tuple[str, str]] = {
    "input": ("入力", "input"),
    "data_model": ("データモデル", "data model"),
    "profile": ("ふるさと証明書の形式", "furusato credential profile"),
    "contexts": ("コンテキスト", "contexts"),
    "registry": ("発行者の登録 (全国レジストリ)", "issuer in the national registry"),
    "proof": ("発行者の署名", "issuer's signature"),
    "validity": ("有効期間", "validity period"),
    "status": ("失効・停止", "revocation and suspension"),
    "holder_proof": ("提示者の署名", "presenter's signature"),
    "holder_binding": ("本人確認 (鍵の一致)", "holder binding"),
    "challenge": ("チャレンジ", "challenge"),
    "domain": ("ドメイン", "domain"),
    "freshness": ("提示の新しさ", "freshness"),
    "credential": ("証明書", "credential"),
    "policy": ("この場所の受付条件", "this place's policy"),
    "replay": ("再利用", "replay"),
}


@dataclass(frozen=True, slots=True)
class Check:
    """One thing checked.  ``code`` is ``"ok"`` when it passed, else a code of CODES."""

    check: str
    ok: bool
    code: str
    message_ja: str
    message_en: str
    path: str | None = None
    target: str | None = None  # which part: "" for the document, "verifiableCredential[0]" …

    def message(self, lang: str = "ja") -> str:
        return self.message_en if lang == "en" else self.message_ja

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "check": self.check,
            "ok": self.ok,
            "code": self.code,
            "message": {"ja": self.message_ja, "en": self.message_en},
        }
        if self.path:
            out["path"] = self.path
        if self.target:
            out["target"] = self.target
        return out


def passed(
    check: str, message_ja: str = "確認しました", message_en: str = "ok", **kw: Any
) -> Check:
    return Check(check, True, "ok", message_ja, message_en, **kw)


def failed(
    check: str,
    code: str,
    detail_ja: str | None = None,
    detail_en: str | None = None,
    **kw: Any,
) -> Check:
    """A failed check with the default message of ``code``, plus an optional detail."""
    ja, en = CODES[code]
    if detail_ja:
        ja = f"{ja}: {detail_ja}"
    if detail_en:
        en = f"{en}: {detail_en}"
    return Check(check, False, code, ja, en, **kw)


def from_error(check: str, error: FurusatoError, **kw: Any) -> Check:
    """A failed check from an exception of our hierarchy."""
    code = error.code if error.code in CODES else "malformed"
    kw.setdefault("path", error.path)
    if code == "signature_invalid":
        # The low-level message ("Ed25519 verification failed") says less than the code's.
        ja, en = CODES[code]
        return Check(check, False, code, ja, en, **kw)
    return Check(check, False, code, error.message_ja, error.message_en, **kw)


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of verifying a credential or a presentation."""

    verified: bool
    checks: tuple[Check, ...]
    warnings: tuple[Check, ...] = ()
    kind: str = "unknown"  # "credential" | "presentation" | "unknown"
    document: Mapping[str, Any] | None = None
    credentials: tuple[VerificationResult, ...] = field(default=())
    # what was verified: "ldp_vc" | "jwt_vc_json" | "dc+sd-jwt" (vc.formats); None: unknown
    format: str | None = None

    @classmethod
    def of(
        cls,
        checks: Iterable[Check],
        *,
        warnings: Iterable[Check] = (),
        kind: str = "unknown",
        document: Mapping[str, Any] | None = None,
        credentials: Iterable[VerificationResult] = (),
    ) -> VerificationResult:
        checks = tuple(checks)
        credentials = tuple(credentials)
        verified = (
            bool(checks) and all(c.ok for c in checks) and all(r.verified for r in credentials)
        )
        return cls(verified, checks, tuple(warnings), kind, document, credentials)

    @property
    def errors(self) -> tuple[Check, ...]:
        """Every failed check, including those of embedded credentials."""
        own = tuple(c for c in self.checks if not c.ok)
        nested = tuple(e for r in self.credentials for e in r.errors)
        return own + nested

    @property
    def codes(self) -> list[str]:
        """Failure codes, in order, without repeats."""
        seen: dict[str, None] = {}
        for check in self.errors:
            seen.setdefault(check.code, None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verified": self.verified, "kind": self.kind}
        if self.format is not None:
            out["format"] = self.format
        out |= {
            "codes": self.codes,
            "checks": [c.to_json() for c in self.checks],
            "warnings": [w.to_json() for w in self.warnings],
        }
        if self.credentials:
            out["credentials"] = [r.to_json() for r in self.credentials]
        return out
