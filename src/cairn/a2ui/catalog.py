"""Catalogs: the official basic catalog and cairn's own, loaded from JSON Schema files.

A catalog is a JSON Schema document that lists components and client-side functions. The
validator needs more than the schema can say, so this module derives it from the schema:

* which properties of each component refer to other components (a ``$ref`` to
  ``common_types.json#/$defs/ComponentId`` is a single child, ``ChildList`` a list or a
  template), found by walking the schema, never listed by hand;
* which properties carry URLs (checked against an allow-list of schemes).

The basic catalog and the common types are the vendored official files
(``schemas/v0_9/``, see :mod:`cairn.a2ui.vendor_schemas`); the cairn catalog
(``catalogs/cairn/catalog.json``) references the basic components and adds ``SeatMap`` and
``Chart``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE / "schemas" / "v0_9"
CATALOG_DIR = HERE / "catalogs"

COMMON_TYPES_ID = "https://a2ui.org/specification/v0_9/common_types.json"
BASIC_CATALOG_ID = "https://a2ui.org/specification/v0_9/catalogs/basic/catalog.json"
CAIRN_CATALOG_ID = "https://cairn.example/a2ui/v0_9/catalogs/cairn/catalog.json"
# The envelope refers to the catalog as "catalog.json" relative to its own $id: whichever
# catalog a surface uses is registered under this URI when validating that surface.
CATALOG_PLACEHOLDER = "https://a2ui.org/specification/v0_9/catalog.json"

# Properties whose literal string values are URLs (per component name, "*" for any).
URL_PROPS = {"Image": ("url",), "Video": ("url",), "AudioPlayer": ("url",)}
# Containers whose direct children may carry ``weight``.
FLEX_CONTAINERS = frozenset({"Row", "Column"})


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def official_documents() -> dict[str, Any]:
    """The vendored official documents keyed by their ``$id``."""
    docs: dict[str, Any] = {}
    for name in ("server_to_client.json", "common_types.json", "client_to_server.json",
                 "client_capabilities.json", "client_data_model.json",
                 "server_capabilities.json", "catalogs/basic/catalog.json"):
        doc = load_json(SCHEMA_DIR / name)
        docs[doc.get("$id", name)] = doc
    # client_to_server.json has no $id upstream; give it a stable one for the registry.
    return docs


@dataclass(frozen=True)
class RefSpec:
    """A property path (``"*"`` = every array item) that holds component ids."""

    path: tuple[str, ...]
    kind: str  # "id" (ComponentId) or "list" (ChildList: id array or template)


@dataclass
class Catalog:
    catalog_id: str
    doc: dict[str, Any]
    components: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    refs: dict[str, tuple[RefSpec, ...]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What a prompt or a client needs to know: names, required props, descriptions."""
        out: dict[str, Any] = {}
        for name in self.components:
            schema = resolve_component(self, name)
            props: dict[str, Any] = {}
            required: list[str] = []
            for part in _all_of(schema):
                props.update(part.get("properties", {}))
                required += part.get("required", [])
            out[name] = {
                "props": sorted(k for k in props if k != "component"),
                "required": sorted(set(required) - {"component"}),
            }
        return out


def _docs_with(extra: dict[str, Any]) -> dict[str, Any]:
    docs = dict(official_documents())
    docs.update(extra)
    return docs


def _deref(ref: str, base: str, docs: dict[str, Any]) -> tuple[Any, str]:
    uri, _, frag = ref.partition("#")
    doc_id = uri or base
    node = docs[doc_id]
    for tok in [t for t in frag.split("/") if t]:
        node = node[tok.replace("~1", "/").replace("~0", "~")]
    return node, doc_id


def _all_of(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [schema, *schema.get("allOf", [])]


def resolve_component(catalog: Catalog, name: str) -> dict[str, Any]:
    """The component's schema with a top-level ``$ref`` followed (cairn → basic)."""
    docs = _docs_with({catalog.catalog_id: catalog.doc})
    node, base = catalog.doc["components"][name], catalog.catalog_id
    while "$ref" in node and len(node) == 1:
        node, base = _deref(node["$ref"], base, docs)
    return node


def _find_refs(node: Any, base: str, docs: dict[str, Any], path: tuple[str, ...],
               out: list[RefSpec], depth: int = 0) -> None:
    """Collect property paths whose schema is a ComponentId or a ChildList reference."""
    if depth > 12 or not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref.endswith("common_types.json#/$defs/ComponentId"):
            out.append(RefSpec(path, "id"))
            return
        if ref.endswith("common_types.json#/$defs/ChildList"):
            out.append(RefSpec(path, "list"))
            return
        target, tbase = _deref(ref, base, docs)
        # Do not descend into the shared common definitions (ComponentCommon's "id" is the
        # component's own id, not a reference) or into actions/values.
        if not ref.startswith(COMMON_TYPES_ID) and not ref.startswith("#/$defs/"):
            _find_refs(target, tbase, docs, path, out, depth + 1)
    for part in node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", []):
        _find_refs(part, base, docs, path, out, depth + 1)
    for key, sub in node.get("properties", {}).items():
        _find_refs(sub, base, docs, (*path, key), out, depth + 1)
    if isinstance(node.get("items"), dict):
        _find_refs(node["items"], base, docs, (*path, "*"), out, depth + 1)


def build_catalog(doc: dict[str, Any]) -> Catalog:
    cid = doc["catalogId"]
    docs = _docs_with({cid: doc})
    refs: dict[str, tuple[RefSpec, ...]] = {}
    for name, schema in doc["components"].items():
        found: list[RefSpec] = []
        _find_refs(schema, cid, docs, (), found)
        refs[name] = tuple(dict.fromkeys(found))
    return Catalog(cid, doc, tuple(doc["components"]), tuple(doc.get("functions", {})), refs)


@cache
def basic_catalog() -> Catalog:
    return build_catalog(load_json(SCHEMA_DIR / "catalogs" / "basic" / "catalog.json"))


@cache
def cairn_catalog() -> Catalog:
    return build_catalog(load_json(CATALOG_DIR / "cairn" / "catalog.json"))


def default_catalogs() -> dict[str, Catalog]:
    return {c.catalog_id: c for c in (basic_catalog(), cairn_catalog())}
