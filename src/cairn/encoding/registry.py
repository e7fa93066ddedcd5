"""A schema registry (DDIA ch. 4, "the writer's schema ... a database of schema versions"),
with the data model and rules of the Confluent Schema Registry.

*Subjects* (usually "<topic>-value") hold *versions* 1, 2, 3, ...; each version points to a
schema with a *global id*; the same schema text (by Avro canonical form) gets the same id in
every subject. Registering checks the new schema against the subject's earlier versions under
its *compatibility level* (per subject, else global; default BACKWARD) and is refused with the
reasons in words when it breaks them.

Storage is any key-value store with byte keys (:class:`KeyValueStore`, the shape of every cairn
storage engine): the registry keeps nothing that is not written through it, so a restart on the
same engine directory finds every subject, version, id and setting again. Key layout::

    id/<id:010d>                    -> {"schema": text, "fingerprint": hex}
    fp/<fingerprint hex>            -> id            (dedupe: same schema, same id)
    sv/<subject>\\x00<version:010d>  -> {"id": id, "deleted": bool}
    cfg/<subject> | cfg/            -> compatibility level ("" = global)
    tags/<subject> | tags/          -> tag rules: "protobuf" or "thrift" (absent = Avro only)
    meta/next_id                    -> next global id

*Tag rules* (our extension, set with ``tagRules`` in ``PUT /config``) are for subjects whose
schemas are also used as ``.proto``/``.thrift``: registering then also applies the tag rules
(types kept per tag, new Thrift fields optional) under the level, and over the subject's
*whole* history, soft-deleted versions included (they wrote data too), a removed or reserved
tag is never given to another field.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from cairn.encoding.avsc import fingerprint64, parse_schema
from cairn.encoding.compat import MODES, check_mode
from cairn.encoding.errors import (
    IncompatibleSchema,
    InvalidCompatibilityLevel,
    InvalidSchema,
    InvalidVersion,
    SchemaError,
    SchemaNotFound,
    SubjectNotFound,
    VersionNotFound,
)
from cairn.encoding.schema import Schema

DEFAULT_LEVEL = "BACKWARD"
TAG_RULES = ("protobuf", "thrift")


class KeyValueStore(Protocol):
    """The storage the registry needs; every cairn storage engine has this shape."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None: ...

    def delete(self, key: bytes, *, sync: bool = False) -> None: ...

    def scan(self, start: bytes | None = None, end: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]: ...


class MemoryStore:
    """A dict behind the :class:`KeyValueStore` protocol (tests, throwaway registries)."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes, *, sync: bool = False) -> None:
        self.data[key] = value

    def delete(self, key: bytes, *, sync: bool = False) -> None:
        self.data.pop(key, None)

    def scan(self, start: bytes | None = None, end: bytes | None = None,
             reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        keys = sorted(k for k in self.data
                      if (start is None or k >= start) and (end is None or k < end))
        for k in reversed(keys) if reverse else keys:
            yield k, self.data[k]


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    version: int
    id: int
    schema: str

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "version": self.version, "id": self.id,
                "schema": self.schema}


def _j(v: Any) -> bytes:
    return json.dumps(v, separators=(",", ":")).encode()


class SchemaRegistry:
    """Subjects, versions, global ids and compatibility levels over a :class:`KeyValueStore`.

    Thread-safe (one lock: registrations are rare and must be serialised to hand out ids).
    """

    def __init__(self, store: KeyValueStore):
        self.store = store
        self._lock = threading.RLock()
        self._parsed: dict[int, Schema] = {}

    # -- schemas by id ---------------------------------------------------------------------
    def parse(self, text: str) -> Schema:
        try:
            return parse_schema(text)
        except SchemaError as exc:
            raise InvalidSchema(f"Invalid schema: {exc}") from None

    def schema_text(self, schema_id: int) -> str:
        raw = self.store.get(b"id/%010d" % schema_id)
        if raw is None:
            raise SchemaNotFound(f"Schema {schema_id} not found")
        return json.loads(raw)["schema"]

    def schema_by_id(self, schema_id: int) -> Schema:
        if schema_id not in self._parsed:
            self._parsed[schema_id] = parse_schema(self.schema_text(schema_id))
        return self._parsed[schema_id]

    def ids_usage(self, schema_id: int) -> list[dict[str, Any]]:
        self.schema_text(schema_id)
        out = []
        for subject in self.subjects():
            for version in self.versions(subject):
                if self._version_entry(subject, version)["id"] == schema_id:
                    out.append({"subject": subject, "version": version})
        return out

    # -- subjects and versions -----------------------------------------------------------
    @staticmethod
    def _sv_prefix(subject: str) -> bytes:
        return b"sv/" + subject.encode() + b"\x00"

    def _entries(self, subject: str, include_deleted: bool = False
                 ) -> list[tuple[int, dict[str, Any]]]:
        prefix = self._sv_prefix(subject)
        out = []
        for k, v in self.store.scan(prefix, prefix + b"\xff"):
            entry = json.loads(v)
            if include_deleted or not entry.get("deleted"):
                out.append((int(k[len(prefix):]), entry))
        out.sort()
        return out

    def subjects(self, include_deleted: bool = False) -> list[str]:
        seen: set[str] = set()
        for k, v in self.store.scan(b"sv/", b"sv0"):
            subject = k[3:].split(b"\x00", 1)[0].decode()
            if include_deleted or not json.loads(v).get("deleted"):
                seen.add(subject)
        return sorted(seen)

    def versions(self, subject: str, include_deleted: bool = False) -> list[int]:
        entries = self._entries(subject, include_deleted)
        if not entries:
            raise SubjectNotFound(f"Subject '{subject}' not found.")
        return [v for v, _ in entries]

    def _version_entry(self, subject: str, version: int) -> dict[str, Any]:
        raw = self.store.get(self._sv_prefix(subject) + b"%010d" % version)
        if raw is None:
            raise VersionNotFound(f"Version {version} not found.")
        return json.loads(raw)

    def get_version(self, subject: str, version: int | str) -> RegisteredSchema:
        versions = self.versions(subject)
        if version in ("latest", -1):
            v = versions[-1]
        else:
            try:
                v = int(version)
            except (TypeError, ValueError):
                raise InvalidVersion(f"The specified version '{version}' is not a valid version "
                                     "id. Allowed values are between [1, 2^31-1] and the string "
                                     "\"latest\"") from None
            if v < 1:
                raise InvalidVersion(f"The specified version '{version}' is not a valid version "
                                     "id.")
            if v not in versions:
                raise VersionNotFound(f"Version {v} not found.")
        entry = self._version_entry(subject, v)
        return RegisteredSchema(subject, v, entry["id"], self.schema_text(entry["id"]))

    def lookup(self, subject: str, text: str) -> RegisteredSchema:
        """The version of ``subject`` that has this schema (same canonical form)."""
        fp = self._fingerprint(self.parse(text))
        for v, entry in self._entries(subject):
            if self._id_fingerprint(entry["id"]) == fp:
                return RegisteredSchema(subject, v, entry["id"], self.schema_text(entry["id"]))
        self.versions(subject)  # SubjectNotFound first, as Confluent does
        raise SchemaNotFound("Schema not found")

    @staticmethod
    def _fingerprint(schema: Schema) -> str:
        return f"{fingerprint64(schema):016x}"

    def _id_fingerprint(self, schema_id: int) -> str:
        raw = self.store.get(b"id/%010d" % schema_id)
        assert raw is not None
        return json.loads(raw)["fingerprint"]

    def register(self, subject: str, text: str) -> int:
        """Register ``text`` under ``subject``; return its global id (existing if known)."""
        if not subject:
            raise InvalidSchema("subject must not be empty")
        schema = self.parse(text)
        fp = self._fingerprint(schema)
        with self._lock:
            entries = self._entries(subject)
            for _, entry in entries:
                if self._id_fingerprint(entry["id"]) == fp:
                    return entry["id"]  # already registered: idempotent
            previous = [self.schema_by_id(e["id"]) for _, e in entries]
            level = self.effective_level(subject)
            problems = self._problems(subject, schema, previous, level)
            if problems:
                raise IncompatibleSchema(
                    "Schema being registered is incompatible with an earlier schema for subject "
                    f"\"{subject}\" ({level}): " + "; ".join(str(p) for p in problems))
            raw_id = self.store.get(b"fp/" + fp.encode())
            if raw_id is None:
                schema_id = int(self.store.get(b"meta/next_id") or b"1")
                # the schema first, then the pointers to it: a crash in between leaves an
                # unreferenced id, never a version pointing at nothing
                self.store.put(b"id/%010d" % schema_id,
                               _j({"schema": text, "fingerprint": fp}), sync=True)
                self.store.put(b"fp/" + fp.encode(), str(schema_id).encode(), sync=True)
                self.store.put(b"meta/next_id", str(schema_id + 1).encode(), sync=True)
            else:
                schema_id = int(raw_id)
            all_versions = self._entries(subject, include_deleted=True)
            version = (all_versions[-1][0] + 1) if all_versions else 1
            self.store.put(self._sv_prefix(subject) + b"%010d" % version,
                           _j({"id": schema_id, "deleted": False}), sync=True)
            self._parsed[schema_id] = schema
            return schema_id

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        with self._lock:
            entries = self._entries(subject, include_deleted=permanent)
            if not entries:
                raise SubjectNotFound(f"Subject '{subject}' not found.")
            for v, entry in entries:
                key = self._sv_prefix(subject) + b"%010d" % v
                if permanent:
                    self.store.delete(key, sync=True)
                else:
                    self.store.put(key, _j({**entry, "deleted": True}), sync=True)
            return [v for v, _ in entries]

    def delete_version(self, subject: str, version: int | str, permanent: bool = False) -> int:
        with self._lock:
            reg = self.get_version(subject, version)
            key = self._sv_prefix(subject) + b"%010d" % reg.version
            if permanent:
                self.store.delete(key, sync=True)
            else:
                self.store.put(key, _j({"id": reg.id, "deleted": True}), sync=True)
            return reg.version

    # -- compatibility ------------------------------------------------------------------
    def check(self, subject: str, text: str, version: int | str | None = None
              ) -> list[str]:
        """Reasons ``text`` could not be registered (empty list: compatible). With ``version``
        the check is against that one version, otherwise against the subject's versions by
        its level (transitive levels: all of them)."""
        schema = self.parse(text)
        level = self.effective_level(subject)
        try:
            if version is None:
                previous = [self.schema_by_id(e["id"]) for _, e in self._entries(subject)]
            else:
                previous = [self.schema_by_id(self.get_version(subject, version).id)]
                level = level.removesuffix("_TRANSITIVE")
        except SubjectNotFound:
            if version is None:
                return []
            raise
        return [str(p) for p in self._problems(subject, schema, previous, level)]

    def _problems(self, subject: str, schema: Schema, previous: list[Schema],
                  level: str) -> list[Any]:
        found = list(check_mode(schema, previous, level))
        rules = self.effective_tag_rules(subject)
        if rules is not None and level != "NONE":
            try:
                history = [(f"version {v}", self.schema_by_id(e["id"]))
                           for v, e in self._entries(subject, include_deleted=True)]
            except SubjectNotFound:
                history = []
            try:
                found += check_mode(schema, previous, level, rules, history)
            except SchemaError as exc:  # e.g. not a record: tag rules cannot apply
                raise InvalidSchema(f"Invalid schema for {rules} tag rules: {exc}") from None
        return found

    def get_tag_rules(self, subject: str | None = None) -> str | None:
        raw = self.store.get(b"tags/" + (subject.encode() if subject else b""))
        return raw.decode() if raw else None

    def set_tag_rules(self, rules: str | None, subject: str | None = None) -> str | None:
        """Turn the Protobuf/Thrift tag rules on (``"protobuf"``/``"thrift"``) or off."""
        key = b"tags/" + (subject.encode() if subject else b"")
        if rules in (None, "", "none", "NONE"):
            self.store.delete(key, sync=True)
            return None
        rules = str(rules).lower()
        if rules not in TAG_RULES:
            raise InvalidCompatibilityLevel(f"Invalid tag rules {rules!r}; valid: protobuf, "
                                            "thrift, none")
        self.store.put(key, rules.encode(), sync=True)
        return rules

    def effective_tag_rules(self, subject: str) -> str | None:
        return self.get_tag_rules(subject) or self.get_tag_rules(None)

    def _cfg_key(self, subject: str | None) -> bytes:
        return b"cfg/" + (subject.encode() if subject else b"")

    def get_level(self, subject: str | None = None) -> str | None:
        raw = self.store.get(self._cfg_key(subject))
        if raw is None:
            return None if subject else DEFAULT_LEVEL
        return raw.decode()

    def set_level(self, level: str, subject: str | None = None) -> str:
        level = (level or "").upper()
        if level not in MODES:
            raise InvalidCompatibilityLevel(f"Invalid compatibility level {level!r}; valid: "
                                            + ", ".join(MODES))
        self.store.put(self._cfg_key(subject), level.encode(), sync=True)
        return level

    def delete_level(self, subject: str) -> str:
        level = self.get_level(subject)
        if level is None:
            raise SubjectNotFound(f"Subject '{subject}' has no compatibility level")
        self.store.delete(self._cfg_key(subject), sync=True)
        return level

    def effective_level(self, subject: str) -> str:
        return self.get_level(subject) or self.get_level(None) or DEFAULT_LEVEL
