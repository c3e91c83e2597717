"""The static JSON-LD document loader: bundled, hash-pinned contexts and nothing else.

JSON-LD processing fetches every ``@context`` URL.  A loader that goes to the network lets
whoever serves a context change what a signature covers, and leaks which credentials a
verifier is checking.  This loader serves only the files under ``schemas/contexts/``
(``index.json`` maps URL → file), each checked against the SHA-256 pinned below when first
read, plus an explicit extra set a caller passes in.  Any other URL fails with
:class:`ContextNotAllowedError`.  (DESIGN.md §4; VC Data Integrity §2.4.1; STYLE.md 6.)
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from did.errors import ContextNotAllowedError

CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"
CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
DID_V1 = "https://www.w3.org/ns/did/v1"
UNDEFINED_TERMS_V2 = "https://www.w3.org/ns/credentials/undefined-terms/v2"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"
FURUSATO_V1 = "https://w3id.org/furusato/v1"
JWS_2020_V1 = "https://w3id.org/security/suites/jws-2020/v1"

# SHA-256 of each bundled file.  A mismatch means the installed package was altered: fail
# rather than sign or verify against different definitions.  Provenance of each file is in
# schemas/contexts/PROVENANCE.md.
PINNED_SHA256: dict[str, str] = {
    CREDENTIALS_V2: "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
    CREDENTIALS_V1: "ab4ddd9a531758807a79a5b450510d61ae8d147eab966cc9a200c07095b0cdcc",
    DATA_INTEGRITY_V2: "67f21e6e33a6c14e5ccfd2fc7865f7474fb71a04af7e94136cb399dfac8ae8f4",
    MULTIKEY_V1: "ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597",
    DID_V1: "4f3eae5568c9c5f036a082088f9e192019ee06faa78973c87ff91d5421b88dad",
    UNDEFINED_TERMS_V2: "82dab514ba44eb18f5d1b0f638c5e140c6a556fbfb5089601bdc0fa5eb8b2581",
    EXAMPLES_V2: "57393fbc69d6efb9b9b5dc9cb6b9880b0944360abfe2eaf459c9e58cf2279d7c",
    JWS_2020_V1: "d648e05ddc6577827ca2bfd5e931f53e9ebc6e52a57a8da81df4ec8c46ffcd1e",
    FURUSATO_V1: "4c30ee367b4b841ad24b9d437687f2eeed8e811cd14cb00426bf5862bcd9589f",
}


@cache
def _index() -> dict[str, str]:
    text = resources.files("schemas").joinpath("contexts/index.json").read_text("utf-8")
    index: dict[str, str] = json.loads(text)
    return index


def bundled_context_urls() -> frozenset[str]:
    """Every context URL the package ships."""
    return frozenset(_index())


@cache
def _load_bundled(url: str) -> dict[str, Any]:
    name = _index()[url]
    data = resources.files("schemas").joinpath(f"contexts/{name}").read_bytes()
    if hashlib.sha256(data).hexdigest() != PINNED_SHA256.get(url):
        raise ContextNotAllowedError(
            f"bundled context {url} does not match its pinned hash (package altered?)",
            f"同梱コンテキスト {url} のハッシュが一致しません (パッケージが改変されています)",
        )
    document: dict[str, Any] = json.loads(data)
    return document


def bundled_context(url: str) -> dict[str, Any]:
    """A deep copy of one bundled context document (callers may mutate it)."""
    if url not in _index():
        raise _not_allowed(url)
    return copy.deepcopy(_load_bundled(url))


def _not_allowed(url: str) -> ContextNotAllowedError:
    shown = url if len(url) <= 200 else url[:200] + "…"
    return ContextNotAllowedError(
        f"the JSON-LD context {shown!r} is not one this software accepts "
        "(only bundled contexts are loaded; nothing is fetched from the network)",
        f"JSON-LD コンテキスト {shown!r} は受け付けていません "
        "(同梱のコンテキストのみ使用し、ネットワークからは取得しません)",
        path="@context",
    )


class StaticDocumentLoader:
    """A pyld document loader over the bundled contexts (and an optional explicit extra set).

    ``allowed`` narrows the bundled set (a verifier that must refuse, say, the
    undefined-terms context passes the URLs it accepts).  ``extra`` adds documents by URL;
    it may not replace a bundled URL.
    """

    def __init__(
        self,
        extra: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        allowed: Iterable[str] | None = None,
    ) -> None:
        bundled = bundled_context_urls()
        self._allowed = frozenset(allowed) & bundled if allowed is not None else bundled
        self._extra: dict[str, Mapping[str, Any]] = {}
        for url, document in (extra or {}).items():
            if url in bundled:
                raise ContextNotAllowedError(
                    f"cannot replace the bundled context {url}",
                    f"同梱コンテキスト {url} は置き換えられません",
                )
            self._extra[url] = copy.deepcopy(dict(document))

    @property
    def urls(self) -> frozenset[str]:
        return self._allowed | frozenset(self._extra)

    def __contains__(self, url: object) -> bool:
        return url in self._allowed or url in self._extra

    def document(self, url: str) -> dict[str, Any]:
        """The parsed document for ``url`` (shared: do not mutate)."""
        if url in self._allowed:
            return _load_bundled(url)
        if url in self._extra:
            return dict(self._extra[url])
        raise _not_allowed(url)

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The pyld ``RemoteDocument`` interface."""
        document = self.document(url)
        remote: dict[str, Any] = {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": document,
        }
        if url in self._allowed:
            # Bundled contexts never change for a URL, so pyld may keep their processed form
            # in its process-wide cache (only documents with a tag go there).
            remote["tag"] = "static"
        return remote


# Bundled but not served by default: the undefined-terms context turns safe mode off (every
# unknown term would be signed under a catch-all @vocab), and the examples context is test
# data of the W3C vectors.  Tests pass them explicitly.
NOT_SERVED_BY_DEFAULT = frozenset({UNDEFINED_TERMS_V2, EXAMPLES_V2})


@cache
def default_loader() -> StaticDocumentLoader:
    """The loader over the bundled contexts a furusato document may use."""
    return StaticDocumentLoader(allowed=bundled_context_urls() - NOT_SERVED_BY_DEFAULT)
