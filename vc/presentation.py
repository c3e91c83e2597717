"""Verifiable Presentations signed by the holder (VCDM 2.0 §4.13, DI ``authentication``).

A presentation carries credentials and a proof by the holder's key with the verifier's
``challenge`` (and a ``domain``), so it cannot be replayed elsewhere or later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from did.errors import ProofGenerationError
from did.keys import Signer
from schemas.loader import CREDENTIALS_V2, StaticDocumentLoader
from vc.dataintegrity import AUTHENTICATION, add_proof
from vc.issue import controller_of
from vc.model import holder_id, validate_presentation
from vc.suites import EDDSA_RDFC_2022, Cryptosuite


def create_presentation(
    credentials: Sequence[Mapping[str, Any]],
    *,
    holder: str | None = None,
    presentation_id: str | None = None,
    contexts: Sequence[str] = (CREDENTIALS_V2,),
) -> dict[str, Any]:
    """An unsigned presentation of ``credentials``."""
    presentation: dict[str, Any] = {"@context": list(contexts)}
    if presentation_id is not None:
        presentation["id"] = presentation_id
    presentation["type"] = ["VerifiablePresentation"]
    if holder is not None:
        presentation["holder"] = holder
    if credentials:
        presentation["verifiableCredential"] = (
            dict(credentials[0]) if len(credentials) == 1 else [dict(c) for c in credentials]
        )
    return presentation


def sign_presentation(
    presentation: Mapping[str, Any],
    signer: Signer,
    *,
    verification_method: str,
    challenge: str,
    domain: str | None = None,
    created: datetime | None,
    suite: Cryptosuite = EDDSA_RDFC_2022,
    loader: StaticDocumentLoader | None = None,
) -> dict[str, Any]:
    """Add the holder's ``authentication`` proof bound to ``challenge`` (and ``domain``)."""
    validate_presentation(presentation)
    holder = holder_id(presentation)
    if holder is not None and holder != controller_of(verification_method):
        raise ProofGenerationError(
            "the key does not belong to the holder",
            "鍵が提示者 (holder) のものではありません",
            path="holder",
            code="holder_binding_failed",
        )
    if not challenge:
        raise ProofGenerationError(
            "a challenge is required", "チャレンジが必要です", path="proof.challenge"
        )
    return add_proof(
        presentation,
        signer,
        verification_method=verification_method,
        suite=suite,
        proof_purpose=AUTHENTICATION,
        created=created,
        challenge=challenge,
        domain=domain,
        loader=loader,
    )
