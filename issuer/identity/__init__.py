"""Identity proofing for premium registration (DESIGN.md §10).

A provider (``oidc``: the Digital Agency's デジタル認証アプリ-style OIDC login; ``jpki``: a
signature by the My Number Card's signing certificate) yields a :class:`ProvenIdentity`.  The
issuer uses it for the programme's checks — the person key (:func:`person_key`) and the home
municipality (:mod:`issuer.identity.address`) — and then drops it: the name, birth date,
gender and address are never stored and never logged (``repr`` hides them).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from issuer.errors import ServiceError

PROBLEM_BASE = "https://w3id.org/furusato/problems#"


class IdentityError(ServiceError):
    """Identity could not be proven; ``code`` says why (each provider documents its codes)."""

    status: ClassVar[int] = 400
    code = "identity_not_proven"
    problem_type = PROBLEM_BASE + "identity_not_proven"
    title_en = "Identity not proven"
    title_ja = "本人確認ができませんでした"


@dataclass(frozen=True)
class ProvenIdentity:
    """The verified attributes of a person (基本4情報 without the My Number).

    ``method`` is ``"oidc"`` or ``"jpki"``.  ``gender`` may be absent (providers differ).
    Used for the checks of one request, then dropped; never stored, never logged.
    """

    method: str
    name: str = field(repr=False)
    birth_date: date = field(repr=False)
    address: str = field(repr=False)
    gender: str | None = field(default=None, repr=False)


def normalized_name(name: str) -> str:
    """NFKC, without any kind of space (ＪＰＫＩ and OIDC spell the same name differently)."""
    text = unicodedata.normalize("NFKC", name)
    return "".join(ch for ch in text if not ch.isspace() and ch != "\u3000")


def person_key(identity: ProvenIdentity, pepper: bytes) -> str:
    """The only thing the system keeps about a person: HMAC-SHA256 with the deployment's
    pepper over the normalized name and the birth date (hex).

    The same person gets the same key whichever provider proved them; without the pepper the
    key cannot be linked back to a name.  Address and gender are left out (an address changes,
    and providers do not all give gender); two different people with the same name and birth
    date share a key, which can only make the 3-municipality rule stricter for them, never
    looser (docs/premium.md).
    """
    if len(pepper) < 32:
        raise ValueError("the pepper must have at least 32 bytes")
    message = "furusato-person-v1\x1f" + normalized_name(identity.name) + "\x1f"
    message += identity.birth_date.isoformat()
    return hmac.new(pepper, message.encode("utf-8"), hashlib.sha256).hexdigest()


def pepper_from_secret(secret: str) -> bytes:
    """The deployment's pepper, derived from its secret (FURUSATO_ISSUER_SECRET) so that it
    never needs storing: HMAC-SHA256(secret, "furusato person pepper v1")."""
    return hmac.new(secret.encode("utf-8"), b"furusato person pepper v1", hashlib.sha256).digest()
