"""SQL types as values: PostgreSQL's built-in types with their OIDs, typmods and categories.

A ``SqlType`` is what the analyzer attaches to every expression. Its fields mirror pg_type
(``oid``, ``typlen``, ``typcategory``, ``typispreferred``) plus the column's typmod, so the
catalog and the wire protocol can report exactly what PostgreSQL reports (``format_type``'s
name, the OIDs psycopg and asyncpg look up). ``parse_type`` turns a type name as written in SQL
("int", "character varying", "timestamptz") with its modifiers into one.
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.sql.errors import InvalidParameterValue, SyntaxError_, UndefinedObject

VARCHAR_MAX = 10485760


@dataclass(frozen=True, slots=True)
class SqlType:
    """One SQL type with its modifier. Equal types compare equal (frozen, hashable)."""

    name: str  # format_type's text: "integer", "character varying(20)", "integer[]"
    oid: int
    typmod: int = -1
    element: SqlType | None = None
    category: str = "U"
    preferred: bool = False
    typlen: int = -1
    typname: str = ""  # pg_type.typname: "int4", "_int4"

    @property
    def is_array(self) -> bool:
        return self.element is not None

    @property
    def base(self) -> SqlType:
        """The same type without its typmod (what operators and functions are declared on)."""
        if self.typmod == -1:
            return self
        if self.element is not None:
            return array_of(self.element.base)
        return _BY_OID[self.oid]

    def __repr__(self) -> str:
        return f"SqlType({self.name})"


_BY_OID: dict[int, SqlType] = {}
_ARRAY_OF: dict[int, int] = {}  # element oid -> array oid


def _scalar(
    typname: str, name: str, oid: int, array_oid: int | None, cat: str, pref: bool, typlen: int
) -> SqlType:
    t = SqlType(name, oid, -1, None, cat, pref, typlen, typname)
    _BY_OID[oid] = t
    if array_oid is not None:
        _ARRAY_OF[oid] = array_oid
        _BY_OID[array_oid] = SqlType(name + "[]", array_oid, -1, t, "A", False, -1, "_" + typname)
    return t


BOOL = _scalar("bool", "boolean", 16, 1000, "B", True, 1)
BYTEA = _scalar("bytea", "bytea", 17, 1001, "U", False, -1)
NAME = _scalar("name", "name", 19, 1003, "S", False, 64)
INT8 = _scalar("int8", "bigint", 20, 1016, "N", False, 8)
INT2 = _scalar("int2", "smallint", 21, 1005, "N", False, 2)
INT4 = _scalar("int4", "integer", 23, 1007, "N", False, 4)
TEXT = _scalar("text", "text", 25, 1009, "S", True, -1)
OID = _scalar("oid", "oid", 26, 1028, "N", False, 4)
JSON = _scalar("json", "json", 114, 199, "U", False, -1)
FLOAT4 = _scalar("float4", "real", 700, 1021, "N", False, 4)
FLOAT8 = _scalar("float8", "double precision", 701, 1022, "N", True, 8)
UNKNOWN = _scalar("unknown", "unknown", 705, None, "X", False, -2)
BPCHAR = _scalar("bpchar", "bpchar", 1042, 1014, "S", False, -1)
VARCHAR = _scalar("varchar", "character varying", 1043, 1015, "S", False, -1)
DATE = _scalar("date", "date", 1082, 1182, "D", False, 4)
TIME = _scalar("time", "time without time zone", 1083, 1183, "D", False, 8)
TIMESTAMP = _scalar("timestamp", "timestamp without time zone", 1114, 1115, "D", False, 8)
TIMESTAMPTZ = _scalar("timestamptz", "timestamp with time zone", 1184, 1185, "D", True, 8)
INTERVAL = _scalar("interval", "interval", 1186, 1187, "T", True, 16)
NUMERIC = _scalar("numeric", "numeric", 1700, 1231, "N", False, -1)
REGCLASS = _scalar("regclass", "regclass", 2205, 2210, "N", False, 4)
REGTYPE = _scalar("regtype", "regtype", 2206, 2211, "N", False, 4)
RECORD = _scalar("record", "record", 2249, 2287, "P", False, -1)
VOID = _scalar("void", "void", 2278, None, "P", False, 4)
UUID = _scalar("uuid", "uuid", 2950, 2951, "U", False, 16)
JSONB = _scalar("jsonb", "jsonb", 3802, 3807, "U", False, -1)
ANYELEMENT = _scalar("anyelement", "anyelement", 2283, None, "P", False, 4)
ANYARRAY = _scalar("anyarray", "anyarray", 2277, None, "P", False, -1)


def by_oid(oid: int) -> SqlType:
    """The built-in type with this OID (no typmod); ``UndefinedObject`` for others."""
    try:
        return _BY_OID[oid]
    except KeyError:
        raise UndefinedObject(f"type with OID {oid} does not exist") from None


def regtype_name(oid: int) -> str:
    """A type's name as regtype prints it (pg_typeof): format_type without a typmod, except
    that bpchar shows as "character" (format_type(oid, NULL)). OID 0 is "-", and an OID of
    no known type prints as its number, as PostgreSQL's regtypeout does."""
    if oid == 0:
        return "-"
    if oid not in _BY_OID:
        return str(oid)
    t = by_oid(oid)
    if t.element is not None and t.element.oid == BPCHAR.oid:
        return "character[]"
    return "character" if oid == BPCHAR.oid else t.name


def array_of(element: SqlType) -> SqlType:
    """The array type of ``element`` (keeping the element's typmod, as PostgreSQL's columns do)."""
    if element.element is not None:  # PostgreSQL has no arrays of arrays: int[][] is int[]
        return element
    base = _BY_OID[_ARRAY_OF[element.oid]] if element.oid in _ARRAY_OF else None
    if base is None:
        raise UndefinedObject(f"could not find array type for data type {element.name}")
    if element.typmod == -1:
        return base
    return SqlType(
        element.name + "[]", base.oid, element.typmod, element, "A", False, -1, base.typname
    )


ARRAY_TYPES = {t.oid: t for t in list(_BY_OID.values()) if t.element is not None}
INT4_ARRAY = array_of(INT4)
TEXT_ARRAY = array_of(TEXT)

_ALIASES: dict[str, SqlType] = {
    "bool": BOOL,
    "boolean": BOOL,
    "bytea": BYTEA,
    "name": NAME,
    "int8": INT8,
    "bigint": INT8,
    "int2": INT2,
    "smallint": INT2,
    "int4": INT4,
    "int": INT4,
    "integer": INT4,
    "text": TEXT,
    "oid": OID,
    "json": JSON,
    "jsonb": JSONB,
    "float4": FLOAT4,
    "real": FLOAT4,
    "float8": FLOAT8,
    "double precision": FLOAT8,
    "float": FLOAT8,
    "unknown": UNKNOWN,
    "bpchar": BPCHAR,
    "char": BPCHAR,
    "character": BPCHAR,
    "varchar": VARCHAR,
    "character varying": VARCHAR,
    "char varying": VARCHAR,
    "date": DATE,
    "time": TIME,
    "time without time zone": TIME,
    "timestamp": TIMESTAMP,
    "timestamp without time zone": TIMESTAMP,
    "timestamptz": TIMESTAMPTZ,
    "timestamp with time zone": TIMESTAMPTZ,
    "interval": INTERVAL,
    "numeric": NUMERIC,
    "decimal": NUMERIC,
    "dec": NUMERIC,
    "regclass": REGCLASS,
    "record": RECORD,
    "void": VOID,
    "uuid": UUID,
    "anyelement": ANYELEMENT,
    "anyarray": ANYARRAY,
}
for _t in list(_BY_OID.values()):
    _ALIASES.setdefault(_t.typname, _t)


def numeric_typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | (scale & 0x7FF)) + 4


def numeric_precision_scale(typmod: int) -> tuple[int, int]:
    """Decode numeric(p,s)'s typmod (scale is an 11-bit two's complement since PostgreSQL 15)."""
    tm = typmod - 4
    scale = tm & 0x7FF
    if scale > 1023:
        scale -= 2048
    return (tm >> 16) & 0xFFFF, scale


def with_typmod(t: SqlType, typmod: int) -> SqlType:
    """``t`` with a typmod already encoded as PostgreSQL stores it (atttypmod)."""
    if typmod == -1:
        return t.base
    if t.element is not None:
        return array_of(with_typmod(t.element, typmod))
    return SqlType(
        _typmod_name(t, typmod), t.oid, typmod, None, t.category, t.preferred, t.typlen, t.typname
    )


def _typmod_name(t: SqlType, typmod: int) -> str:
    if t.oid in (VARCHAR.oid, BPCHAR.oid):
        word = "character varying" if t.oid == VARCHAR.oid else "character"
        return f"{word}({typmod - 4})"
    if t.oid == NUMERIC.oid:
        p, s = numeric_precision_scale(typmod)
        return f"numeric({p},{s})"
    if t.oid in (TIMESTAMP.oid, TIMESTAMPTZ.oid, TIME.oid):
        head, _, tail = t.name.partition(" ")
        return f"{head}({typmod}) {tail}"
    if t.oid == INTERVAL.oid:
        return f"interval({typmod & 0xFFFF})"
    return t.name


def _typmod_for(t: SqlType, shown: str, mods: list[int]) -> int:
    oid = t.oid
    if oid in (VARCHAR.oid, BPCHAR.oid):
        if len(mods) != 1:
            raise SyntaxError_(f"invalid type modifier for type {shown}")
        n = mods[0]
        word = "varchar" if oid == VARCHAR.oid else "char"
        if n < 1:
            raise InvalidParameterValue(f"length for type {word} must be at least 1")
        if n > VARCHAR_MAX:
            raise InvalidParameterValue(f"length for type {word} cannot exceed {VARCHAR_MAX}")
        return n + 4
    if oid == NUMERIC.oid:
        if len(mods) > 2:
            raise SyntaxError_("invalid NUMERIC type modifier")
        p = mods[0]
        s = mods[1] if len(mods) == 2 else 0
        if not 1 <= p <= 1000:
            raise InvalidParameterValue(f"NUMERIC precision {p} must be between 1 and 1000")
        if not -1000 <= s <= 1000:
            raise InvalidParameterValue(f"NUMERIC scale {s} must be between -1000 and 1000")
        return numeric_typmod(p, s)
    if oid in (TIMESTAMP.oid, TIMESTAMPTZ.oid, TIME.oid, INTERVAL.oid):
        if len(mods) != 1:
            raise SyntaxError_(f"invalid type modifier for type {shown}")
        p = mods[0]
        label = {
            TIMESTAMP.oid: "TIMESTAMP",
            TIMESTAMPTZ.oid: "TIMESTAMP(6) WITH TIME ZONE",
            TIME.oid: "TIME",
            INTERVAL.oid: "INTERVAL",
        }[oid]
        if p < 0:
            raise InvalidParameterValue(f"{label}({p}) precision must not be negative")
        if oid == INTERVAL.oid:
            return (0x7FFF << 16) | min(p, 6)
        return min(p, 6)
    raise SyntaxError_(f'type modifier is not allowed for type "{shown}"')


def parse_type(name: str, typmods: list[int] | None = None, array_dims: int = 0) -> SqlType:
    """A type as written in SQL: ``parse_type("varchar", [20])``, ``parse_type("int", None, 1)``.

    ``name`` is case-insensitive, may carry a ``pg_catalog.`` prefix and a trailing ``[]``;
    ``float(p)`` picks real or double precision as PostgreSQL does.
    """
    key = " ".join(name.lower().split())
    if key.startswith("pg_catalog."):
        key = key[len("pg_catalog.") :]
    while key.endswith("[]"):
        key = key[:-2].rstrip()
        array_dims += 1
    t = _ALIASES.get(key)
    if t is None:
        raise UndefinedObject(f'type "{name}" does not exist')
    if typmods:
        if key == "float":
            p = typmods[0]
            if p < 1:
                raise InvalidParameterValue("precision for type float must be at least 1 bit")
            if p > 53:
                raise InvalidParameterValue("precision for type float must be less than 54 bits")
            t = FLOAT4 if p <= 24 else FLOAT8
        else:
            t = with_typmod(t, _typmod_for(t, t.typname or key, list(typmods)))
    elif key in ("char", "character"):
        t = with_typmod(BPCHAR, 5)  # char without a length is char(1)
    if array_dims:
        t = array_of(t)
    return t
