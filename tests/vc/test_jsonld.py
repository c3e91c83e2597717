"""Safe-mode JSON-LD and bounded RDFC-1.0 (DESIGN.md §4, REFERENCES.md §2 recipe)."""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from pyld import jsonld as pyld_jsonld

from did.errors import FurusatoError, LimitExceededError
from schemas.loader import CREDENTIALS_V2, FURUSATO_V1, StaticDocumentLoader
from vc.jsonld import canonicalize, expand, require_allowed_contexts

BASE: dict[str, Any] = {
    "@context": [CREDENTIALS_V2, FURUSATO_V1],
    "type": ["VerifiableCredential", "FurusatoResidentCredential"],
    "issuer": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "credentialSubject": {
        "id": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        "type": "FurusatoResident",
        "registrationTier": "basic",
        "municipality": {"lgCode": "015814", "name": "厚真町"},
    },
}


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return apply


SAFE_MODE_CASES = [
    # (case, mutation, code) — each is something jsonld.js's safe mode also refuses
    ("undefined property", _set(("credentialSubject", "foo"), 1), "undefined_term"),
    ("undefined type", _set(("type",), ["VerifiableCredential", "Foo"]), "undefined_term"),
    ("undefined subject type", _set(("credentialSubject", "type"), "Bar"), "undefined_term"),
    ("relative id", _set(("id",), "abc"), "undefined_term"),
    ("relative subject id", _set(("credentialSubject", "id"), "x"), "undefined_term"),
    ("keyword-like key", _set(("@extra",), "x"), "undefined_term"),
    ("nested keyword-like key", _set(("credentialSubject", "@foo"), "x"), "undefined_term"),
    ("v2 date term in v2 doc", _set(("issuanceDate",), "2020-01-01T00:00:00Z"), "undefined_term"),
    ("blank node predicate", _set(("credentialSubject", "_:b0"), "x"), "undefined_term"),
    (
        "bad language tag",
        _set(("name",), {"@value": "x", "@language": "not a tag"}),
        "undefined_term",
    ),
    ("direction", _set(("name",), {"@value": "x", "@direction": "ltr"}), "undefined_term"),
    (
        "unknown context",
        _set(("@context",), [CREDENTIALS_V2, "https://evil.example/c"]),
        "context_not_allowed",
    ),
    (
        "protected redefinition",
        _set(("@context",), [CREDENTIALS_V2, {"name": "https://evil/n"}]),
        "context_not_allowed",
    ),
    (
        "v1 and v2 mixed",
        _set(("@context",), [CREDENTIALS_V2, "https://www.w3.org/2018/credentials/v1"]),
        "context_not_allowed",
    ),
    ("nothing defined", lambda d: d.clear(), "undefined_term"),
]


@pytest.mark.parametrize(
    ("case", "mutate", "code"), SAFE_MODE_CASES, ids=[c[0] for c in SAFE_MODE_CASES]
)
def test_safe_mode_refuses(case: str, mutate: Callable[[dict[str, Any]], None], code: str) -> None:
    document = copy.deepcopy(BASE)
    mutate(document)
    with pytest.raises(FurusatoError) as raised:
        canonicalize(document)
    assert raised.value.code == code, raised.value.message_en
    assert raised.value.message_ja


def test_base_document_canonicalizes_with_typed_literals() -> None:
    nquads = canonicalize(BASE)
    assert '"015814"' in nquads
    assert "<https://w3id.org/furusato#registrationTier>" in nquads
    assert "example.org/base" not in nquads


def test_inline_and_nested_contexts_are_not_allowed() -> None:
    loader = StaticDocumentLoader()
    inline = {**BASE, "@context": [CREDENTIALS_V2, {"@vocab": "https://example.org/#"}]}
    nested = {
        **BASE,
        "credentialSubject": {**BASE["credentialSubject"], "@context": {"a": "https://a/"}},
    }
    for document in (inline, nested):
        with pytest.raises(FurusatoError) as raised:
            require_allowed_contexts(document, loader)
        assert raised.value.code == "context_not_allowed"
    require_allowed_contexts(BASE, loader)


KNOWS = "https://example.org/ctx"
KNOWS_LOADER = StaticDocumentLoader(
    {
        KNOWS: {
            "@context": {
                "knows": {"@id": "https://example.org/knows", "@type": "@id"},
                "label": "https://example.org/label",
            }
        }
    }
)


def test_poisoned_graph_is_refused() -> None:
    """A clique of indistinguishable blank nodes: RDFC-1.0 would try n! permutations."""
    n = 12
    nodes = [{"@id": f"_:n{i}", "knows": [f"_:n{j}" for j in range(n) if j != i]} for i in range(n)]
    with pytest.raises(LimitExceededError):
        canonicalize({"@context": KNOWS, "@graph": nodes}, KNOWS_LOADER)


def test_ordinary_symmetric_blank_nodes_still_canonicalize() -> None:
    """Two identical anonymous objects need the N-degree hash once each: within the bound."""
    document = {
        "@context": KNOWS,
        "@id": "https://example.org/a",
        "knows": [{"label": "x"}, {"label": "x"}],
    }
    assert canonicalize(document, KNOWS_LOADER).count("_:c14n") == 4


def test_too_many_blank_nodes() -> None:
    document = {
        "@context": KNOWS,
        "@id": "https://example.org/a",
        "knows": [{"label": str(i)} for i in range(20)],
    }
    with pytest.raises(LimitExceededError):
        expand(document, KNOWS_LOADER, max_blank_nodes=10)


def test_canonical_nquads_escape_control_characters_as_rdfc_1_0() -> None:
    """RDFC-1.0 canonical N-Quads: ECHAR for \\b \\t \\n \\f \\r \\" \\\\, UCHAR for the
    other C0 controls and DEL (as rdf-canonize 5; pyld 3.3 alone writes them raw)."""
    document = copy.deepcopy(BASE)
    document["credentialSubject"]["municipality"]["name"] = 'a\bb\fc\x00d\x0be\x7f\t\n\r"\\ふ'
    nquads = canonicalize(document)
    assert '"a\\bb\\fc\\u0000d\\u000Be\\u007F\\t\\n\\r\\"\\\\ふ"' in nquads


def test_control_characters_in_iris_are_refused() -> None:
    document = copy.deepcopy(BASE)
    document["credentialSubject"]["id"] = "did:key:z6Mk\x00x"
    with pytest.raises(FurusatoError) as raised:
        canonicalize(document)
    assert raised.value.code == "undefined_term"


def test_concurrent_threads_canonicalize_without_errors() -> None:
    """The issuer signs on a thread pool: pyld's shared caches must not race (CI caught a
    KeyError reported as "invalid scoped context" in 1 of 100 concurrent issuances).  On the
    pyld path (``fast=False``): the fast path's own thread tests are in test_fastld.py."""
    expected = canonicalize(BASE, fast=False)
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        for _ in range(5):
            try:
                results.append(canonicalize(copy.deepcopy(BASE), fast=False))
            except BaseException as exc:  # collected, asserted below
                errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _ in range(30):
            # A cold cache is where the race lives: every thread fills it at once.
            pyld_jsonld._resolved_context_cache.clear()
            pyld_jsonld._inverse_context_cache.clear()
            threads = [threading.Thread(target=work) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert results == [expected] * (30 * 8 * 5)
