"""The parse tree: what the parser builds and the analyzer reads.

Node names follow PostgreSQL's parsenodes.h where there is one (SelectStmt, RangeVar,
ResTarget, SortBy, ColumnDef, ...), so that a reader who knows one knows the other. Nodes are
plain dataclasses; ``pos`` is the character offset of the node in the statement, used by error
messages (PostgreSQL's ``position``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Node:
    __slots__ = ()


# -- expressions ----------------------------------------------------------------------------
@dataclass(slots=True)
class TypeName(Node):
    names: list[str]  # ["integer"], ["character", "varying"], ["pg_catalog", "int4"]
    typmods: list[int] = field(default_factory=list)
    array_dims: int = 0
    pos: int = -1
    with_tz: bool | None = None  # timestamp/time WITH or WITHOUT TIME ZONE

    def text(self) -> str:
        return " ".join(self.names)


@dataclass(slots=True)
class Const(Node):
    value: Any  # str for strings and numeric text, int, bool, None
    kind: str  # "string" | "integer" | "numeric" | "bool" | "null" | "bitstring"
    pos: int = -1


@dataclass(slots=True)
class Param(Node):
    number: int  # 1-based ($1)
    pos: int = -1


@dataclass(slots=True)
class ColumnRef(Node):
    fields: list[str]  # ["t", "c"], ["c"]; a trailing "*" for t.*
    pos: int = -1


@dataclass(slots=True)
class Star(Node):
    table: list[str] | None = None
    pos: int = -1


@dataclass(slots=True)
class WindowDef(Node):
    name: str | None = None  # OVER w, or WINDOW w AS (...)
    ref: str | None = None  # OVER (w ORDER BY ...) refers to w
    partition_by: list[Node] = field(default_factory=list)
    order_by: list[SortBy] = field(default_factory=list)
    frame: FrameSpec | None = None
    pos: int = -1


@dataclass(slots=True)
class FrameBound(Node):
    # "unbounded preceding" | "preceding" | "current row" | "following" | "unbounded following"
    kind: str
    offset: Node | None = None


@dataclass(slots=True)
class FrameSpec(Node):
    mode: str  # "rows" | "range" | "groups"
    start: FrameBound
    end: FrameBound
    exclude: str = "no others"


@dataclass(slots=True)
class FuncCall(Node):
    name: list[str]
    args: list[Node] = field(default_factory=list)
    star: bool = False  # count(*)
    distinct: bool = False
    order_by: list[SortBy] = field(default_factory=list)  # string_agg(x, ',' ORDER BY y)
    filter: Node | None = None
    over: WindowDef | None = None
    variadic: bool = False
    named: list[str | None] = field(default_factory=list)  # arg names for name => value
    pos: int = -1


@dataclass(slots=True)
class BinOp(Node):
    op: str
    left: Node
    right: Node
    pos: int = -1


@dataclass(slots=True)
class UnaryOp(Node):
    op: str
    arg: Node
    pos: int = -1


@dataclass(slots=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    args: list[Node]
    pos: int = -1


@dataclass(slots=True)
class Not(Node):
    arg: Node
    pos: int = -1


@dataclass(slots=True)
class IsNull(Node):
    arg: Node
    negated: bool = False
    pos: int = -1


@dataclass(slots=True)
class IsBool(Node):
    arg: Node
    value: bool | None  # IS TRUE / IS FALSE / IS UNKNOWN (None)
    negated: bool = False
    pos: int = -1


@dataclass(slots=True)
class IsDistinct(Node):
    left: Node
    right: Node
    negated: bool = False  # IS NOT DISTINCT FROM
    pos: int = -1


@dataclass(slots=True)
class Between(Node):
    arg: Node
    low: Node
    high: Node
    negated: bool = False
    symmetric: bool = False
    pos: int = -1


@dataclass(slots=True)
class InList(Node):
    arg: Node
    items: list[Node]
    negated: bool = False
    pos: int = -1


@dataclass(slots=True)
class SubLink(Node):
    """A subquery in an expression: EXISTS, scalar, IN (x IN (SELECT ...)), op ANY/ALL."""

    kind: str  # "exists" | "expr" | "any" | "all" | "array"
    query: Node
    test: Node | None = None  # the left side of IN / ANY / ALL
    op: str | None = None  # "=" for IN
    pos: int = -1


@dataclass(slots=True)
class AnyAll(Node):
    """``x op ANY (array)`` and ``x op ALL (array)`` with an array expression."""

    kind: str  # "any" | "all"
    op: str
    left: Node
    right: Node
    pos: int = -1


@dataclass(slots=True)
class Like(Node):
    arg: Node
    pattern: Node
    escape: Node | None = None
    negated: bool = False
    insensitive: bool = False  # ILIKE
    similar: bool = False  # SIMILAR TO
    pos: int = -1


@dataclass(slots=True)
class Case(Node):
    arg: Node | None
    whens: list[tuple[Node, Node]]
    default: Node | None
    pos: int = -1


@dataclass(slots=True)
class Cast(Node):
    arg: Node
    type: TypeName
    pos: int = -1


@dataclass(slots=True)
class Coalesce(Node):
    args: list[Node]
    pos: int = -1


@dataclass(slots=True)
class NullIf(Node):
    left: Node
    right: Node
    pos: int = -1


@dataclass(slots=True)
class MinMax(Node):
    op: str  # "greatest" | "least"
    args: list[Node]
    pos: int = -1


@dataclass(slots=True)
class ArrayExpr(Node):
    items: list[Node]
    pos: int = -1


@dataclass(slots=True)
class Subscript(Node):
    arg: Node
    index: Node | None
    upper: Node | None = None  # a[1:2]
    is_slice: bool = False
    pos: int = -1


@dataclass(slots=True)
class FieldSelect(Node):
    arg: Node  # (expr).field
    field: str
    pos: int = -1


@dataclass(slots=True)
class RowExpr(Node):
    items: list[Node]
    pos: int = -1


@dataclass(slots=True)
class SQLValue(Node):
    """CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_USER, ... (no parentheses)."""

    name: str
    precision: int | None = None
    pos: int = -1


@dataclass(slots=True)
class Default(Node):
    """DEFAULT in VALUES or SET."""

    pos: int = -1


# -- queries --------------------------------------------------------------------------------
@dataclass(slots=True)
class SortBy(Node):
    expr: Node
    desc: bool = False
    nulls_first: bool | None = None  # None: the default (NULLS LAST for ASC)
    using: str | None = None
    pos: int = -1


@dataclass(slots=True)
class ResTarget(Node):
    expr: Node
    name: str | None = None
    pos: int = -1


@dataclass(slots=True)
class RangeVar(Node):
    name: str
    schema: str | None = None
    alias: str | None = None
    col_aliases: list[str] = field(default_factory=list)
    only: bool = False
    pos: int = -1


@dataclass(slots=True)
class RangeSubselect(Node):
    query: Node
    alias: str | None
    col_aliases: list[str] = field(default_factory=list)
    lateral: bool = False
    pos: int = -1


@dataclass(slots=True)
class RangeFunction(Node):
    func: Node
    alias: str | None = None
    col_aliases: list[str] = field(default_factory=list)
    col_defs: list[ColumnDef] = field(default_factory=list)
    lateral: bool = False
    ordinality: bool = False
    pos: int = -1


@dataclass(slots=True)
class JoinExpr(Node):
    kind: str  # "inner" | "left" | "right" | "full" | "cross"
    left: Node
    right: Node
    on: Node | None = None
    using: list[str] | None = None
    natural: bool = False
    alias: str | None = None
    pos: int = -1


@dataclass(slots=True)
class LockingClause(Node):
    strength: str  # "update" | "no key update" | "share" | "key share"
    tables: list[str] = field(default_factory=list)
    wait: str = "wait"  # "wait" | "nowait" | "skip locked"
    pos: int = -1


@dataclass(slots=True)
class CommonTableExpr(Node):
    name: str
    query: Node
    col_aliases: list[str] = field(default_factory=list)
    materialized: bool | None = None
    pos: int = -1


@dataclass(slots=True)
class WithClause(Node):
    ctes: list[CommonTableExpr]
    recursive: bool = False
    pos: int = -1


@dataclass(slots=True)
class SelectStmt(Node):
    targets: list[ResTarget] = field(default_factory=list)
    from_: list[Node] = field(default_factory=list)
    where: Node | None = None
    group_by: list[Node] = field(default_factory=list)
    having: Node | None = None
    windows: list[WindowDef] = field(default_factory=list)
    order_by: list[SortBy] = field(default_factory=list)
    limit: Node | None = None
    offset: Node | None = None
    distinct: bool = False
    distinct_on: list[Node] = field(default_factory=list)
    locking: list[LockingClause] = field(default_factory=list)
    with_: WithClause | None = None
    values: list[list[Node]] | None = None  # VALUES (...), (...)
    into: RangeVar | None = None
    pos: int = -1


@dataclass(slots=True)
class SetOperation(Node):
    op: str  # "union" | "intersect" | "except"
    all: bool
    left: Node
    right: Node
    order_by: list[SortBy] = field(default_factory=list)
    limit: Node | None = None
    offset: Node | None = None
    locking: list[LockingClause] = field(default_factory=list)
    with_: WithClause | None = None
    pos: int = -1


# -- data modification ----------------------------------------------------------------------
@dataclass(slots=True)
class OnConflict(Node):
    action: str  # "nothing" | "update"
    columns: list[Node] = field(default_factory=list)  # the conflict target (index columns)
    target_where: Node | None = None
    constraint: str | None = None
    sets: list[tuple[list[str], Node]] = field(default_factory=list)
    where: Node | None = None


@dataclass(slots=True)
class InsertStmt(Node):
    table: RangeVar
    columns: list[str] = field(default_factory=list)
    # a SelectStmt (VALUES is a SelectStmt with values); None: DEFAULT VALUES
    query: Node | None = None
    on_conflict: OnConflict | None = None
    returning: list[ResTarget] = field(default_factory=list)
    with_: WithClause | None = None
    overriding: str | None = None
    pos: int = -1


@dataclass(slots=True)
class UpdateStmt(Node):
    table: RangeVar
    sets: list[tuple[list[str], Node]]  # ([col], expr) or ([a, b], row expr / subquery)
    from_: list[Node] = field(default_factory=list)
    where: Node | None = None
    returning: list[ResTarget] = field(default_factory=list)
    with_: WithClause | None = None
    pos: int = -1


@dataclass(slots=True)
class DeleteStmt(Node):
    table: RangeVar
    using: list[Node] = field(default_factory=list)
    where: Node | None = None
    returning: list[ResTarget] = field(default_factory=list)
    with_: WithClause | None = None
    pos: int = -1


@dataclass(slots=True)
class CopyStmt(Node):
    table: RangeVar | None
    query: Node | None
    columns: list[str]
    is_from: bool
    target: str  # "stdin" | "stdout" | a file name
    options: dict[str, Any] = field(default_factory=dict)
    pos: int = -1


# -- DDL ------------------------------------------------------------------------------------
@dataclass(slots=True)
class Constraint(Node):
    # "not null" | "null" | "default" | "primary key" | "unique" | "check" | "foreign key"
    # | "identity" | "generated"
    kind: str
    name: str | None = None
    columns: list[str] = field(default_factory=list)
    expr: Node | None = None  # CHECK expr, DEFAULT expr, GENERATED expr
    ref_table: RangeVar | None = None
    ref_columns: list[str] = field(default_factory=list)
    on_delete: str = "no action"
    on_update: str = "no action"
    identity: str | None = None  # "always" | "by default"
    seq_options: dict[str, Any] = field(default_factory=dict)
    include: list[str] = field(default_factory=list)
    deferrable: bool = False
    text: str = ""  # the SQL text of expr (DEFAULT and CHECK keep it in the catalog)
    pos: int = -1


@dataclass(slots=True)
class ColumnDef(Node):
    name: str
    type: TypeName
    constraints: list[Constraint] = field(default_factory=list)
    pos: int = -1


@dataclass(slots=True)
class CreateTableStmt(Node):
    table: RangeVar
    columns: list[ColumnDef] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    if_not_exists: bool = False
    temporary: bool = False
    as_query: Node | None = None
    with_data: bool = True
    pos: int = -1


@dataclass(slots=True)
class IndexElem(Node):
    expr: Node  # a ColumnRef for a plain column
    desc: bool = False
    nulls_first: bool | None = None


@dataclass(slots=True)
class CreateIndexStmt(Node):
    name: str | None
    table: RangeVar
    columns: list[IndexElem]
    unique: bool = False
    include: list[str] = field(default_factory=list)
    where: Node | None = None
    if_not_exists: bool = False
    concurrently: bool = False
    method: str = "btree"
    where_text: str | None = None
    pos: int = -1


@dataclass(slots=True)
class CreateViewStmt(Node):
    view: RangeVar
    query: Node
    query_text: str
    columns: list[str] = field(default_factory=list)
    or_replace: bool = False
    pos: int = -1


@dataclass(slots=True)
class CreateSequenceStmt(Node):
    seq: RangeVar
    options: dict[str, Any] = field(default_factory=dict)
    if_not_exists: bool = False
    alter: bool = False
    pos: int = -1


@dataclass(slots=True)
class CreateSchemaStmt(Node):
    name: str
    if_not_exists: bool = False
    authorization: str | None = None
    pos: int = -1


@dataclass(slots=True)
class DropStmt(Node):
    kind: str  # "table" | "index" | "view" | "sequence" | "schema" | "role" | "policy"
    names: list[RangeVar]
    if_exists: bool = False
    cascade: bool = False
    on_table: RangeVar | None = None  # DROP POLICY p ON t
    pos: int = -1


@dataclass(slots=True)
class AlterTableCmd(Node):
    # "add column" | "drop column" | "rename column" | "rename" | "add constraint"
    # | "drop constraint" | "set default" | "drop default" | "set not null" | "drop not null"
    # | "alter type" | "enable rls" | "disable rls" | "force rls" | "no force rls" | "owner"
    action: str
    column: str | None = None
    new_name: str | None = None
    definition: ColumnDef | None = None
    constraint: Constraint | None = None
    expr: Node | None = None
    type: TypeName | None = None
    if_exists: bool = False
    if_not_exists: bool = False
    cascade: bool = False
    text: str = ""  # SQL text of expr (SET DEFAULT)
    pos: int = -1


@dataclass(slots=True)
class AlterTableStmt(Node):
    table: RangeVar
    cmds: list[AlterTableCmd]
    if_exists: bool = False
    kind: str = "table"
    pos: int = -1


@dataclass(slots=True)
class TruncateStmt(Node):
    tables: list[RangeVar]
    restart_identity: bool = False
    cascade: bool = False
    pos: int = -1


# -- transactions, settings, utilities ------------------------------------------------------
@dataclass(slots=True)
class TransactionStmt(Node):
    # "begin" | "commit" | "rollback" | "savepoint" | "release" | "rollback to"
    # | "set transaction" | "set session characteristics"
    kind: str
    isolation: str | None = None
    read_only: bool | None = None
    deferrable: bool | None = None
    savepoint: str | None = None
    chain: bool = False
    pos: int = -1


@dataclass(slots=True)
class VariableSetStmt(Node):
    name: str
    values: list[Node] = field(default_factory=list)  # empty: SET x TO DEFAULT
    local: bool = False
    reset: bool = False  # RESET x / RESET ALL (name "all")
    pos: int = -1


@dataclass(slots=True)
class VariableShowStmt(Node):
    name: str
    pos: int = -1


@dataclass(slots=True)
class ExplainStmt(Node):
    stmt: Node
    analyze: bool = False
    verbose: bool = False
    costs: bool = True
    buffers: bool = False
    timing: bool = True
    summary: bool | None = None
    format: str = "text"
    pos: int = -1


@dataclass(slots=True)
class VacuumStmt(Node):
    tables: list[RangeVar]
    analyze_only: bool = False  # ANALYZE
    analyze: bool = False  # VACUUM ANALYZE
    verbose: bool = False
    full: bool = False
    pos: int = -1


@dataclass(slots=True)
class LockStmt(Node):
    tables: list[RangeVar]
    mode: str = "access exclusive"
    nowait: bool = False
    pos: int = -1


@dataclass(slots=True)
class ListenStmt(Node):
    channel: str
    unlisten: bool = False  # UNLISTEN; channel "*" for all
    pos: int = -1


@dataclass(slots=True)
class NotifyStmt(Node):
    channel: str
    payload: str | None = None
    pos: int = -1


@dataclass(slots=True)
class RoleStmt(Node):
    kind: str  # "create" | "alter"
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    is_user: bool = False
    rename_to: str | None = None
    pos: int = -1


@dataclass(slots=True)
class GrantStmt(Node):
    grant: bool  # False: REVOKE
    privileges: list[str]  # ["select", "insert"] or ["all"]; role names for GRANT role TO role
    object_kind: str  # "table" | "sequence" | "schema" | "all tables in schema" | "role"
    objects: list[RangeVar]
    grantees: list[str]
    with_grant_option: bool = False
    cascade: bool = False
    columns: list[str] = field(default_factory=list)
    pos: int = -1


@dataclass(slots=True)
class PolicyStmt(Node):
    kind: str  # "create" | "alter"
    name: str
    table: RangeVar
    permissive: bool = True
    command: str = "all"  # all | select | insert | update | delete
    roles: list[str] = field(default_factory=list)  # empty: PUBLIC
    using: Node | None = None
    check: Node | None = None
    rename_to: str | None = None
    using_text: str | None = None
    check_text: str | None = None
    pos: int = -1


@dataclass(slots=True)
class PrepareStmt(Node):
    name: str
    types: list[TypeName]
    stmt: Node
    pos: int = -1


@dataclass(slots=True)
class ExecuteStmt(Node):
    name: str
    params: list[Node]
    pos: int = -1


@dataclass(slots=True)
class DeallocateStmt(Node):
    name: str | None  # None: ALL
    pos: int = -1


@dataclass(slots=True)
class DiscardStmt(Node):
    what: str  # "all" | "plans" | "sequences" | "temp"
    pos: int = -1


@dataclass(slots=True)
class CheckpointStmt(Node):
    pos: int = -1


@dataclass(slots=True)
class CommentStmt(Node):
    pos: int = -1


@dataclass(slots=True)
class DoStmt(Node):
    pos: int = -1
