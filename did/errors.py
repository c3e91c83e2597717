"""The one exception hierarchy of furusato-vc.

Every error raised by the core derives from :class:`FurusatoError`. Each carries

* ``code`` — a stable machine code (snake_case, never renamed once released), the same
  vocabulary as the verification checks of DESIGN.md §9 where one fits;
* ``problem_type`` — the problem-type URL of the W3C specification that defines the
  error class (VCDM 2.0 §7.2, Data Integrity §4.7), used by the HTTP shells for
  RFC 9457 problem+json;
* a message in Japanese and in English (``message_ja`` / ``message_en``), because every
  message a person reads exists in both;
* optionally ``path``: where in the input the problem is (a JSON pointer-like dotted path).

The shells translate this hierarchy exactly once each (FastAPI → problem+json;
click → message and exit code).  The core never prints.

This module lives in ``did`` because ``did`` is the bottom layer of the core: ``schemas``
and ``vc`` import it, and it imports nothing of ours.
"""

from __future__ import annotations

from typing import ClassVar

VCDM = "https://www.w3.org/TR/vc-data-model#"
SECURITY = "https://w3id.org/security#"

PARSING_ERROR = VCDM + "PARSING_ERROR"
CRYPTOGRAPHIC_SECURITY_ERROR = VCDM + "CRYPTOGRAPHIC_SECURITY_ERROR"
MALFORMED_VALUE_ERROR = VCDM + "MALFORMED_VALUE_ERROR"
RANGE_ERROR = VCDM + "RANGE_ERROR"
PROOF_GENERATION_ERROR = SECURITY + "PROOF_GENERATION_ERROR"
PROOF_VERIFICATION_ERROR = SECURITY + "PROOF_VERIFICATION_ERROR"
PROOF_TRANSFORMATION_ERROR = SECURITY + "PROOF_TRANSFORMATION_ERROR"
INVALID_DOMAIN_ERROR = SECURITY + "INVALID_DOMAIN_ERROR"
INVALID_CHALLENGE_ERROR = SECURITY + "INVALID_CHALLENGE_ERROR"
DATA_LOSS_DETECTION_ERROR = SECURITY + "DATA_LOSS_DETECTION_ERROR"


class FurusatoError(Exception):
    """Root of every error raised by furusato-vc."""

    code: ClassVar[str] = "error"
    problem_type: ClassVar[str] = PARSING_ERROR
    title_en: ClassVar[str] = "Error"
    title_ja: ClassVar[str] = "エラー"

    def __init__(
        self,
        message_en: str,
        message_ja: str,
        *,
        path: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_ja = message_ja
        self.path = path
        if code is not None:
            # An instance may narrow the class code (e.g. a DIDError that is "did_not_found").
            self.code = code  # type: ignore[misc]

    def message(self, lang: str = "ja") -> str:
        """The message in one language (``ja`` or ``en``)."""
        return self.message_en if lang == "en" else self.message_ja

    def bilingual(self) -> str:
        """Japanese, then English, on one line: what a CLI prints."""
        return f"{self.message_ja} / {self.message_en}"

    def __str__(self) -> str:  # logs and tracebacks are English
        return self.message_en


# --- VCDM 2.0 problem classes ---------------------------------------------------------------


class ParsingError(FurusatoError):
    """The input could not be parsed (not JSON, not an object, …)."""

    code = "malformed"
    problem_type = PARSING_ERROR
    title_en = "Parsing error"
    title_ja = "解析エラー"


class LimitExceededError(ParsingError):
    """The input exceeds a bound (size, depth, count) set to protect the process."""

    code = "limit_exceeded"
    title_en = "Input too large"
    title_ja = "入力が大きすぎます"


class MalformedValueError(FurusatoError):
    """A property has a malformed value; ``path`` names it."""

    code = "malformed"
    problem_type = MALFORMED_VALUE_ERROR
    title_en = "Malformed value"
    title_ja = "値の形式が不正です"


class ValueRangeError(FurusatoError):
    """A value lies outside its allowed range (e.g. a status index past the list's end)."""

    code = "malformed"
    problem_type = RANGE_ERROR
    title_en = "Value out of range"
    title_ja = "値が範囲外です"


class CryptographicSecurityError(FurusatoError):
    """A securing mechanism detected a modification or could not be checked."""

    code = "signature_invalid"
    problem_type = CRYPTOGRAPHIC_SECURITY_ERROR
    title_en = "Cryptographic security error"
    title_ja = "暗号検証エラー"


class InvalidSignatureError(CryptographicSecurityError):
    """A signature does not verify under the given key.  Low-level checks raise this."""


class UnsupportedError(FurusatoError):
    """An algorithm, key type, cryptosuite or format that we do not (or may not) accept."""

    code = "unsupported_format"
    problem_type = PROOF_VERIFICATION_ERROR
    title_en = "Unsupported format"
    title_ja = "対応していない形式です"


# --- keys and DIDs ---------------------------------------------------------------------------


class KeyFormatError(MalformedValueError):
    """A key (JWK, multikey, raw bytes) is malformed or of the wrong length/curve."""

    code = "invalid_key"
    title_en = "Invalid key"
    title_ja = "鍵の形式が不正です"


class DIDError(MalformedValueError):
    """A DID or DID URL is syntactically invalid (did-core ``invalidDid``)."""

    code = "invalid_did"
    title_en = "Invalid DID"
    title_ja = "DID が不正です"


class DIDResolutionError(FurusatoError):
    """A DID could not be resolved or a verification method could not be dereferenced."""

    code = "verification_method_unresolved"
    problem_type = PROOF_VERIFICATION_ERROR
    title_en = "DID resolution failed"
    title_ja = "DID を解決できません"


# --- JSON-LD -------------------------------------------------------------------------------


class ContextNotAllowedError(ParsingError):
    """A JSON-LD context that the static document loader does not serve."""

    code = "context_not_allowed"
    title_en = "Context not allowed"
    title_ja = "許可されていないコンテキストです"


class UndefinedTermError(MalformedValueError):
    """Safe mode: a term JSON-LD would drop (so the signature would not cover it)."""

    code = "undefined_term"
    problem_type = DATA_LOSS_DETECTION_ERROR
    title_en = "Undefined term"
    title_ja = "未定義の用語があります"


# --- Data Integrity ------------------------------------------------------------------------


class ProofError(FurusatoError):
    """A Data Integrity proof could not be created or is not acceptable."""

    code = "proof_malformed"
    problem_type = PROOF_VERIFICATION_ERROR
    title_en = "Proof error"
    title_ja = "証明 (proof) のエラー"


class ProofGenerationError(ProofError):
    code = "proof_generation_failed"
    problem_type = PROOF_GENERATION_ERROR


class ProofTransformationError(ProofError):
    code = "unsupported_format"
    problem_type = PROOF_TRANSFORMATION_ERROR


class InvalidChallengeError(ProofError):
    code = "challenge_mismatch"
    problem_type = INVALID_CHALLENGE_ERROR


class InvalidDomainError(ProofError):
    code = "domain_mismatch"
    problem_type = INVALID_DOMAIN_ERROR
