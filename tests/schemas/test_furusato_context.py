"""Our vocabulary context: @protected, every term defined, nothing falls through."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from did.errors import ContextNotAllowedError
from schemas.loader import FURUSATO_V1, bundled_context
from vc.jsonld import expand

CONTEXT = bundled_context(FURUSATO_V1)["@context"]
NS = "https://w3id.org/furusato#"


def test_protected_and_no_vocab_or_base() -> None:
    assert CONTEXT["@protected"] is True
    assert "@vocab" not in CONTEXT
    assert "@base" not in CONTEXT


def test_every_term_is_under_our_namespace() -> None:
    for term, definition in CONTEXT.items():
        if term.startswith("@") or term in ("id", "type"):
            continue
        iri = definition if isinstance(definition, str) else definition["@id"]
        assert iri == NS + term, term


def _schema_terms(node: Any) -> set[str]:
    """Every property name the JSON Schemas allow."""
    terms: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            terms.add(key)
            terms |= _schema_terms(value)
        for key in ("items", "$defs", "prefixItems"):
            if key in node:
                for child in (
                    node[key].values()
                    if isinstance(node[key], dict)
                    else (node[key] if isinstance(node[key], list) else [node[key]])
                ):
                    terms |= _schema_terms(child)
    return terms


@pytest.mark.parametrize(
    "name", ["furusato-resident-credential.schema.json", "furusato-activity-credential.schema.json"]
)
def test_every_property_of_the_schemas_is_a_defined_term(name: str) -> None:
    schema = json.loads(resources.files("schemas").joinpath(f"json/{name}").read_text())
    terms = _schema_terms(schema)
    v2_terms = set(bundled_context("https://www.w3.org/ns/credentials/v2")["@context"])
    vc_scoped = set(
        bundled_context("https://www.w3.org/ns/credentials/v2")["@context"]["VerifiableCredential"][
            "@context"
        ]
    )
    status_scoped = set(
        bundled_context("https://www.w3.org/ns/credentials/v2")["@context"][
            "BitstringStatusListEntry"
        ]["@context"]
    )
    undefined = terms - set(CONTEXT) - v2_terms - vc_scoped - status_scoped - {"@context"}
    assert not undefined


def test_redefining_one_of_our_terms_fails() -> None:
    document = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            FURUSATO_V1,
            "https://w3id.org/security/multikey/v1",
        ],
        "type": ["VerifiableCredential"],
    }
    # multikey/v1 does not touch our terms: fine.
    expand(document)
    from schemas.loader import StaticDocumentLoader

    evil = "https://example.org/evil"
    loader = StaticDocumentLoader({evil: {"@context": {"lgCode": "https://evil.example/lg"}}})
    with pytest.raises(ContextNotAllowedError):
        expand({**document, "@context": [*document["@context"][:2], evil]}, loader)
