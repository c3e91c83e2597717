"""The one adapter over pyld: safe-mode expansion and RDFC-1.0 canonicalization.

pyld has no safe mode, and two defaults that break signatures silently (REFERENCES.md §2):
it canonicalizes with URGNA2012 unless told otherwise, and resolves relative IRIs against
``http://example.org/base/`` when no base is given.  Here:

1. only the static document loader is used (``schemas.loader``);
2. expansion runs with ``base=None`` and a handler that raises on every dropped property;
3. the expanded form is walked: every ``@id``, every ``@type`` and every IRI value must be
   absolute (or a blank node); keyword-like keys, ``@direction``, malformed language tags,
   blank-node predicates and free-floating values are refused — everything jsonld.js's
   safe mode refuses, so both sides sign exactly the same statements;
4. RDFC-1.0 (``URDNA2015``) runs with a bound on deep iterations (like rdf-canonize's
   default ``maxWorkFactor`` 1), so a poisoned dataset cannot spin the CPU.

pyld's own exceptions never leave this module: they become :class:`ParsingError`,
:class:`ContextNotAllowedError` or :class:`UndefinedTermError`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

# isort: off
from vc import _offline  # noqa: F401  (first: pyld without its network document loaders)

# isort: on
import pyld.canon
from pyld import jsonld
from pyld.canon import URDNA2015

from did.errors import (
    ContextNotAllowedError,
    FurusatoError,
    LimitExceededError,
    ParsingError,
    UndefinedTermError,
)
from schemas.loader import StaticDocumentLoader, default_loader

_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20\x7f\s<>\"{}|\\^`]*")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
_KEYWORD_LIKE = re.compile(r"@[A-Za-z]+")

# Keys an expanded node or value object may carry (JSON-LD 1.1 §9; @direction excluded on
# purpose: jsonld.js refuses it without rdfDirection, so it cannot be signed portably).
_EXPANDED_KEYWORDS = frozenset(
    {
        "@id",
        "@type",
        "@value",
        "@language",
        "@list",
        "@set",
        "@graph",
        "@index",
        "@included",
        "@reverse",
    }
)

MAX_DEEP_ITERATIONS_FACTOR = 1


class _Dropped(Exception):
    def __init__(self, expanded: object) -> None:
        super().__init__(repr(expanded))
        self.expanded = expanded


def _on_dropped(expanded_property: object) -> None:
    raise _Dropped(expanded_property)


def _undefined(what: str, value: object, path: str) -> UndefinedTermError:
    shown = repr(value) if value is not None else "(null)"
    if len(shown) > 120:
        shown = shown[:120] + "…"
    return UndefinedTermError(
        f"{what} {shown} is not defined by any context, so a signature would not cover it",
        f"{_WHAT_JA.get(what, what)} {shown} はどのコンテキストにも定義されていないため、"
        "署名の対象になりません",
        path=path,
    )


_WHAT_JA = {
    "property": "プロパティ",
    "type": "型 (type)",
    "IRI": "IRI",
    "key": "キー",
}


def _translate(exc: BaseException) -> FurusatoError:
    """Map a pyld error (possibly wrapping ours) onto our hierarchy."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, FurusatoError):
            return cause
        if isinstance(cause, _Dropped):
            return _undefined("property", cause.expanded, "")
        details = getattr(cause, "details", None)
        if isinstance(details, dict):
            for value in details.values():
                if isinstance(value, BaseException):
                    inner = _translate(value)
                    if not (isinstance(inner, ParsingError) and inner.code == "malformed"):
                        return inner
        cause = cause.__cause__ or cause.__context__
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "protected term" in message.lower():
        return ContextNotAllowedError(
            f"the contexts conflict: {message}",
            f"コンテキストが競合しています (保護された用語の再定義): {message}",
            path="@context",
        )
    return ParsingError(
        f"JSON-LD processing failed: {message}",
        f"JSON-LD の処理に失敗しました: {message}",
    )


def _check_iri(value: object, what: str, path: str) -> None:
    if not isinstance(value, str):
        raise _undefined(what, value, path)
    if value.startswith("_:"):
        return
    if not _ABSOLUTE_IRI.fullmatch(value):
        if what == "IRI":
            shown = repr(value)[:120]
            raise UndefinedTermError(
                f"{shown} is not an absolute IRI (a relative reference would be signed "
                "differently by each implementation, or not at all)",
                f"{shown} は絶対 IRI ではありません (相対参照は実装によって署名対象が変わります)",
                path=path,
            )
        raise _undefined(what, value, path)


def _keyword_like_keys(document: Any) -> None:
    """Refuse keys that look like keywords but are not (``@extra``): JSON-LD ignores them."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                key_path = f"{path}.{key}" if path else key
                if _KEYWORD_LIKE.fullmatch(key) and key not in jsonld.KEYWORDS:
                    raise _undefined("key", key, key_path)
                if key != "@context":
                    stack.append((value, key_path))
        elif isinstance(item, list):
            stack.extend((value, f"{path}[{i}]") for i, value in enumerate(item))


def _context_references(value: object) -> list[str]:
    """The URLs a ``@context`` value names (its entries, ``@import``, scoped contexts)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(v for k, v in item.items() if k in ("@context", "@import"))
            stack.extend(
                d["@context"] for d in item.values() if isinstance(d, dict) and "@context" in d
            )
    return found


def _require_served_contexts(document: Any, loader: StaticDocumentLoader) -> None:
    """Every context URL in the document must be one ``loader`` serves.

    pyld keeps bundled contexts in a process-wide cache and then no longer asks the loader,
    so a loader narrowed with ``allowed`` would otherwise be bypassed once another loader
    has loaded the context.
    """
    stack: list[Any] = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "@context":
                    for url in _context_references(value):
                        if url not in loader:
                            loader.document(url)  # raises ContextNotAllowedError naming it
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def require_allowed_contexts(document: Mapping[str, Any], loader: StaticDocumentLoader) -> None:
    """Every ``@context`` entry must be a URL the loader serves; no inline or nested contexts.

    An inline context (or one in a nested object) could bring ``@vocab`` or redefine terms
    locally; only the bundled, pinned contexts are accepted (DI §2.4.1).
    """
    for i, entry in enumerate(_as_list(document.get("@context"))):
        if not isinstance(entry, str):
            raise ContextNotAllowedError(
                "inline @context objects are not accepted, only bundled context URLs",
                "埋め込みの @context は受け付けていません (同梱のコンテキスト URL のみ)",
                path=f"@context[{i}]",
            )
        if entry not in loader:
            loader.document(entry)  # raises ContextNotAllowedError naming the URL
    stack: list[tuple[Any, str]] = [(v, k) for k, v in document.items() if k != "@context"]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            if "@context" in item:
                raise ContextNotAllowedError(
                    f"a nested @context at {path} is not accepted",
                    f"{path} の入れ子の @context は受け付けていません",
                    path=f"{path}.@context",
                )
            stack.extend((v, f"{path}.{k}") for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _walk(element: Any, path: str, blank_nodes: set[str], in_list: bool = False) -> None:
    """Safe-mode checks over expanded JSON-LD (iterative over arrays, recursive on nodes)."""
    if isinstance(element, list):
        for i, item in enumerate(element):
            _walk(item, f"{path}[{i}]", blank_nodes, in_list)
        return
    if not isinstance(element, dict):
        # A bare scalar in expanded form is free-floating: it would be dropped.
        raise UndefinedTermError(
            f"a value at {path or 'top level'} is not attached to any property",
            f"{path or '最上位'} の値がどのプロパティにも属していません",
            path=path,
        )
    if not element:
        return
    for key, value in element.items():
        key_path = f"{path}.{key}" if path else key
        if key.startswith("@"):
            if key not in _EXPANDED_KEYWORDS:
                if key == "@direction":
                    raise UndefinedTermError(
                        "@direction is not supported (it cannot be signed portably)",
                        "@direction には対応していません (相互運用できる形で署名できません)",
                        path=key_path,
                    )
                raise _undefined("key", key, key_path)
            continue
        if key.startswith("_:"):
            raise _undefined("property", key, key_path)
        _check_iri(key, "property", key_path)
        _walk(value, key_path, blank_nodes, False)
    if "@value" in element:
        value_type = element.get("@type")
        if value_type is not None and value_type != "@json":
            _check_iri(value_type, "type", f"{path}.@type")
        language = element.get("@language")
        if language is not None and (
            not isinstance(language, str) or not _LANGUAGE_TAG.fullmatch(language)
        ):
            raise UndefinedTermError(
                f"invalid language tag {language!r}",
                f"言語タグ {language!r} が不正です",
                path=f"{path}.@language",
            )
        return
    if "@id" in element:
        _check_iri(element["@id"], "IRI", f"{path}.@id")
        if isinstance(element["@id"], str) and element["@id"].startswith("_:"):
            blank_nodes.add(element["@id"])
    else:
        blank_nodes.add(f"{path}#anonymous")
    types = element.get("@type", [])
    for i, node_type in enumerate(types if isinstance(types, list) else [types]):
        _check_iri(node_type, "type", f"{path}.@type[{i}]")
    for container in ("@list", "@set", "@graph", "@included"):
        if container in element:
            _walk(element[container], f"{path}.{container}", blank_nodes, container == "@list")
    if "@reverse" in element:
        reverse = element["@reverse"]
        if isinstance(reverse, dict):
            for key, value in reverse.items():
                _check_iri(key, "property", f"{path}.@reverse.{key}")
                _walk(value, f"{path}.@reverse.{key}", blank_nodes)


# --- canonical N-Quads -------------------------------------------------------------------------
#
# RDFC-1.0 §4.3 serializes with the canonical N-Quads form of RDF 1.2: in literals, ``\b \t \n
# \f \r " \\`` as ECHAR and every other character of U+0000–U+001F and U+007F as UCHAR
# (``\u000B``, upper-case hex); in IRIs, U+0000–U+0020 and ``<>"{}|^`\\`` as UCHAR.  pyld 3.3
# escapes only ``\t \n \r " \\``, so a claim holding another control character would
# canonicalize differently from jsonld.js / rdf-canonize 5 and the signature would not carry
# over.  Our serializer replaces pyld's in its canonicalization module (the only place that
# produces the signed bytes); pyld's other serializers are untouched.

_ECHAR = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_LITERAL_ESCAPE = re.compile(r'[\x00-\x1f\x7f"\\]')
_IRI_ESCAPE = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def _uchar(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04X}"


def _escape_literal(value: str) -> str:
    return _LITERAL_ESCAPE.sub(lambda m: _ECHAR.get(m.group()) or _uchar(m), value)


def _term(component: Mapping[str, Any]) -> str:
    if component["type"] == "IRI":
        return "<" + _IRI_ESCAPE.sub(_uchar, component["value"]) + ">"
    value: str = component["value"]
    return value  # a blank node label: _:c14n0


def serialize_canonical_nquad(quad: Mapping[str, Any], graph_name: str | None = None) -> str:
    """One quad in canonical N-Quads form (pyld's quad dictionaries)."""
    obj = quad["object"]
    if obj["type"] == "literal":
        text = '"' + _escape_literal(obj["value"]) + '"'
        if obj.get("datatype") == _RDF_LANGSTRING:
            if obj.get("language"):
                text += "@" + obj["language"]
        elif obj.get("datatype") and obj["datatype"] != _XSD_STRING:
            text += "^^" + _term({"type": "IRI", "value": obj["datatype"]})
    else:
        text = _term(obj)
    line = f"{_term(quad['subject'])} {_term(quad['predicate'])} {text}"
    name = quad.get("name")
    graph = name["value"] if name else graph_name
    if graph is not None:
        line += " " + (graph if graph.startswith("_:") else _term({"type": "IRI", "value": graph}))
    return line + " .\n"


pyld.canon.serialize_nquad = serialize_canonical_nquad


class _BoundedURDNA2015(URDNA2015):  # type: ignore[misc]
    """RDFC-1.0 with a bound on deep iterations, as rdf-canonize's ``maxWorkFactor``.

    Each blank node may enter the N-degree hash at most ``n ** factor`` times, where ``n``
    is the number of blank nodes left without a unique first-degree hash.  Ordinary
    credentials never get here (every blank node hashes uniquely); a poisoned graph stops
    with LimitExceededError instead of running for hours.
    """

    def __init__(self, factor: int) -> None:
        super().__init__()
        self._factor = factor
        self._limit: int | None = None
        self._runs: dict[str, int] = {}

    def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
        if self._limit is None:
            non_unique = sum(len(ids) for ids in self.hash_to_blank_nodes.values())
            self._limit = max(1, non_unique) ** self._factor
        runs = self._runs.get(id_, 0)
        if runs >= self._limit:
            raise LimitExceededError(
                "canonicalization needs too many iterations (poisoned graph?)",
                "正規化の反復回数が上限を超えました (不正なグラフの可能性があります)",
            )
        self._runs[id_] = runs + 1
        return super().hash_n_degree_quads(id_, issuer)


# pyld keeps process-wide caches of processed contexts (cachetools ``LRUCache``s, which are not
# thread-safe): two threads expanding at once can evict each other's entries mid-lookup and pyld
# then reports a KeyError as "invalid scoped context".  The issuer signs on FastAPI's thread pool,
# so every pyld call holds this lock.  Under the GIL, pure-Python pyld gains nothing from threads
# anyway; both cores are used by processes (workers, batch issuance), each with its own caches.
_PYLD_LOCK = threading.Lock()


def _options(loader: StaticDocumentLoader) -> dict[str, Any]:
    return {"documentLoader": loader, "base": None, "processingMode": "json-ld-1.1"}


def expand(
    document: Mapping[str, Any],
    loader: StaticDocumentLoader | None = None,
    *,
    max_blank_nodes: int = 512,
) -> list[Any]:
    """Expand with safe mode; raise if any term would be dropped or stay relative."""
    loader = loader or default_loader()
    _keyword_like_keys(document)
    _require_served_contexts(document, loader)
    processor = jsonld.JsonLdProcessor(on_property_dropped=_on_dropped)
    try:
        with _PYLD_LOCK:
            expanded: list[Any] = processor.expand(dict(document), _options(loader))
    except Exception as exc:  # pyld raises JsonLdError, KeyError, TypeError, …
        raise _translate(exc) from None
    blank_nodes: set[str] = set()
    _walk(expanded, "", blank_nodes)
    if not expanded:
        raise UndefinedTermError(
            "the document expands to nothing (no defined terms)",
            "文書に定義された用語がひとつもありません",
        )
    if len(blank_nodes) > max_blank_nodes:
        raise LimitExceededError(
            f"the document has more than {max_blank_nodes} blank nodes",
            f"文書の空白ノードが多すぎます (上限 {max_blank_nodes})",
        )
    return expanded


def canonicalize(
    document: Mapping[str, Any],
    loader: StaticDocumentLoader | None = None,
    *,
    max_blank_nodes: int = 512,
    fast: bool = True,
) -> str:
    """RDFC-1.0 canonical N-Quads of ``document`` after safe-mode checks.

    With ``fast`` (the default) the compiled path of :mod:`vc.fastld` is tried first: for the
    documents it supports it gives byte-identical N-Quads without pyld; anything else — and
    everything safe mode refuses — goes through the reference path below (``fast=False``
    forces it: the differential test and the benchmarks compare the two).
    """
    loader = loader or default_loader()
    if fast:
        from vc.fastld import fast_canonicalize  # here: vc.fastld imports this module

        try:
            fast_nquads = fast_canonicalize(document, loader, max_blank_nodes=max_blank_nodes)
        except Exception:  # a bug in the fast path must not change the outcome: reference decides
            fast_nquads = None
        if fast_nquads is not None:
            return fast_nquads
    expanded = expand(document, loader, max_blank_nodes=max_blank_nodes)
    processor = jsonld.JsonLdProcessor(on_property_dropped=_on_dropped)
    try:
        with _PYLD_LOCK:
            dataset = processor.to_rdf(expanded, _options(loader))
        nquads: str = _BoundedURDNA2015(MAX_DEEP_ITERATIONS_FACTOR).main(
            dataset, {"algorithm": "URDNA2015", "format": "application/n-quads"}
        )
    except FurusatoError:
        raise
    except Exception as exc:
        raise _translate(exc) from None
    return nquads
