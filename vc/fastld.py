"""The fast path to canonical N-Quads: compiled JSON-LD → RDF → RDFC-1.0 for our documents.

:func:`vc.jsonld.canonicalize` (the reference path) expands with pyld, walks the expanded form
for safe mode, converts it to RDF and runs URDNA2015 — about 1 ms per document, most of it
spent re-deriving the same context information on every call.  This module produces the same
bytes for the documents we actually sign and verify, in a fraction of the time:

* **Contexts are processed once, by pyld itself.**  Every active context the walk needs (the
  document's context list, each property-scoped and type-scoped context, the revert to the
  previous context when a type-scoped context stops propagating, a nested ``@context`` of
  bundled URLs) is obtained with the same pyld operation, in the same order, as pyld's own
  expansion algorithm would perform it, and memoized; term definitions are compiled from those
  contexts into small tables (IRI, type coercion, ``@graph`` container, scoped context).
* **The JSON is walked directly to quads**, mirroring pyld's expansion, node-map and toRDF
  steps for the subset below; literals are serialized exactly as pyld does (booleans, integers,
  ``@language`` lower-cased, ``@json`` as JCS with pyld's own canonicalizer, typed strings) and
  escaped with the RDFC-1.0 canonical N-Quads rules of :mod:`vc.jsonld`.
* **Canonical labels** come from the first-degree hashes of RDFC-1.0 (§4.6); when every blank
  node's first-degree hash is unique, that labelling *is* the result of the full algorithm.
  Any collision hands the document to the reference path (and its bounded N-degree hashing).

Supported subset — anything else returns ``None`` and the caller uses the reference path,
which accepts or refuses exactly as before (so the fast path never accepts what safe mode
refuses, and never produces different N-Quads):

* ``@context``: a bundled context URL or a list of distinct ones, served by the caller's loader,
  whose processed contexts have no ``@vocab``, ``@base``, default ``@language``/``@direction``;
  the same inside a node (as an embedded credential in a presentation has);
* keys: ``id`` and ``type`` (aliases of ``@id``/``@type``) and terms that map to an absolute
  IRI, with no ``@reverse``, ``@index``, ``@language``, ``@direction``, ``@nest``, only
  ``@set``/``@graph`` containers and a coercion of none, ``@id``, ``@vocab``, ``@json`` or a
  datatype IRI other than ``xsd:double``/``rdf:langString``; keyword keys only in value
  objects (``@value`` with ``@type`` or ``@language``);
* values: strings, booleans, integers below 10^21, node objects, value objects, arrays of those
  (no nested arrays, no ``null``, no floating-point numbers outside ``@json``); identifiers and
  IRI values absolute (or ``_:`` blank node labels), types defined terms;
* no repeated literal statement (a repeated node reference is merged, as pyld's node map
  does), at most ``max_blank_nodes`` blank nodes, at least one statement.

Thread safety: pyld is only called (under :data:`vc.jsonld._PYLD_LOCK`) the first time a
context combination is seen; the memo tables are written once per key and read without a lock.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from pyld import jsonld as pyld_jsonld
from pyld.context_resolver import ContextResolver

from schemas.loader import StaticDocumentLoader, bundled_context_urls
from vc.jsonld import _ABSOLUTE_IRI, _LANGUAGE_TAG, _PYLD_LOCK, _escape_literal

__all__ = ["fast_canonicalize", "supported_context_urls"]

_RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XSD: Final = "http://www.w3.org/2001/XMLSchema#"
_RDF_TYPE: Final = f"<{_RDF}type>"
_RDF_JSON: Final = f"{_RDF}JSON"
_RDF_LANGSTRING: Final = f"{_RDF}langString"
_XSD_STRING: Final = f"{_XSD}string"
_XSD_BOOLEAN: Final = f"{_XSD}boolean"
_XSD_INTEGER: Final = f"{_XSD}integer"
_XSD_DOUBLE: Final = f"{_XSD}double"

_BLANK_LABEL = re.compile(r"_:[A-Za-z0-9_\-.]+")
_MAX_DEPTH: Final = 64
_DERIVED_LIMIT: Final = 64
"""Derived contexts kept per context (a furusato verifier needs a handful)."""
_CONTEXT_LIMIT: Final = 2048
"""Derived contexts kept in all."""

# Keys of a pyld term definition we model; anything else (@language, @direction, @index,
# @nest, @prefix handled via ``_prefix``…) makes the term unsupported.
_MAPPING_KEYS: Final = frozenset(
    {"@id", "@type", "@container", "@context", "reverse", "protected", "_prefix", "_term_has_colon"}
)
# Keys of a pyld active context we model; @vocab, @base, @language, @direction make the
# context unsupported (an undefined term would then mean something).
_CONTEXT_KEYS: Final = frozenset(
    {"mappings", "processingMode", "@version", "_uuid", "previousContext"}
)

# Modes of entering a node object (pyld ``_expand``: whether a type-scoped context is reverted).
_NODE: Final = 0
_REFERENCE: Final = 1
_VALUE: Final = 2


class _Unsupported(Exception):
    """The document is outside the subset: use the reference path."""


class _Term:
    """A compiled term definition: what a key means in one active context."""

    __slots__ = ("coerce", "graph", "iri", "kind", "predicate", "scoped")

    def __init__(self, kind: int, iri: str, coerce: str | None, graph: bool, scoped: bool) -> None:
        self.kind = kind  # _PROPERTY, _ID or _TYPE
        self.iri = iri
        self.predicate = f"<{iri}>"
        self.coerce = coerce
        self.graph = graph
        self.scoped = scoped


_PROPERTY: Final = 0
_ID_KIND: Final = 1
_TYPE_KIND: Final = 2
_ID = _Term(_ID_KIND, "@id", None, False, False)
_TYPE = _Term(_TYPE_KIND, "@type", None, False, False)
_UNDEFINED_TERM = _Term(-1, "", None, False, False)  # no definition (``@context: null`` scope)


def _absolute(iri: object) -> bool:
    """An absolute IRI as safe mode wants it (not a blank node, not a keyword)."""
    return isinstance(iri, str) and not iri.startswith("_:") and bool(_ABSOLUTE_IRI.fullmatch(iri))


def _compile_term(key: str, mapping: Mapping[str, Any]) -> _Term | None:
    if not _MAPPING_KEYS.issuperset(mapping) or mapping.get("reverse"):
        return None
    iri = mapping.get("@id")
    container = mapping.get("@container") or []
    if iri == "@id" or iri == "@type":
        # Only the usual aliases ``id``/``type``, plain (no coercion, container or context).
        if key != iri[1:] or container or "@type" in mapping or "@context" in mapping:
            return None
        return _ID if iri == "@id" else _TYPE
    if not isinstance(iri, str) or not _absolute(iri):
        return None
    if not {"@set", "@graph"}.issuperset(container):
        return None
    coerce = mapping.get("@type")
    if coerce not in (None, "@id", "@vocab", "@json") and (
        not _absolute(coerce) or coerce in (_XSD_DOUBLE, _RDF_LANGSTRING)
    ):
        return None
    if coerce == "@json" and (container or "@context" in mapping):
        return None
    return _Term(_PROPERTY, iri, coerce, "@graph" in container, "@context" in mapping)


class _Context:
    """One pyld active context, with compiled term tables and memoized derived contexts."""

    __slots__ = ("_derived", "_prefixes", "_terms", "_types", "has_previous", "ok", "raw")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.ok = _CONTEXT_KEYS.issuperset(raw)
        self.has_previous = bool(raw.get("previousContext"))
        self._terms: dict[str, _Term | None] = {}
        self._types: dict[str, str | None] = {}
        self._derived: dict[tuple[Any, ...], _Context | None] = {}
        self._prefixes: frozenset[str] | None = None

    # --- term lookups ------------------------------------------------------------------------

    def _mapping(self, key: str) -> Mapping[str, Any] | None:
        mapping: Mapping[str, Any] | None = self.raw["mappings"].get(key)
        return mapping

    def defines(self, key: str) -> bool:
        """Whether ``key`` has a (non-null) definition here."""
        return self._mapping(key) is not None

    def term(self, key: str) -> _Term | None:
        """The compiled definition of ``key`` as a property/alias (None: unsupported)."""
        try:
            return self._terms[key]
        except KeyError:
            pass
        mapping = self._mapping(key)
        if mapping is None or not self.ok:
            return None  # not cached: unknown keys must not grow the table
        term = _compile_term(key, mapping)
        self._terms[key] = term
        return term

    def vocab_iri(self, value: str) -> str:
        """``<IRI>`` of ``value`` expanded as a vocabulary term (a type, an @vocab value)."""
        try:
            iri = self._types[value]
        except KeyError:
            mapping = self._mapping(value)
            if mapping is None or not self.ok:
                raise _Unsupported from None
            target = mapping.get("@id")
            iri = f"<{target}>" if _absolute(target) and not mapping.get("reverse") else None
            self._types[value] = iri
        if iri is None:
            raise _Unsupported
        return iri

    def type_context(self, value: str) -> object:
        """The type-scoped context of type ``value`` (pyld: None or False when it has none)."""
        mapping = self._mapping(value)
        return None if mapping is None else mapping.get("@context")

    @property
    def prefixes(self) -> frozenset[str]:
        """Terms usable as a compact-IRI prefix (an ``@id`` value ``p:x`` would expand)."""
        prefixes = self._prefixes
        if prefixes is None:
            prefixes = frozenset(
                k for k, m in self.raw["mappings"].items() if m is not None and m.get("_prefix")
            )
            self._prefixes = prefixes
        return prefixes

    # --- derived contexts (pyld's own context processing, memoized) --------------------------

    def _derive(self, key: tuple[Any, ...], compute: Callable[[], Mapping[str, Any]]) -> _Context:
        try:
            derived = self._derived[key]
        except KeyError:
            try:
                raw = compute()
            except Exception:  # pyld refused (protected redefinition…): reference path decides
                derived = None
            else:
                derived = self if raw is self.raw else _Context(raw)
            # Bounded: a stream of odd documents must not grow the tables without end.  Past
            # the bound a new combination is still correct, only computed again each time.
            if len(self._derived) < _DERIVED_LIMIT and _CONTEXT_COUNT[0] < _CONTEXT_LIMIT:
                self._derived[key] = derived
                _CONTEXT_COUNT[0] += 1
        if derived is None or not derived.ok:
            raise _Unsupported
        return derived

    def with_local(self, urls: tuple[str, ...]) -> _Context:
        """An embedded ``@context`` (pyld ``_prepare_nested_context``)."""
        return self._derive(("local", urls), lambda: _process(self.raw, list(urls)))

    def property_scoped(self, key: str) -> _Context:
        """pyld ``_expand_object``: the context for the values of ``key`` (``term_ctx``)."""
        mapping = self._mapping(key)
        scoped = None if mapping is None else mapping.get("@context")
        if scoped is None:
            return self
        return self._derive(
            ("property", key),
            lambda: _process(self.raw, scoped, propagate=True, override_protected=True),
        )

    def enter(self, key: str, mode: int) -> _Context:
        """pyld ``_expand`` of an object under ``key``: revert a type-scoped context unless
        the object is a value or a bare reference, then apply ``key``'s scoped context."""
        revert = self.has_previous and mode not in (_VALUE, _REFERENCE)
        mapping = self._mapping(key)
        scoped = None if mapping is None else mapping.get("@context")
        if not revert and scoped is None:
            return self

        def compute() -> Mapping[str, Any]:
            active = self.raw["previousContext"] if revert else self.raw
            if scoped is not None:
                active = _process(active, scoped, override_protected=True)
            return active

        return self._derive(("enter", key, revert), compute)

    def with_types(self, scoped_types: tuple[str, ...]) -> _Context:
        """pyld ``_prepare_nested_context``: apply each type's scoped context, sorted."""

        def compute() -> Mapping[str, Any]:
            active = self.raw
            for name in scoped_types:
                active = _process(active, self.type_context(name), propagate=False)
            return active

        return self._derive(("types", scoped_types), compute)


_CONTEXT_COUNT = [0]  # derived contexts kept, all tables together (approximate under threads)


_PROCESSOR = pyld_jsonld.JsonLdProcessor()
_LOADER = StaticDocumentLoader()  # bundled contexts only; what a caller may use is its loader's
_OPTIONS: Final[dict[str, Any]] = {
    "documentLoader": _LOADER,
    "contextResolver": ContextResolver(pyld_jsonld._resolved_context_cache, _LOADER),
    "base": None,
    "processingMode": "json-ld-1.1",
    "isFrame": False,
    "keepFreeFloatingNodes": False,
    "extractAllScripts": False,
}
_SUPPORTED_URLS = bundled_context_urls()


def _process(
    active: Mapping[str, Any],
    local: object,
    *,
    propagate: bool = True,
    override_protected: bool = False,
) -> Mapping[str, Any]:
    with _PYLD_LOCK:
        processed: Mapping[str, Any] = _PROCESSOR._process_context(
            active,
            local,
            _OPTIONS,
            override_protected=override_protected,
            propagate=propagate,
        )
    return processed


_INITIAL: _Context | None = None


def _initial() -> _Context:
    global _INITIAL  # built once, on first use
    initial = _INITIAL
    if initial is None:
        with _PYLD_LOCK:
            initial = _Context(_PROCESSOR._get_initial_context(_OPTIONS))
        _INITIAL = initial
    return initial


def supported_context_urls() -> frozenset[str]:
    """Context URLs the fast path may take (if the caller's loader serves them)."""
    return _SUPPORTED_URLS


def _context_urls(value: object, loader: StaticDocumentLoader) -> tuple[str, ...]:
    urls = (value,) if isinstance(value, str) else tuple(value) if type(value) is list else ()
    if not urls:
        raise _Unsupported
    for url in urls:
        if not isinstance(url, str) or url not in _SUPPORTED_URLS or url not in loader:
            raise _Unsupported
    if len(set(urls)) != len(urls):
        raise _Unsupported
    return urls


# --- literals ----------------------------------------------------------------------------------


def _literal(value: object, datatype: str | None) -> str:
    """pyld ``_object_to_rdf`` of a value object, serialized as canonical N-Quads."""
    if value is True or value is False:
        lexical = "true" if value else "false"
        datatype = datatype or _XSD_BOOLEAN
    elif type(value) is int:
        if abs(value) >= 1e21:  # pyld writes these as xsd:double
            raise _Unsupported
        lexical = str(value)
        datatype = datatype or _XSD_INTEGER
    elif type(value) is str:
        lexical = value
    else:
        raise _Unsupported  # floats (xsd:double canonical form), null, arrays, objects
    text = '"' + _escape_literal(lexical) + '"'
    if datatype is None or datatype == _XSD_STRING:
        return text
    return f"{text}^^<{datatype}>"


def _check_json(value: object, depth: int = 0) -> None:
    """Safe mode looks inside ``@json`` values for keyword-like keys: leave those to it."""
    if depth > _MAX_DEPTH:
        raise _Unsupported
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("@"):
                raise _Unsupported
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def _json_literal(value: object) -> str:
    _check_json(value)
    canonical: bytes = pyld_jsonld.canonicalize(value)  # the JCS implementation pyld uses
    return '"' + _escape_literal(canonical.decode("utf-8")) + f'"^^<{_RDF_JSON}>'


# --- the walk ----------------------------------------------------------------------------------

Node = str | int  # a serialized IRI/literal, or a blank node number
Quad = tuple[Node, str, Node, Node | None]


class _Walk:
    """Emits the quads of one document (pyld expansion + node map + toRDF, fused)."""

    __slots__ = ("blank_nodes", "labels", "loader", "quads")

    def __init__(self, loader: StaticDocumentLoader) -> None:
        self.loader = loader
        self.quads: list[Quad] = []
        self.blank_nodes = 0
        self.labels: dict[str, int] = {}

    def fresh(self) -> int:
        number = self.blank_nodes
        self.blank_nodes = number + 1
        return number

    def identifier(self, context: _Context, value: object) -> Node:
        """An ``@id`` (or ``@id``-coerced value), expanded with ``base=None``."""
        if type(value) is not str:
            raise _Unsupported
        if value.startswith("_:"):
            if not _BLANK_LABEL.fullmatch(value):
                raise _Unsupported
            number = self.labels.get(value)
            if number is None:
                number = self.labels[value] = self.fresh()
            return number
        if not _ABSOLUTE_IRI.fullmatch(value):
            raise _Unsupported  # relative: safe mode refuses it (reference path says why)
        prefix, _, suffix = value.partition(":")
        if not suffix.startswith("//") and prefix in context.prefixes:
            raise _Unsupported  # a compact IRI: would expand through the prefix term
        return f"<{value}>"

    def node(
        self, element: dict[str, Any], context: _Context, graph: Node | None, depth: int
    ) -> Node:
        """A node object: its subject, after emitting its statements into ``graph``."""
        if depth > _MAX_DEPTH:
            raise _Unsupported
        if "@context" in element:
            context = context.with_local(_context_urls(element["@context"], self.loader))
        types: list[str] | None = None
        if "type" in element and context.term("type") is _TYPE:
            value = element["type"]
            if isinstance(value, str):
                names = [value]
            elif type(value) is list and value and all(isinstance(v, str) for v in value):
                names = value
                if len(set(names)) != len(names):
                    raise _Unsupported
            else:
                raise _Unsupported
            types = [context.vocab_iri(name) for name in names]  # in the pre-type context
            scoped = tuple(sorted(n for n in names if context.type_context(n) not in (None, False)))
            if scoped:
                context = context.with_types(scoped)
                if context.term("type") is not _TYPE:
                    raise _Unsupported
        subject: Node
        if "id" in element and context.term("id") is _ID:
            subject = self.identifier(context, element["id"])
        else:
            subject = self.fresh()
        quads = self.quads
        for key, value in element.items():
            if key == "@context":
                continue
            term = context.term(key)
            if term is None:
                raise _Unsupported
            if term is _ID:
                continue
            if term is _TYPE:
                if types is None:
                    raise _Unsupported
                for iri in types:
                    quads.append((subject, _RDF_TYPE, iri, graph))
                continue
            self.property(subject, key, term, value, context, graph, depth)
        return subject

    def property(
        self,
        subject: Node,
        key: str,
        term: _Term,
        value: object,
        context: _Context,
        graph: Node | None,
        depth: int,
    ) -> None:
        predicate = term.predicate
        if term.coerce == "@json":
            self.quads.append((subject, predicate, _json_literal(value), graph))
            return
        # pyld expands the values with the property-scoped context (``term_ctx``): scalars take
        # their coercion from *its* definition of ``key`` (none at all under ``@context: null``,
        # as for ``verifiableCredential``, which is fine for objects but not for scalars).
        value_context = context.property_scoped(key) if term.scoped else context
        value_term = term
        if value_context is not context:
            if value_context.defines(key):
                found = value_context.term(key)
                if found is None:
                    raise _Unsupported
                value_term = found
            else:
                value_term = _UNDEFINED_TERM
        items = value if type(value) is list else (value,)
        for item in items:
            obj: Node
            if type(item) is dict:
                if term.graph:
                    if "@value" in item:
                        raise _Unsupported
                    obj = self.fresh()  # the graph's name: {"@graph": [item]} is a blank node
                    self.node_value(item, value_context, key, obj, depth + 1)
                elif "@value" in item:
                    obj = self.value_object(item, value_context, key)
                else:
                    obj = self.node_value(item, value_context, key, graph, depth + 1)
            elif term.graph or value_term.kind != _PROPERTY:  # (also: _UNDEFINED_TERM)
                raise _Unsupported
            else:
                obj = self.scalar(item, value_term, value_context)
            self.quads.append((subject, predicate, obj, graph))

    def node_value(
        self, item: dict[str, Any], context: _Context, key: str, graph: Node | None, depth: int
    ) -> Node:
        """A node object as the value of ``key`` (pyld ``_expand`` on an object)."""
        mode = _NODE
        if context.has_previous and len(item) == 1:
            (only,) = item
            if context.term(only) is _ID:
                mode = _REFERENCE
        return self.node(item, context.enter(key, mode), graph, depth)

    def value_object(self, item: dict[str, Any], context: _Context, key: str) -> str:
        if len(item) > 2:
            raise _Unsupported
        context = context.enter(key, _VALUE)
        value = item["@value"]
        if "@language" in item:
            language = item["@language"]
            if (
                type(value) is not str
                or not isinstance(language, str)
                or not _LANGUAGE_TAG.fullmatch(language)
            ):
                raise _Unsupported
            return '"' + _escape_literal(value) + '"@' + language.lower()
        if "@type" in item:
            datatype = item["@type"]
            if not isinstance(datatype, str) or context.type_context(datatype) not in (
                None,
                False,
            ):
                raise _Unsupported
            if datatype in context.raw["mappings"]:
                iri = context.vocab_iri(datatype)[1:-1]
            else:
                prefix, _, suffix = datatype.partition(":")
                if not _absolute(datatype) or (
                    not suffix.startswith("//") and prefix in context.raw["mappings"]
                ):
                    raise _Unsupported
                iri = datatype
            if iri in (_XSD_DOUBLE, _RDF_LANGSTRING, _RDF_JSON):
                raise _Unsupported
            return _literal(value, iri)
        if len(item) != 1:
            raise _Unsupported
        return _literal(value, None)

    def scalar(self, item: object, term: _Term, context: _Context) -> Node:
        """pyld ``_expand_value`` + ``_object_to_rdf`` of a string, boolean or number."""
        coerce = term.coerce
        if coerce == "@id":
            return self.identifier(context, item)  # raises unless a string
        if coerce == "@vocab":
            if type(item) is not str:
                raise _Unsupported
            return context.vocab_iri(item)
        return _literal(item, coerce)


# --- RDFC-1.0 labelling ------------------------------------------------------------------------


def _line(quad: Quad, names: Mapping[int, str]) -> str:
    s, p, o, g = quad
    subject = names[s] if type(s) is int else s
    obj = names[o] if type(o) is int else o
    if g is None:
        return f"{subject} {p} {obj} .\n"
    return f"{subject} {p} {obj} {names[g] if type(g) is int else g} .\n"


def _first_degree_line(quad: Quad, reference: int) -> str:
    s, p, o, g = quad
    subject = ("_:a" if s == reference else "_:z") if type(s) is int else s
    obj = ("_:a" if o == reference else "_:z") if type(o) is int else o
    if g is None:
        return f"{subject} {p} {obj} .\n"
    name = ("_:a" if g == reference else "_:z") if type(g) is int else g
    return f"{subject} {p} {obj} {name} .\n"


def _canonical_nquads(quads: list[Quad]) -> str:
    """RDFC-1.0 when every blank node has a unique first-degree hash (§4.4 steps 1–5)."""
    mentions: dict[int, list[Quad]] = {}
    for quad in quads:
        s, _, o, g = quad
        # pyld lists a quad once per blank-node *position* (subject, object, graph name).
        if type(s) is int:
            mentions.setdefault(s, []).append(quad)
        if type(o) is int:
            mentions.setdefault(o, []).append(quad)
        if type(g) is int:
            mentions.setdefault(g, []).append(quad)
    names: dict[int, str] = {}
    if mentions:
        hashes: dict[str, int] = {}
        for number, mentioned in mentions.items():
            lines = sorted([_first_degree_line(q, number) for q in mentioned])
            digest = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
            if digest in hashes:
                raise _Unsupported  # needs the N-degree hash: the reference path has it
            hashes[digest] = number
        for i, digest in enumerate(sorted(hashes)):
            names[hashes[digest]] = f"_:c14n{i}"
    return "".join(sorted([_line(q, names) for q in quads]))


def _deduplicated(quads: list[Quad]) -> list[Quad]:
    """pyld's node map keeps one reference per (graph, subject, property, node): drop the
    repeated statements whose object is a node.  A repeated *literal* may come from two
    different value objects that pyld keeps apart (``1`` and ``"1"^^xsd:integer``): decline."""
    seen: set[Quad] = set()
    unique: list[Quad] = []
    for quad in quads:
        if quad in seen:
            obj = quad[2]
            if type(obj) is str and obj.startswith('"'):
                raise _Unsupported
            continue
        seen.add(quad)
        unique.append(quad)
    return unique


def fast_canonicalize(
    document: Mapping[str, Any],
    loader: StaticDocumentLoader,
    *,
    max_blank_nodes: int = 512,
) -> str | None:
    """RDFC-1.0 canonical N-Quads of ``document``, or ``None`` outside the supported subset.

    Never returns something the reference path (:func:`vc.jsonld.canonicalize` with
    ``fast=False``) would not return; an exception here is a bug (the caller falls back).
    """
    if type(document) is not dict:
        return None
    try:
        walk = _Walk(loader)
        if "@context" not in document:
            return None
        walk.node(document, _initial(), None, 0)
        quads = walk.quads
        if not quads or walk.blank_nodes > max_blank_nodes:
            return None
        if len(set(quads)) != len(quads):
            quads = _deduplicated(quads)
        return _canonical_nquads(quads)
    except _Unsupported:
        return None
