"""Issue credentials: check the data model and safe mode, then sign (raises on any problem)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from did.errors import ProofGenerationError
from did.keys import Signer
from schemas.loader import StaticDocumentLoader, default_loader
from vc.dataintegrity import ASSERTION_METHOD, add_proof
from vc.furusato import profile_problems
from vc.jsonld import require_allowed_contexts
from vc.model import issuer_id, validate_credential
from vc.suites import EDDSA_RDFC_2022, Cryptosuite


def controller_of(verification_method: str) -> str:
    """The DID (or URL) part of a verification method id: ``did:key:z…#z…`` → ``did:key:z…``."""
    return verification_method.split("#", 1)[0]


def issue_credential(
    credential: Mapping[str, Any],
    signer: Signer,
    *,
    verification_method: str,
    created: datetime | None,
    suite: Cryptosuite = EDDSA_RDFC_2022,
    loader: StaticDocumentLoader | None = None,
    allow_v1: bool = True,
) -> dict[str, Any]:
    """Sign ``credential`` with an ``assertionMethod`` Data Integrity proof.

    The credential must conform to the data model, every term must be defined (safe mode,
    checked while canonicalizing), and the key must belong to the issuer — the same checks
    a verifier makes, so that we never issue what we would refuse.
    """
    validate_credential(credential, allow_v1=allow_v1)
    for problem in profile_problems(credential):
        raise problem
    require_allowed_contexts(credential, loader or default_loader())
    issuer = issuer_id(credential)
    if issuer != controller_of(verification_method):
        raise ProofGenerationError(
            f"the key {verification_method[:100]} does not belong to the issuer "
            f"{str(issuer)[:100]}",
            f"鍵 {verification_method[:100]} は発行者 {str(issuer)[:100]} のものではありません",
            path="issuer",
            code="issuer_mismatch",
        )
    return add_proof(
        credential,
        signer,
        verification_method=verification_method,
        suite=suite,
        proof_purpose=ASSERTION_METHOD,
        created=created,
        loader=loader,
    )
