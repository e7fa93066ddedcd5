"""Roles, privileges and row-level security (PostgreSQL's pg_authid, ACLs and pg_policy).

A role may log in (a user), be a superuser, bypass row-level security, and be a member of
other roles, whose privileges it then has (INHERIT). Each table has an owner and an ACL of
privileges granted to roles or PUBLIC; the owner and superusers need no grant. Passwords are
kept only as PostgreSQL keeps them: a SCRAM-SHA-256 verifier (RFC 5802/7677: salt, iteration
count, StoredKey, ServerKey), never the password itself; the wire protocol checks a client
against it.

Row-level security adds each applicable policy's USING expression to every scan of the table
(permissive policies OR'ed together, restrictive ones AND'ed on top; no applicable policy at
all means no row: default deny) and checks WITH CHECK on every row written (42501 "new row
violates row-level security policy"). The owner and superusers and BYPASSRLS roles are exempt
unless the table FORCEs row security on its owner.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any

from cairn.sql import ast as a
from cairn.sql import types as T
from cairn.sql.catalog import CATALOG_TABLE, Policy, Relation
from cairn.sql.errors import SqlError

SCRAM_ITERATIONS = 4096  # PostgreSQL's default scram_iterations
ALL_TABLE_PRIVILEGES = ["select", "insert", "update", "delete", "truncate", "references",
                        "trigger"]
_PRIV_NAMES = set(ALL_TABLE_PRIVILEGES) | {"usage", "create", "all"}


@dataclass
class Role:
    oid: int
    name: str
    superuser: bool = False
    login: bool = False
    inherit: bool = True
    createdb: bool = False
    createrole: bool = False
    bypassrls: bool = False
    replication: bool = False
    password: str | None = None  # "SCRAM-SHA-256$..." or "md5..." (PostgreSQL's forms)
    member_of: list[str] = field(default_factory=list)
    connection_limit: int = -1

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Role:
        return cls(**d)


def scram_verifier(password: str, salt: bytes | None = None,
                   iterations: int = SCRAM_ITERATIONS) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}$"
            f"{b64(stored_key).decode()}:{b64(server_key).decode()}")


def _stored_password(role: str, password: str | None) -> str | None:
    if password is None:
        return None
    if password.startswith("SCRAM-SHA-256$") or (
            len(password) == 35 and password.startswith("md5")):
        return password  # already a verifier: kept as given, as PostgreSQL does
    return scram_verifier(password)


class RolesMixin:
    """Session methods for roles, privileges and RLS (mixed into the Session)."""

    sdb: Any
    tx: Any
    overlay: Any
    current_user: str
    session_user: str

    # -- lookups ------------------------------------------------------------------------
    def role(self, name: str) -> Role | None:
        if name in self.overlay.roles:
            return self.overlay.roles[name]
        return self.sdb.catalog.roles.get(name)

    def roles_of(self, name: str) -> set[str]:
        """The role and every role it is a member of and inherits from (transitively)."""
        out: set[str] = set()
        stack = [name]
        while stack:
            n = stack.pop()
            if n in out:
                continue
            out.add(n)
            r = self.role(n)
            if r is not None and (r.inherit or n == name):
                stack.extend(r.member_of)
        return out

    def is_superuser(self, name: str | None = None) -> bool:
        r = self.role(name or self.current_user)
        return bool(r and r.superuser)

    def check_privilege(self, rel: Relation, privilege: str, pos: int = -1) -> None:
        user = self.current_user
        if self.is_superuser(user):
            return
        mine = self.roles_of(user)
        if rel.owner in mine:
            return
        for grantee, privs in rel.acl.items():
            if (grantee == "public" or grantee in mine) and privilege in privs:
                return
        kind = {"r": "table", "v": "view", "S": "sequence"}.get(rel.kind, "table")
        raise SqlError(f"permission denied for {kind} {rel.name}", sqlstate="42501",
                       position=pos + 1 if pos >= 0 else None)

    def check_owner(self, rel: Relation) -> None:
        if self.is_superuser() or rel.owner in self.roles_of(self.current_user):
            return
        kind = {"r": "table", "v": "view", "S": "sequence"}.get(rel.kind, "table")
        raise SqlError(f"must be owner of {kind} {rel.name}", sqlstate="42501")

    # -- row-level security ------------------------------------------------------------
    def rls_applies(self, rel: Relation) -> bool:
        if not rel.rls:
            return False
        user = self.current_user
        r = self.role(user)
        if r is not None and (r.superuser or r.bypassrls):
            return False
        return rel.rls_forced or rel.owner not in self.roles_of(user)

    def _policies(self, rel: Relation, command: str) -> list[Policy]:
        mine = self.roles_of(self.current_user)
        return [p for p in rel.policies if p.command in ("all", command)
                and (not p.roles or "public" in p.roles or mine & set(p.roles))]

    def rls_expr(self, rel: Relation, command: str, check: bool = False) -> a.Node | None:
        """The qualification RLS adds for ``command``: USING (or WITH CHECK) of the applicable
        policies, or FALSE when none applies (default deny). None: RLS does not apply."""
        if not self.rls_applies(rel):
            return None
        from cairn.sql.parser import Parser

        pols = self._policies(rel, command)

        def text(p: Policy) -> str | None:
            if check:
                return p.check if p.check is not None else p.using
            return p.using
        perm = [t for p in pols if p.permissive and (t := text(p)) is not None]
        restr = [t for p in pols if not p.permissive and (t := text(p)) is not None]
        if not perm:
            return a.Const(False, "bool")
        node: a.Node = a.BoolOp("or", [Parser(t).expr() for t in perm]) if len(perm) > 1 \
            else Parser(perm[0]).expr()
        if restr:
            node = a.BoolOp("and", [node, *[Parser(t).expr() for t in restr]])
        return node

    # -- statements ---------------------------------------------------------------------
    def stmt_RoleStmt(self, st: a.RoleStmt, params: list[Any], types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        self._need_createrole()
        opts = dict(st.options)
        if st.kind == "create":
            if self.role(st.name) is not None:
                raise SqlError(f'role "{st.name}" already exists', sqlstate="42710")
            if st.name in ("public", "none") or st.name.startswith("pg_"):
                raise SqlError(f'role name "{st.name}" is reserved', sqlstate="42939")
            role = Role(self.sdb.catalog.alloc_oid(), st.name, login=st.is_user)
            tag = "CREATE ROLE"
        else:
            old = self.role(st.name)
            if old is None:
                raise SqlError(f'role "{st.name}" does not exist', sqlstate="42704")
            role = Role.from_json(old.to_json())
            tag = "ALTER ROLE"
            if st.rename_to:
                if self.role(st.rename_to) is not None:
                    raise SqlError(f'role "{st.rename_to}" already exists', sqlstate="42710")
                self._write_role(role, delete=True)
                role.name = st.rename_to
                role.password = None  # PostgreSQL clears an MD5 password on rename
        if "superuser" in opts and not self.is_superuser():
            raise SqlError("must be superuser to create superusers" if st.kind == "create"
                           else "must be superuser to alter superuser roles or change "
                                "superuser attribute", sqlstate="42501")
        members = opts.pop("members", []) + opts.pop("admin", [])
        for parent in opts.pop("in_role", []):
            if self.role(parent) is None:
                raise SqlError(f'role "{parent}" does not exist', sqlstate="42704")
            if parent not in role.member_of:
                role.member_of.append(parent)
        for k, v in opts.items():
            if k == "password":
                role.password = _stored_password(role.name, v)
            elif k == "connection_limit":
                role.connection_limit = v
            elif k == "valid_until":
                continue
            else:
                setattr(role, k, v)
        self._write_role(role)
        for m in members:
            mr = self.role(m)
            if mr is None:
                raise SqlError(f'role "{m}" does not exist', sqlstate="42704")
            mr = Role.from_json(mr.to_json())
            if role.name not in mr.member_of:
                mr.member_of.append(role.name)
            self._write_role(mr)
        return Result(tag)

    def _need_createrole(self) -> None:
        r = self.role(self.current_user)
        if r is None or not (r.superuser or r.createrole):
            raise SqlError("permission denied to create role", sqlstate="42501")

    def _write_role(self, role: Role, delete: bool = False) -> None:
        key = -role.oid  # roles live in the catalog table under negative keys
        exists = self.tx.get(CATALOG_TABLE, key) is not None
        if delete:
            if exists:
                self.tx.delete(CATALOG_TABLE, key)
            self.overlay.roles[role.name] = None
            return
        row = {"oid": key, "def": {"role": role.to_json()}}
        if exists:
            self.tx.update(CATALOG_TABLE, key, {"def": row["def"]})
        else:
            self.tx.insert(CATALOG_TABLE, row)
        self.overlay.roles[role.name] = role

    def drop_roles(self, st: a.DropStmt) -> Any:
        from cairn.sql.session import Result

        self._need_createrole()
        view = self.catalog()  # type: ignore[attr-defined]
        for rv in st.names:
            role = self.role(rv.name)
            if role is None:
                if st.if_exists:
                    self.notices.append(("NOTICE", "00000",  # type: ignore[attr-defined]
                                         f'role "{rv.name}" does not exist, skipping'))
                    continue
                raise SqlError(f'role "{rv.name}" does not exist', sqlstate="42704")
            if rv.name in (self.current_user, self.session_user):
                raise SqlError("current user cannot be dropped", sqlstate="55006")
            owned = [r.name for r in view.all_relations() if r.owner == rv.name]
            if owned:
                raise SqlError(f'role "{rv.name}" cannot be dropped because some objects '
                               "depend on it", sqlstate="2BP01",
                               detail=f"owner of table {owned[0]}")
            self._write_role(role, delete=True)
        return Result("DROP ROLE")

    def stmt_GrantStmt(self, st: a.GrantStmt, params: list[Any],
                       types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        tag = "GRANT" if st.grant else "REVOKE"
        if st.object_kind == "role":
            self._need_createrole()
            for granted in st.privileges:
                if self.role(granted) is None:
                    raise SqlError(f'role "{granted}" does not exist', sqlstate="42704")
            for grantee in st.grantees:
                r = self.role(grantee)
                if r is None:
                    raise SqlError(f'role "{grantee}" does not exist', sqlstate="42704")
                r = Role.from_json(r.to_json())
                for granted in st.privileges:
                    if st.grant and granted not in r.member_of:
                        if grantee in self.roles_of(granted):
                            raise SqlError(f'role "{grantee}" is a member of role '
                                           f'"{granted}"', sqlstate="0LP01")
                        r.member_of.append(granted)
                    elif not st.grant and granted in r.member_of:
                        r.member_of.remove(granted)
                self._write_role(r)
            return Result(tag + " ROLE")
        privs = st.privileges
        for p in privs:
            if p not in _PRIV_NAMES:
                raise SqlError(f'unrecognized privilege type "{p}"', sqlstate="42601")
        for g in st.grantees:
            if g != "public" and self.role(g) is None:
                raise SqlError(f'role "{g}" does not exist', sqlstate="42704")
        view = self.catalog()  # type: ignore[attr-defined]
        targets: list[Relation] = []
        if st.object_kind in ("all tables in schema", "all sequences in schema"):
            kind = "r" if "tables" in st.object_kind else "S"
            for rv in st.objects:
                targets += [r for r in view.all_relations()
                            if r.schema == rv.name and (r.kind == kind or
                                                        (kind == "r" and r.kind == "v"))]
        elif st.object_kind == "schema":
            return Result(tag)  # schema USAGE/CREATE: every role may use every schema here
        else:
            for rv in st.objects:
                targets.append(view.resolve(rv.schema, rv.name, self.search_path(),  # type: ignore[attr-defined]
                                            rv.pos))
        for rel in targets:
            self.check_owner(rel)
            if "all" in privs:
                expanded = ["select", "update", "usage"] if rel.kind == "S" else \
                    ALL_TABLE_PRIVILEGES
            else:
                expanded = privs
            new = rel.copy()
            for g in st.grantees:
                have = set(new.acl.get(g, []))
                have = have | set(expanded) if st.grant else have - set(expanded)
                if have:
                    new.acl[g] = sorted(have)
                else:
                    new.acl.pop(g, None)
            self._write_rel(new, False)  # type: ignore[attr-defined]
        return Result(tag)

    def stmt_PolicyStmt(self, st: a.PolicyStmt, params: list[Any],
                        types: list[T.SqlType]) -> Any:
        from cairn.sql.session import Result

        view = self.catalog()  # type: ignore[attr-defined]
        rel = view.resolve(st.table.schema, st.table.name, self.search_path(),  # type: ignore[attr-defined]
                           st.table.pos, kinds="r")
        self.check_owner(rel)
        new = rel.copy()
        existing = next((p for p in new.policies if p.name == st.name), None)
        if st.kind == "create":
            if existing is not None:
                raise SqlError(f'policy "{st.name}" for table "{rel.name}" already exists',
                               sqlstate="42710")
            if st.command == "select" and st.check is not None:
                raise SqlError("WITH CHECK cannot be applied to SELECT or DELETE",
                               sqlstate="42601")
            if st.command == "insert" and st.using is not None:
                raise SqlError("only WITH CHECK expression allowed for INSERT",
                               sqlstate="42601")
            pol = Policy(st.name, st.command, st.permissive, st.roles,
                         _text(st, "using"), _text(st, "check"))
            self._validate_policy(rel, pol)
            new.policies.append(pol)
            tag = "CREATE POLICY"
        else:
            if existing is None:
                raise SqlError(f'policy "{st.name}" for table "{rel.name}" does not exist',
                               sqlstate="42704")
            if st.rename_to:
                existing.name = st.rename_to
            if st.roles:
                existing.roles = st.roles
            if st.using is not None:
                existing.using = _text(st, "using")
            if st.check is not None:
                existing.check = _text(st, "check")
            self._validate_policy(rel, existing)
            tag = "ALTER POLICY"
        self._lock_exclusive(rel)  # type: ignore[attr-defined]
        self._write_rel(new, False)  # type: ignore[attr-defined]
        return Result(tag)

    def drop_policy(self, st: a.DropStmt) -> Any:
        from cairn.sql.session import Result

        assert st.on_table is not None
        view = self.catalog()  # type: ignore[attr-defined]
        rel = view.resolve(st.on_table.schema, st.on_table.name, self.search_path(),  # type: ignore[attr-defined]
                           st.on_table.pos, kinds="r")
        self.check_owner(rel)
        new = rel.copy()
        for rv in st.names:
            if not any(p.name == rv.name for p in new.policies):
                if st.if_exists:
                    continue
                raise SqlError(f'policy "{rv.name}" for table "{rel.name}" does not exist',
                               sqlstate="42704")
            new.policies = [p for p in new.policies if p.name != rv.name]
        self._write_rel(new, False)  # type: ignore[attr-defined]
        return Result("DROP POLICY")

    def _validate_policy(self, rel: Relation, pol: Policy) -> None:
        from cairn.sql.expr import Scope, ScopeColumn, to_bool
        from cairn.sql.parser import Parser

        pl = self.planner([], track=False)  # type: ignore[attr-defined]
        scope = Scope([ScopeColumn(rel.name, c.name, c.type) for c in rel.live_columns])
        for t in (pol.using, pol.check):
            if t is not None:
                to_bool(pl.bind(Parser(t).expr(), scope), pl.ctx, "POLICY", -1)

    def role_secret(self, name: str) -> str | None:
        r = self.role(name)
        return None if r is None else r.password


def _text(st: a.PolicyStmt, which: str) -> str | None:
    return st.using_text if which == "using" else st.check_text
