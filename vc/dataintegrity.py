"""Data Integrity proofs: add and verify ``DataIntegrityProof`` (VC Data Integrity 1.0 §4).

Proof sets (``proof`` as a list, each proof independent) and proof chains (``previousProof``:
the new proof also signs the proofs it names) are both supported.  The suite does the
transformation and hashing; this module does the generic steps around it: proof
configuration, verification-method retrieval and its relationship, purpose, challenge and
domain.  Low-level failures raise (never return False); ``vc.verify`` turns them into checks.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from did.document import public_key_from_verification_method
from did.errors import (
    DIDResolutionError,
    InvalidChallengeError,
    InvalidDomainError,
    LimitExceededError,
    ProofError,
    ProofGenerationError,
    UnsupportedError,
)
from did.key import public_key_from_did_key
from did.keys import PublicKey, Signer
from did.multibase import base58btc_decode, base58btc_encode
from schemas.loader import (
    CREDENTIALS_V2,
    DATA_INTEGRITY_V2,
    StaticDocumentLoader,
    default_loader,
)
from vc.dates import format_datetime, parse_datetime
from vc.model import as_list, is_url
from vc.suites import ALL_SUITES, Cryptosuite

PROOF_TYPE = "DataIntegrityProof"
ASSERTION_METHOD = "assertionMethod"
AUTHENTICATION = "authentication"
MAX_PROOFS = 8


class VerificationMethodResolver(Protocol):
    """Anything that turns a verification-method URL into the method (``did.resolver``)."""

    def dereference(self, did_url: str, relationship: str | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class VerifiedProof:
    """A proof that verified, with what it was verified against."""

    proof: Mapping[str, Any]
    verification_method: Mapping[str, Any]
    controller: str
    public_key: PublicKey
    created: datetime | None
    expires: datetime | None


def proofs_of(document: Mapping[str, Any], *, max_proofs: int = MAX_PROOFS) -> list[Any]:
    """The proofs of a document as a list (may be empty)."""
    if "proof" not in document:
        return []
    proofs = as_list(document["proof"])
    if len(proofs) > max_proofs:
        raise LimitExceededError(
            f"the document carries more than {max_proofs} proofs",
            f"署名 (proof) が多すぎます (上限 {max_proofs})",
            path="proof",
        )
    return proofs


def _malformed(path: str, en: str, ja: str) -> ProofError:
    return ProofError(f"{path}: {en}", f"{path}: {ja}", path=path)


def _unsecured(document: Mapping[str, Any], previous: object) -> dict[str, Any]:
    """The document without proofs, or with exactly the proofs ``previous`` names (chains)."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    if previous is None:
        return unsecured
    wanted = as_list(previous)
    if not all(isinstance(w, str) for w in wanted):
        raise _malformed(
            "proof.previousProof",
            "must be a string or a list of strings",
            "文字列またはそのリストが必要です",
        )
    existing = [p for p in proofs_of(document) if isinstance(p, dict) and p.get("id") in wanted]
    found = {p.get("id") for p in existing}
    missing = [w for w in wanted if w not in found]
    if missing:
        raise ProofError(
            f"previousProof names a proof that is not present: {missing[0]}",
            f"previousProof が参照する署名がありません: {missing[0]}",
            path="proof.previousProof",
        )
    unsecured["proof"] = existing[0] if len(existing) == 1 else existing
    return unsecured


def with_suite_context(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """``document`` with the Data Integrity context appended when its contexts lack the
    proof terms (a VCDM 1.1 document): the proof must expand like the document (DI §2.4)."""
    contexts = as_list(document.get("@context"))
    if CREDENTIALS_V2 in contexts or DATA_INTEGRITY_V2 in contexts:
        return document
    return {**document, "@context": [*contexts, DATA_INTEGRITY_V2]}


def add_proof(
    document: Mapping[str, Any],
    signer: Signer,
    *,
    verification_method: str,
    suite: Cryptosuite,
    proof_purpose: str = ASSERTION_METHOD,
    created: datetime | None = None,
    expires: datetime | None = None,
    challenge: str | None = None,
    domain: str | Sequence[str] | None = None,
    nonce: str | None = None,
    proof_id: str | None = None,
    previous_proof: str | Sequence[str] | None = None,
    loader: StaticDocumentLoader | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` with a new DataIntegrityProof added (DI §4.2)."""
    loader = loader or default_loader()
    key_type = signer.public_key.key_type
    if key_type not in suite.key_types:
        raise UnsupportedError(
            f"{suite.name} cannot sign with a {key_type} key",
            f"{suite.name} では {key_type} の鍵で署名できません",
        )
    if not is_url(verification_method):
        raise ProofGenerationError(
            "the verification method must be a URL (e.g. did:key:z…#z…)",
            "verificationMethod は URL でなければなりません (例: did:key:z…#z…)",
            path="proof.verificationMethod",
        )
    if "@context" not in document:
        raise ProofGenerationError(
            "the document has no @context", "文書に @context がありません", path="@context"
        )
    if verification_method.startswith("did:key:"):
        # A did:key names its key: signing under another key's name makes a proof that can
        # never verify.  (Other methods need resolution; their check is at verification.)
        named = public_key_from_did_key(verification_method.split("#", 1)[0])
        if named != signer.public_key:
            raise ProofGenerationError(
                "the signing key is not the key the verification method names",
                "署名鍵が verificationMethod の示す鍵と一致しません",
                path="proof.verificationMethod",
            )
    options: dict[str, Any] = {"type": PROOF_TYPE, "cryptosuite": suite.name}
    if proof_id is not None:
        options["id"] = proof_id
    if created is not None:
        options["created"] = format_datetime(created)
    if expires is not None:
        options["expires"] = format_datetime(expires)
    options["verificationMethod"] = verification_method
    options["proofPurpose"] = proof_purpose
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain if isinstance(domain, str) else list(domain)
    if nonce is not None:
        options["nonce"] = nonce
    if previous_proof is not None:
        options["previousProof"] = (
            previous_proof if isinstance(previous_proof, str) else list(previous_proof)
        )

    document = with_suite_context(document)
    unsecured = _unsecured(document, options.get("previousProof"))
    proof_config = {"@context": document["@context"], **options}
    data = suite.verify_data(unsecured, proof_config, key_type, loader)
    signature = signer.sign(data)
    proof = {**options, "proofValue": "z" + base58btc_encode(signature)}

    secured = copy.deepcopy(dict(document))
    existing = proofs_of(document)
    secured["proof"] = [*existing, proof] if existing else proof
    return secured


@lru_cache(maxsize=1024)
def _cached_public_key(items: tuple[tuple[str, Any], ...]) -> PublicKey:
    return public_key_from_verification_method(dict(items))


def _public_key(method: Mapping[str, Any]) -> PublicKey:
    """:func:`public_key_from_verification_method`, remembered per verification method.

    Decoding and validating a key (multibase, multicodec, the Ed25519 point and small-order
    checks) costs about as much as the signature check itself; the result depends only on the
    method's members, so a method seen before (same members, same values) gives the same
    validated key.  Methods with non-scalar members (``publicKeyJwk``) are not remembered;
    errors are never remembered.
    """
    try:
        items = tuple(sorted(method.items()))
        hash(items)
    except TypeError:  # unhashable member values (a JWK object)
        return public_key_from_verification_method(method)
    return _cached_public_key(items)


def _check_string(proof: Mapping[str, Any], key: str) -> str:
    value = proof.get(key)
    if not isinstance(value, str) or not value:
        raise _malformed(f"proof.{key}", "is required (a string)", "必須です (文字列)")
    return value


def verify_proof(
    document: Mapping[str, Any],
    proof: object,
    *,
    resolver: VerificationMethodResolver,
    expected_purpose: str,
    suites: Mapping[str, Cryptosuite] = ALL_SUITES,
    challenge: str | None = None,
    domain: str | None = None,
    loader: StaticDocumentLoader | None = None,
) -> VerifiedProof:
    """Verify one proof of ``document`` (DI §4.3–4.4, §5.9–5.10); raise on any failure."""
    loader = loader or default_loader()
    if not isinstance(proof, dict):
        raise _malformed("proof", "must be an object", "オブジェクトが必要です")
    proof_type = _check_string(proof, "type")
    if proof_type != PROOF_TYPE:
        raise UnsupportedError(
            f"proof type {proof_type[:60]!r} is not supported (only {PROOF_TYPE})",
            f"署名の種類 {proof_type[:60]!r} には対応していません ({PROOF_TYPE} のみ)",
            path="proof.type",
        )
    suite_name = _check_string(proof, "cryptosuite")
    suite = suites.get(suite_name)
    if suite is None:
        raise UnsupportedError(
            f"cryptosuite {suite_name[:60]!r} is not accepted (accepted: {', '.join(suites)})",
            f"暗号スイート {suite_name[:60]!r} は受け付けていません (対応: {', '.join(suites)})",
            path="proof.cryptosuite",
        )
    vm_id = _check_string(proof, "verificationMethod")
    if not is_url(vm_id):
        raise _malformed("proof.verificationMethod", "must be a URL", "URL でなければなりません")
    purpose = _check_string(proof, "proofPurpose")
    proof_value = _check_string(proof, "proofValue")
    if not proof_value.startswith("z"):
        raise _malformed(
            "proof.proofValue",
            "must be base58btc multibase (starting with 'z')",
            "base58btc のマルチベース ('z' で始まる) でなければなりません",
        )
    signature = base58btc_decode(proof_value[1:])
    # DI §2.1: "Time values that are incorrectly serialized without an offset MUST be
    # interpreted as UTC."
    created = (
        parse_datetime(proof["created"], "proof.created", require_offset=False)
        if "created" in proof
        else None
    )
    expires = (
        parse_datetime(proof["expires"], "proof.expires", require_offset=False)
        if "expires" in proof
        else None
    )
    if purpose != expected_purpose:
        raise ProofError(
            f"proof purpose is {purpose[:40]!r}, expected {expected_purpose!r}",
            f"署名の目的が {purpose[:40]!r} ですが、{expected_purpose!r} が必要です",
            path="proof.proofPurpose",
            code="proof_purpose_mismatch",
        )
    if challenge is not None and proof.get("challenge") != challenge:
        raise InvalidChallengeError(
            "the proof's challenge is not the one expected",
            "署名のチャレンジが指定されたものと一致しません",
            path="proof.challenge",
        )
    if domain is not None:
        proof_domain = proof.get("domain")
        if proof_domain is None or set(as_list(proof_domain)) != {domain}:
            raise InvalidDomainError(
                "the proof's domain is not the one expected",
                "署名のドメインが指定されたものと一致しません",
                path="proof.domain",
            )

    method = resolver.dereference(vm_id, expected_purpose)
    controller = method.get("controller")
    if not isinstance(controller, str):
        raise DIDResolutionError(
            f"verification method {vm_id} has no controller",
            f"検証メソッド {vm_id} に controller がありません",
            path="proof.verificationMethod",
        )
    public_key = _public_key(method)
    if public_key.key_type not in suite.key_types:
        raise UnsupportedError(
            f"{suite.name} does not use {public_key.key_type} keys",
            f"{suite.name} では {public_key.key_type} の鍵は使えません",
            path="proof.verificationMethod",
        )

    options = {k: v for k, v in proof.items() if k != "proofValue"}
    unsecured = _unsecured(document, options.get("previousProof"))
    if "@context" in options:
        # vc-di-eddsa §3.2.2 step 4: the proof's context must be a prefix of the document's.
        proof_context = as_list(options["@context"])
        document_context = as_list(document.get("@context"))
        if document_context[: len(proof_context)] != proof_context:
            raise ProofError(
                "the proof's @context does not match the document's",
                "署名の @context が文書のものと一致しません",
                path="proof.@context",
            )
        unsecured["@context"] = options["@context"]
        proof_config = dict(options)
    else:
        proof_config = {"@context": document.get("@context"), **options}
    data = suite.verify_data(unsecured, proof_config, public_key.key_type, loader)
    public_key.verify(signature, data)
    return VerifiedProof(proof, method, controller, public_key, created, expires)
