"""The wallet's store: one sealed file, written atomically.

``WALLET_DIR/wallet.sealed`` is a ``shellkit.secretbox`` envelope (scrypt + AES-256-GCM under
the wallet passphrase) of the wallet's JSON: the credentials with their per-registration
holder keys, the premium applications in progress (with their status tokens), and the
resident's preferences.  Nothing is ever written in clear — private keys
included.  Every save goes to a temporary file in the same directory, is flushed to disk and
renamed over the old file (then the directory is flushed), so a crash leaves the old wallet
or the new one, never a half-written file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from did.errors import FurusatoError, ParsingError
from did.jsonio import Limits, load_json
from shellkit.files import atomic_write
from shellkit.secretbox import open_sealed, seal

FORMAT = 1
FILE_NAME = "wallet.sealed"
MAX_WALLET_BYTES = 32 * 1024 * 1024


class WalletError(FurusatoError):
    code = "wallet_error"


CREDENTIAL_FORMATS = ("ldp_vc", "jwt_vc_json", "dc+sd-jwt")
"""The OID4VCI formats the wallet keeps (docs/formats.md)."""


@dataclass
class StoredCredential:
    """A credential and the holder key made for its registration.

    ``format`` is the OID4VCI format (:data:`CREDENTIAL_FORMATS`).  For ``ldp_vc``
    ``credential`` is the credential as received.  For the compact formats ``encoded`` is the
    string as received (what is presented) and ``credential`` its decoded JSON, checked at
    receipt: the VC-JWT's payload (``jwt_vc_json``), the processed claims with every
    disclosure (``dc+sd-jwt``) — what ``list`` and ``show`` read.  Wallets written before the
    compact formats have no ``encoded`` member; they load as they are.
    """

    id: str
    format: str
    credential: dict[str, Any]
    holder_jwk: dict[str, str] = field(repr=False)
    issuer_url: str
    received_at: str
    state: str = "unknown"  # active | revoked | suspended | unknown, as last checked
    checked_at: str | None = None
    encoded: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        value = {
            "id": self.id,
            "format": self.format,
            "credential": self.credential,
            "holderJwk": self.holder_jwk,
            "issuerUrl": self.issuer_url,
            "receivedAt": self.received_at,
            "state": self.state,
            "checkedAt": self.checked_at,
        }
        if self.encoded is not None:
            value["encoded"] = self.encoded
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> StoredCredential:
        stored = cls(
            value["id"],
            value["format"],
            value["credential"],
            value["holderJwk"],
            value["issuerUrl"],
            value["receivedAt"],
            value.get("state", "unknown"),
            value.get("checkedAt"),
            _optional_str(value.get("encoded")),
        )
        if stored.format not in CREDENTIAL_FORMATS or (
            (stored.encoded is None) != (stored.format == "ldp_vc")
        ):
            raise TypeError(f"unknown or incomplete credential format {stored.format!r}")
        return stored


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _optional_dict(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


APPLICATION_STATES = ("identity", "submitted", "approved", "rejected", "issued")
DONE_STATES = ("rejected", "issued")


@dataclass
class StoredApplication:
    """A premium application sent from this wallet: where to ask for its state, the secret
    token that reads it, and the registration (credential and key) that applied."""

    lg_code: str
    application_id: str
    status_token: str = field(repr=False)
    status_url: str
    credential_id: str  # the resident credential that applied; its key receives the premium one
    issuer_url: str
    created_at: str
    state: str = "identity"  # as last seen: identity | submitted | approved | rejected | issued
    identity_url: str | None = field(default=None, repr=False)  # a one-time login link
    identity_expires_at: str | None = None
    min_activities: int | None = None
    reason: str | None = None  # of a rejection
    checked_at: str | None = None
    # Receiving the approved credential as an SD-JWT VC with name and birth date: the private
    # X25519 JWK the issuer seals it to (kept until it is received), and the identity link.
    personal_key: dict[str, Any] | None = field(default=None, repr=False)
    personal_url: str | None = field(default=None, repr=False)
    personal_expires_at: str | None = None

    @property
    def done(self) -> bool:
        """Nothing more to ask the issuer (a sealed credential not yet collected is not)."""
        return self.state in DONE_STATES and self.personal_key is None

    def to_json(self) -> dict[str, Any]:
        return {
            "lgCode": self.lg_code,
            "applicationId": self.application_id,
            "statusToken": self.status_token,
            "statusUrl": self.status_url,
            "credentialId": self.credential_id,
            "issuerUrl": self.issuer_url,
            "createdAt": self.created_at,
            "state": self.state,
            "identityUrl": self.identity_url,
            "identityExpiresAt": self.identity_expires_at,
            "minActivities": self.min_activities,
            "reason": self.reason,
            "checkedAt": self.checked_at,
            "personalKey": self.personal_key,
            "personalUrl": self.personal_url,
            "personalExpiresAt": self.personal_expires_at,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> StoredApplication:
        application = cls(
            str(value["lgCode"]),
            str(value["applicationId"]),
            str(value["statusToken"]),
            str(value["statusUrl"]),
            str(value["credentialId"]),
            str(value["issuerUrl"]),
            str(value["createdAt"]),
            str(value.get("state") or "identity"),
            _optional_str(value.get("identityUrl")),
            _optional_str(value.get("identityExpiresAt")),
            _optional_int(value.get("minActivities")),
            _optional_str(value.get("reason")),
            _optional_str(value.get("checkedAt")),
            _optional_dict(value.get("personalKey")),
            _optional_str(value.get("personalUrl")),
            _optional_str(value.get("personalExpiresAt")),
        )
        if application.state not in APPLICATION_STATES:
            raise TypeError(f"unknown application state {application.state!r}")
        return application


@dataclass
class Wallet:
    credentials: list[StoredCredential] = field(default_factory=list)
    prefs: dict[str, Any] = field(default_factory=dict)
    # Added with premium registration: wallets written before have no "applications" (the
    # format stays 1; older versions of the wallet ignore the member).
    applications: list[StoredApplication] = field(default_factory=list)
    # Added with notices (docs/notices.md): the feeds last verified, with their ETag, and the
    # hands raised ({"feeds": {lgCode: …}, "hands": {noticeId: …}}).  The topic preferences
    # are ``prefs["topics"]``.  Like everything here, they never leave the device.
    notices: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "credentials": [c.to_json() for c in self.credentials],
            "prefs": self.prefs,
            "applications": [a.to_json() for a in self.applications],
            "notices": self.notices,
        }

    @classmethod
    def from_json(cls, value: Any) -> Wallet:
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            raise WalletError(
                "the wallet file has an unknown format", "ウォレットのファイル形式が不明です"
            )
        try:
            return cls(
                [StoredCredential.from_json(c) for c in value["credentials"]],
                dict(value.get("prefs") or {}),
                [StoredApplication.from_json(a) for a in value.get("applications") or []],
                value["notices"] if isinstance(value.get("notices"), dict) else {},
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise WalletError(
                "the wallet file is damaged", "ウォレットのファイルが壊れています"
            ) from exc

    def find(self, reference: str) -> StoredCredential:
        """A credential by id, or by a unique prefix of the id (with or without urn:uuid:)."""
        reference = reference.strip()
        if not reference:
            raise WalletError(
                "give the id of a credential (see list)",
                "証明書の ID を指定してください (list で確認できます)",
                code="not_found",
            )
        matches = [
            c
            for c in self.credentials
            if c.id == reference
            or c.id.startswith(reference)
            or c.id.removeprefix("urn:uuid:").startswith(reference)
        ]
        exact = [c for c in matches if c.id == reference]
        if exact:
            return exact[0]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise WalletError(
                f"no credential {reference!r} in the wallet",
                f"ウォレットに証明書 {reference!r} はありません",
                code="not_found",
            )
        raise WalletError(
            f"{reference!r} matches {len(matches)} credentials; give more of the id",
            f"{reference!r} に当てはまる証明書が {len(matches)} 件あります。ID をもう少し長く指定してください",
            code="ambiguous",
        )


def seal_json(value: Any, passphrase: str, random_bytes: Callable[[int], bytes]) -> bytes:
    envelope = seal(
        json.dumps(value, ensure_ascii=False).encode("utf-8"), passphrase, random_bytes=random_bytes
    )
    return json.dumps(envelope).encode("ascii")


def open_json(data: bytes, passphrase: str) -> Any:
    envelope = load_json(data, Limits(max_bytes=MAX_WALLET_BYTES, max_depth=4))
    if not isinstance(envelope, dict):
        raise ParsingError(
            "not a sealed wallet file", "封印されたウォレットのファイルではありません"
        )
    plain = open_sealed(envelope, passphrase)
    return load_json(plain, Limits(max_bytes=MAX_WALLET_BYTES, max_depth=48, max_nodes=2_000_000))


class WalletStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME

    def exists(self) -> bool:
        return self.path.is_file()

    def create(self, passphrase: str, random_bytes: Callable[[int], bytes]) -> Wallet:
        if self.exists():
            raise WalletError(
                f"a wallet already exists in {self.directory}",
                f"{self.directory} には既にウォレットがあります",
                code="exists",
            )
        wallet = Wallet()
        self.save(wallet, passphrase, random_bytes)
        return wallet

    def load(self, passphrase: str) -> Wallet:
        if not self.exists():
            raise WalletError(
                f"no wallet in {self.directory} (run: furusato-wallet init)",
                f"{self.directory} にウォレットがありません (furusato-wallet init で作成してください)",
                code="no_wallet",
            )
        return Wallet.from_json(open_json(self.path.read_bytes(), passphrase))

    def save(self, wallet: Wallet, passphrase: str, random_bytes: Callable[[int], bytes]) -> None:
        atomic_write(self.path, seal_json(wallet.to_json(), passphrase, random_bytes))
