"""The static document loader: bundled, pinned contexts only (DESIGN.md §4)."""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest

from did.errors import ContextNotAllowedError
from schemas.loader import (
    CREDENTIALS_V2,
    EXAMPLES_V2,
    FURUSATO_V1,
    PINNED_SHA256,
    UNDEFINED_TERMS_V2,
    StaticDocumentLoader,
    bundled_context,
    bundled_context_urls,
    default_loader,
)

# Hashes published in the specifications themselves (VCDM 2.0 App. B.1, VCDM 1.1 App. B.1,
# VC Data Integrity 1.0 §2.4): our files must be the published bytes.
PUBLISHED = {
    "https://www.w3.org/ns/credentials/v2": "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
    "https://www.w3.org/2018/credentials/v1": "ab4ddd9a531758807a79a5b450510d61ae8d147eab966cc9a200c07095b0cdcc",
    "https://w3id.org/security/data-integrity/v2": "67f21e6e33a6c14e5ccfd2fc7865f7474fb71a04af7e94136cb399dfac8ae8f4",
    "https://w3id.org/security/multikey/v1": "ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597",
}


def _file_bytes(url: str) -> bytes:
    index = json.loads(resources.files("schemas").joinpath("contexts/index.json").read_text())
    return resources.files("schemas").joinpath(f"contexts/{index[url]}").read_bytes()


@pytest.mark.parametrize(("url", "digest"), sorted(PUBLISHED.items()))
def test_bundled_contexts_are_the_published_bytes(url: str, digest: str) -> None:
    assert hashlib.sha256(_file_bytes(url)).hexdigest() == digest
    assert PINNED_SHA256[url] == digest


def test_every_bundled_context_is_pinned() -> None:
    assert set(PINNED_SHA256) == bundled_context_urls()
    for url in bundled_context_urls():
        assert hashlib.sha256(_file_bytes(url)).hexdigest() == PINNED_SHA256[url], url


def test_unknown_url_is_refused_with_a_bilingual_message() -> None:
    with pytest.raises(ContextNotAllowedError) as raised:
        default_loader()("https://evil.example/context", {})
    assert raised.value.code == "context_not_allowed"
    assert "evil.example" in raised.value.message_en
    assert "受け付けていません" in raised.value.message_ja


def test_default_loader_leaves_out_undefined_terms_and_examples() -> None:
    loader = default_loader()
    assert CREDENTIALS_V2 in loader
    assert FURUSATO_V1 in loader
    for url in (UNDEFINED_TERMS_V2, EXAMPLES_V2):
        assert url not in loader
        with pytest.raises(ContextNotAllowedError):
            loader(url, {})


def test_extra_documents_are_served_but_cannot_replace_bundled_ones() -> None:
    extra = {"https://example.org/ctx": {"@context": {"x": "https://example.org/x"}}}
    loader = StaticDocumentLoader(extra)
    assert loader("https://example.org/ctx", {})["document"] == extra["https://example.org/ctx"]
    assert "tag" not in loader("https://example.org/ctx", {})  # not cached process-wide
    with pytest.raises(ContextNotAllowedError):
        StaticDocumentLoader({CREDENTIALS_V2: {"@context": {}}})


def test_allowed_narrows_the_set() -> None:
    loader = StaticDocumentLoader(allowed=[CREDENTIALS_V2, "https://not-bundled.example/"])
    assert loader.urls == frozenset({CREDENTIALS_V2})


def test_bundled_context_returns_a_copy() -> None:
    copy_ = bundled_context(FURUSATO_V1)
    copy_["@context"]["lgCode"] = "https://evil.example/x"
    assert bundled_context(FURUSATO_V1)["@context"]["lgCode"] == "https://w3id.org/furusato#lgCode"
