"""The system catalog: schemas, tables, columns, indexes, sequences and views.

PostgreSQL keeps its catalog in ordinary tables (pg_class, pg_attribute, ...) under MVCC, so DDL
is transactional: a CREATE TABLE rolled back never existed. cairn does the same: each relation's
definition is one row of the cairn.db table ``_sql_catalog`` (keyed by its OID), written by the
DDL statement's own transaction. Sessions read definitions from a shared in-memory cache (the
relcache); a transaction that changed the catalog sees its own changes through an overlay,
which is published to the cache when it commits (PostgreSQL's invalidation messages) and
dropped when it aborts.

A table's rows live in a cairn.db table named ``r<oid>`` (its relfilenode). Row dicts are
keyed by column number (``"1"``, ``"2"``...), so RENAME COLUMN touches only the catalog; a table
without a primary key gets a hidden ``"0"`` row id (PostgreSQL's ctid plays that part).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from cairn.sql import types as T
from cairn.sql.errors import SqlError

CATALOG_TABLE = "_sql_catalog"
FIRST_OID = 16384
ROWID = "0"


def type_to_json(t: T.SqlType) -> list[int]:
    return [t.oid, t.typmod]


def type_from_json(v: list[int]) -> T.SqlType:
    t = T.by_oid(v[0])
    return T.with_typmod(t, v[1]) if v[1] != -1 else t


@dataclass
class Column:
    attnum: int
    name: str
    type: T.SqlType
    not_null: bool = False
    default: str | None = None  # SQL text of the DEFAULT expression
    identity: str | None = None  # "always" | "by default"
    dropped: bool = False
    # the stored value rows written before ADD COLUMN ... DEFAULT read (attmissingval)
    missing: Any = None

    @property
    def key(self) -> str:
        return str(self.attnum)

    def to_json(self) -> dict[str, Any]:
        return {"n": self.attnum, "name": self.name, "t": type_to_json(self.type),
                "nn": self.not_null, "d": self.default, "id": self.identity,
                "x": self.dropped, "m": self.missing}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Column:
        return cls(d["n"], d["name"], type_from_json(d["t"]), d["nn"], d["d"], d["id"], d["x"],
                   d.get("m"))


@dataclass
class IndexDef:
    name: str
    oid: int
    columns: list[str]  # column names at creation (kept in step with renames)
    unique: bool = False
    primary: bool = False
    constraint: bool = False  # made by a PRIMARY KEY / UNIQUE constraint
    db_name: str = ""  # the cairn.db index (empty for the primary key: it is the heap's key)
    predicate: str | None = None  # a partial index's WHERE (SQL text)
    # a partial UNIQUE index: the row key holding the index key where the predicate holds
    # (NULL elsewhere, and NULLs never clash), which cairn.db's unique index enforces
    hidden: str | None = None
    include: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "oid": self.oid, "cols": self.columns, "u": self.unique,
                "p": self.primary, "c": self.constraint, "db": self.db_name,
                "pred": self.predicate, "hid": self.hidden, "inc": self.include}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> IndexDef:
        return cls(d["name"], d["oid"], d["cols"], d["u"], d["p"], d["c"], d["db"],
                   d.get("pred"), d.get("hid"), d.get("inc", []))


@dataclass
class CheckDef:
    name: str
    expr: str  # SQL text

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "e": self.expr}


@dataclass
class ForeignKey:
    name: str
    columns: list[str]
    ref_oid: int
    ref_columns: list[str]
    on_delete: str = "no action"
    on_update: str = "no action"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "cols": self.columns, "ref": self.ref_oid,
                "rcols": self.ref_columns, "del": self.on_delete, "upd": self.on_update}


@dataclass
class Policy:
    """A row-level security policy (pg_policy)."""

    name: str
    command: str  # all | select | insert | update | delete
    permissive: bool
    roles: list[str]  # empty: PUBLIC
    using: str | None  # SQL text
    check: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "cmd": self.command, "perm": self.permissive,
                "roles": self.roles, "using": self.using, "check": self.check}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Policy:
        return cls(d["name"], d["cmd"], d["perm"], d["roles"], d["using"], d["check"])


@dataclass
class Relation:
    """A table, view or sequence (a pg_class row with its attributes and constraints)."""

    oid: int
    schema: str
    name: str
    kind: str  # "r" table, "v" view, "S" sequence
    columns: list[Column] = field(default_factory=list)
    pk: list[str] | None = None  # primary-key column names; None: hidden row id
    indexes: list[IndexDef] = field(default_factory=list)
    checks: list[CheckDef] = field(default_factory=list)
    fkeys: list[ForeignKey] = field(default_factory=list)
    view_sql: str | None = None
    owner: str = "cairn"
    heap: str = ""  # the cairn.db table holding the rows
    seq: dict[str, Any] = field(default_factory=dict)  # sequence options
    next_attnum: int = 1
    rls: bool = False  # ENABLE ROW LEVEL SECURITY
    rls_forced: bool = False  # FORCE ROW LEVEL SECURITY (the owner too)
    policies: list[Policy] = field(default_factory=list)
    acl: dict[str, list[str]] = field(default_factory=dict)  # role -> privileges granted

    # -- columns --------------------------------------------------------------------------
    @property
    def live_columns(self) -> list[Column]:
        return [c for c in self.columns if not c.dropped]

    def column(self, name: str) -> Column | None:
        for c in self.columns:
            if c.name == name and not c.dropped:
                return c
        return None

    def pk_keys(self) -> list[str]:
        if self.pk is None:
            return [ROWID]
        out = []
        for n in self.pk:
            c = self.column(n)
            assert c is not None
            out.append(c.key)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"oid": self.oid, "schema": self.schema, "name": self.name, "kind": self.kind,
                "cols": [c.to_json() for c in self.columns], "pk": self.pk,
                "ix": [i.to_json() for i in self.indexes],
                "ck": [c.to_json() for c in self.checks],
                "fk": [f.to_json() for f in self.fkeys], "view": self.view_sql,
                "owner": self.owner, "heap": self.heap, "seq": self.seq,
                "next": self.next_attnum, "rls": self.rls, "rlsf": self.rls_forced,
                "pol": [p.to_json() for p in self.policies], "acl": self.acl}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Relation:
        return cls(d["oid"], d["schema"], d["name"], d["kind"],
                   [Column.from_json(c) for c in d["cols"]], d["pk"],
                   [IndexDef.from_json(i) for i in d["ix"]],
                   [CheckDef(c["name"], c["e"]) for c in d["ck"]],
                   [ForeignKey(f["name"], f["cols"], f["ref"], f["rcols"], f["del"], f["upd"])
                    for f in d["fk"]], d["view"], d["owner"], d["heap"], d["seq"], d["next"],
                   d.get("rls", False), d.get("rlsf", False),
                   [Policy.from_json(p) for p in d.get("pol", [])], d.get("acl", {}))

    def copy(self) -> Relation:
        return Relation.from_json(self.to_json())


@dataclass
class Schema:
    name: str
    oid: int
    owner: str = "cairn"


BUILTIN_SCHEMAS = {"pg_catalog": 11, "public": 2200, "information_schema": 13000}


class Catalog:
    """The committed catalog shared by every session of one database (the relcache)."""

    def __init__(self) -> None:
        self.relations: dict[int, Relation] = {}
        self.by_name: dict[tuple[str, str], int] = {}
        self.schemas: dict[str, Schema] = {n: Schema(n, o) for n, o in BUILTIN_SCHEMAS.items()}
        self.roles: dict[str, Any] = {}  # name -> cairn.sql.roles.Role
        self.next_oid = FIRST_OID
        self.generation = 0  # bumped by every committed DDL (plan caches check it)
        self.lock = threading.Lock()

    def alloc_oid(self) -> int:
        with self.lock:
            oid = self.next_oid
            self.next_oid += 1
            return oid

    def load(self, rows: list[dict[str, Any]]) -> None:
        from cairn.sql.roles import Role

        for row in rows:
            d = row["def"]
            if "role" in d:
                role = Role.from_json(d["role"])
                self.roles[role.name] = role
                self.next_oid = max(self.next_oid, role.oid + 1)
                continue
            if row["oid"] == 0:
                self.next_oid = max(self.next_oid, d["next_oid"])
                for n, o in d.get("schemas", {}).items():
                    self.schemas[n] = Schema(n, o["oid"], o["owner"])
                continue
            rel = Relation.from_json(d)
            self.relations[rel.oid] = rel
            self.by_name[(rel.schema, rel.name)] = rel.oid
            self.next_oid = max(self.next_oid, rel.oid + 1)
            for ix in rel.indexes:
                self.next_oid = max(self.next_oid, ix.oid + 1)

    def publish(self, overlay: Overlay) -> None:
        """A committed transaction's catalog changes become everyone's."""
        with self.lock:
            for oid, rel in overlay.relations.items():
                old = self.relations.pop(oid, None)
                if old is not None:
                    self.by_name.pop((old.schema, old.name), None)
                if rel is not None:
                    self.relations[oid] = rel
                    self.by_name[(rel.schema, rel.name)] = oid
            for name, sch in overlay.schemas.items():
                if sch is None:
                    self.schemas.pop(name, None)
                else:
                    self.schemas[name] = sch
            for name, role in overlay.roles.items():
                if role is None:
                    self.roles.pop(name, None)
                else:
                    self.roles[name] = role
            self.generation += 1


@dataclass
class Overlay:
    """One transaction's uncommitted catalog changes (None = dropped)."""

    relations: dict[int, Relation | None] = field(default_factory=dict)
    schemas: dict[str, Schema | None] = field(default_factory=dict)
    roles: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.relations or self.schemas or self.roles)


class CatalogView:
    """What one session sees: the shared catalog under its transaction's overlay."""

    def __init__(self, catalog: Catalog, overlay: Overlay):
        self.catalog = catalog
        self.overlay = overlay

    def relation_by_oid(self, oid: int) -> Relation | None:
        if oid in self.overlay.relations:
            return self.overlay.relations[oid]
        return self.catalog.relations.get(oid)

    def lookup(self, schema: str, name: str) -> Relation | None:
        for rel in self.overlay.relations.values():
            if rel is not None and rel.schema == schema and rel.name == name:
                return rel
        oid = self.catalog.by_name.get((schema, name))
        if oid is None or oid in self.overlay.relations:
            return None
        return self.catalog.relations.get(oid)

    def schema(self, name: str) -> Schema | None:
        if name in self.overlay.schemas:
            return self.overlay.schemas[name]
        return self.catalog.schemas.get(name)

    def all_relations(self) -> list[Relation]:
        out = {oid: r for oid, r in self.catalog.relations.items()}
        for oid, r in self.overlay.relations.items():
            if r is None:
                out.pop(oid, None)
            else:
                out[oid] = r
        return sorted(out.values(), key=lambda r: r.oid)

    def resolve(self, schema: str | None, name: str, search_path: list[str],
                pos: int = -1, kinds: str = "rvS") -> Relation:
        rel = self.find(schema, name, search_path)
        if rel is None or rel.kind not in kinds:
            shown = f"{schema}.{name}" if schema else name
            raise SqlError(f'relation "{shown}" does not exist', sqlstate="42P01",
                           position=pos + 1 if pos >= 0 else None)
        return rel

    def find(self, schema: str | None, name: str, search_path: list[str]) -> Relation | None:
        if schema is not None:
            return self.lookup(schema, name)
        for s in search_path:
            rel = self.lookup(s, name)
            if rel is not None:
                return rel
        return None
