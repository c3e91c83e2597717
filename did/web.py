"""did:web (W3C-CCG did:web method, §"Read"; REFERENCES.md §4) and its DID documents.

``did:web:<host>[%3A<port>][:<path>…]`` ↔ ``https://<host>[:<port>]/<path…>/did.json``, or
``https://<host>[:<port>]/.well-known/did.json`` without a path. Hosts are lowercase DNS
names (A-label / punycode for international names); IP addresses are refused.

Fetching is the shell's job (:mod:`did.resolver` takes a fetcher); this module is pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from did.errors import DIDError, LimitExceededError, MalformedValueError
from did.key import DID_CONTEXT, MULTIKEY_CONTEXT
from did.keys import PublicKey

__all__ = [
    "VerificationKeyEntry",
    "build_did_document",
    "did_web_to_url",
    "url_to_did_web",
]

PREFIX = "did:web:"
MAX_DID_WEB_LENGTH = 2048
LOCALHOST = "localhost"

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SEGMENT = re.compile(r"(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})+")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_PORT_SEP = re.compile(r"%3[Aa]")
_FRAGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@/?-]+")


def _bad(en: str, ja: str) -> DIDError:
    return DIDError("did:web: " + en, "did:web: " + ja)


def _check_host(host: str) -> str:
    if not host:
        raise _bad("the host is empty", "ホスト名が空です")
    if host == LOCALHOST:
        return host
    if not host.isascii():
        raise _bad(
            f"the host {host!r} must be ASCII (use the punycode A-label form)",
            f"ホスト名 {host!r} は ASCII でなければなりません"
            " (punycode の A ラベル形式を使ってください)",
        )
    if host != host.lower():
        raise _bad(
            f"the host {host!r} must be lowercase",
            f"ホスト名 {host!r} は小文字でなければなりません",
        )
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels):
        raise _bad(
            f"{host!r} is not a valid domain name", f"{host!r} は正しいドメイン名ではありません"
        )
    if labels[-1].isdigit():
        raise _bad(
            f"{host!r} looks like an IP address; did:web needs a domain name",
            f"{host!r} は IP アドレスのようです。did:web にはドメイン名が必要です",
        )
    return host


def _check_port(port: str) -> str:
    if _PORT.fullmatch(port) is None or int(port) > 65535:
        raise _bad(f"invalid port {port!r}", f"ポート番号 {port!r} が不正です")
    return port


def _check_segments(segments: Sequence[str]) -> None:
    for segment in segments:
        if _SEGMENT.fullmatch(segment) is None or segment in (".", ".."):
            raise _bad(
                f"invalid path segment {segment!r}", f"パスのセグメント {segment!r} が不正です"
            )


def _parse(did: str) -> tuple[str, str | None, list[str]]:
    if not isinstance(did, str):
        raise _bad("expected a string", "文字列が必要です")
    if len(did) > MAX_DID_WEB_LENGTH:
        raise LimitExceededError(
            f"did:web: longer than {MAX_DID_WEB_LENGTH} characters",
            f"did:web: {MAX_DID_WEB_LENGTH} 文字を超えています",
        )
    if not did.startswith(PREFIX):
        raise DIDError(
            f"not a did:web DID: {did[:60]!r}", f"did:web の DID ではありません: {did[:60]!r}"
        )
    if any(c in did for c in "#?/"):
        raise _bad(
            "expected a DID without path, query or fragment",
            "パス・クエリ・フラグメントのない DID が必要です",
        )
    host_part, *segments = did[len(PREFIX) :].split(":")
    host, *ports = _PORT_SEP.split(host_part)
    if len(ports) > 1:
        raise _bad("more than one port", "ポートが複数あります")
    if "%" in host:
        raise _bad(
            "only the port colon may be percent-encoded in the host",
            "ホスト部で percent エンコードできるのはポートのコロンのみです",
        )
    _check_host(host)
    port = _check_port(ports[0]) if ports else None
    _check_segments(segments)
    return host, port, segments


def did_web_to_url(did: str) -> str:
    """The HTTPS URL of a did:web DID's document (did:web §"Read").

    ``did:web:example.com`` → ``https://example.com/.well-known/did.json``;
    ``did:web:example.com%3A3000:user:alice`` → ``https://example.com:3000/user/alice/did.json``.
    Raises :class:`DIDError` on anything else (IP address, bad port, empty segment, …).
    """
    host, port, segments = _parse(did)
    authority = host if port is None else f"{host}:{port}"
    path = "/".join(segments) if segments else ".well-known"
    return f"https://{authority}/{path}/did.json"


def url_to_did_web(url: str) -> str:
    """The did:web DID for ``https://host[:port][/path…]`` (the inverse of :func:`did_web_to_url`).

    A trailing ``/did.json`` or ``/.well-known/did.json`` is removed. ``http://`` is accepted
    only for the host ``localhost``, so tests can run a loopback server; the DID is the same
    (``did_web_to_url`` always answers ``https://``, and a test fetcher maps it back).
    """
    if not isinstance(url, str):
        raise _bad("expected a URL string", "URL 文字列が必要です")
    if len(url) > MAX_DID_WEB_LENGTH:
        raise LimitExceededError(
            f"did:web: URL longer than {MAX_DID_WEB_LENGTH} characters",
            f"did:web: URL が {MAX_DID_WEB_LENGTH} 文字を超えています",
        )
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("https", "http"):
        raise _bad(f"not an https URL: {url[:60]!r}", f"https の URL ではありません: {url[:60]!r}")
    if any(c in rest for c in "?#@\\") or any(c.isspace() for c in rest):
        raise _bad(
            "the URL must not contain user info, query, fragment or whitespace",
            "URL にユーザー情報・クエリ・フラグメント・空白を含めることはできません",
        )
    authority, _, path = rest.partition("/")
    host, colon, port = authority.partition(":")
    host = host.lower() if host.isascii() else host
    if scheme.lower() == "http" and host != LOCALHOST:
        raise _bad(
            "http:// is only allowed for localhost; use https://",
            "http:// は localhost にのみ使えます。https:// を使ってください",
        )
    _check_host(host)
    if colon:
        _check_port(port)
    path = path.removesuffix("/")
    if path == ".well-known/did.json":
        path = ""
    elif path.endswith("/did.json"):
        path = path[: -len("/did.json")]
    elif path == "did.json":
        raise _bad(
            "did.json must be under /.well-known/ or a path",
            "did.json は /.well-known/ かパスの下に置く必要があります",
        )
    segments = path.split("/") if path else []
    _check_segments(segments)
    did = PREFIX + host + (f"%3A{port}" if colon else "")
    return ":".join([did, *segments])


# --- DID documents with key history -------------------------------------------------------


@dataclass(frozen=True)
class VerificationKeyEntry:
    """One key of a DID document, with its history (ISO 8601 timestamps as given).

    ``valid_from``/``valid_until`` bound the signing window of the key; ``revoked`` marks a
    compromised key (everything it signed fails). The core never reads the clock.
    """

    fragment: str
    public_key: PublicKey
    valid_from: str | None = None
    valid_until: str | None = None
    revoked: str | None = None

    @property
    def is_current(self) -> bool:
        """Neither retired (``valid_until``) nor revoked."""
        return self.valid_until is None and self.revoked is None


def _check_fragment(fragment: str) -> str:
    if not isinstance(fragment, str) or _FRAGMENT.fullmatch(fragment) is None:
        raise MalformedValueError(
            f"invalid verification method fragment {fragment!r}",
            f"検証メソッドのフラグメント {fragment!r} が不正です",
        )
    return fragment


def build_did_document(
    did: str,
    keys: Sequence[VerificationKeyEntry],
    *,
    assertion: Sequence[str] | None = None,
    authentication: Sequence[str] | None = None,
    services: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A did:web DID document with ``Multikey`` methods ``<did>#<fragment>``, all ids absolute.

    ``assertion``/``authentication`` name fragments; by default ``assertionMethod`` lists
    every key that is not revoked (retired keys must stay listed so credentials signed before
    a rotation keep verifying under CID 1.0 §3.3 "Retrieve Verification Method"), and
    ``authentication`` lists only current keys (no ``valid_until``, not revoked). Revoked
    keys stay in ``verificationMethod`` so verifiers can tell "revoked" from "unknown".
    """
    _parse(did)
    fragments = [_check_fragment(entry.fragment) for entry in keys]
    if len(set(fragments)) != len(fragments):
        raise MalformedValueError(
            "duplicate verification method fragment", "検証メソッドのフラグメントが重複しています"
        )

    methods: list[dict[str, Any]] = []
    for entry in keys:
        if not isinstance(entry.public_key, PublicKey):
            raise MalformedValueError(
                "public_key must be a PublicKey", "public_key は PublicKey でなければなりません"
            )
        vm: dict[str, Any] = {
            "id": f"{did}#{entry.fragment}",
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": entry.public_key.multikey,
        }
        # Key history. "revoked" is CID 1.0 §3.3 (defined in the multikey/v1 context, same
        # meaning: proofs by this key are not to be verified at all). "validFrom"/"validUntil"
        # are OUR extension (not in any context, so JSON-LD processing drops them): they bound
        # the signing window. CID's "expires" is deliberately not used for valid_until: CID
        # says nothing signed by the method verifies at or after "expires", which would break
        # credentials signed before a rotation.
        if entry.valid_from is not None:
            vm["validFrom"] = entry.valid_from
        if entry.valid_until is not None:
            vm["validUntil"] = entry.valid_until
        if entry.revoked is not None:
            vm["revoked"] = entry.revoked
        methods.append(vm)

    def listed(chosen: Sequence[str] | None, default: list[str], name: str) -> list[str]:
        if chosen is None:
            return [f"{did}#{f}" for f in default]
        if isinstance(chosen, str):
            raise MalformedValueError(
                f"{name}: expected a sequence of fragments", f"{name}: フラグメントの列が必要です"
            )
        for fragment in chosen:
            if fragment not in fragments:
                raise MalformedValueError(
                    f"{name}: unknown fragment {fragment!r}",
                    f"{name}: 不明なフラグメント {fragment!r} です",
                )
        return [f"{did}#{f}" for f in chosen]

    not_revoked = [e.fragment for e in keys if e.revoked is None]
    current = [e.fragment for e in keys if e.is_current]
    document: dict[str, Any] = {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": listed(assertion, not_revoked, "assertionMethod"),
        "authentication": listed(authentication, current, "authentication"),
    }
    if services:
        document["service"] = [_service(did, s) for s in services]
    return document


def _service(did: str, service: Mapping[str, Any]) -> dict[str, Any]:
    """A service entry (CID 1.0 §2.1.3): ``type`` and ``serviceEndpoint`` required; ids absolute."""
    if (
        not isinstance(service, Mapping)
        or "type" not in service
        or "serviceEndpoint" not in service
    ):
        raise MalformedValueError(
            "a service needs 'type' and 'serviceEndpoint'",
            "サービスには 'type' と 'serviceEndpoint' が必要です",
        )
    result = dict(service)
    service_id = result.get("id")
    if isinstance(service_id, str) and service_id.startswith("#"):
        result["id"] = did + service_id
    return result
