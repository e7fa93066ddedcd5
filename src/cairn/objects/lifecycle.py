"""Bucket lifecycle rules: S3's expiration of current objects, of noncurrent versions and of
incomplete multipart uploads, applied by the background maintenance loop.

A rule selects keys by prefix (``Filter/Prefix``, the legacy top-level ``Prefix`` or
``Filter/And``) and optionally by size, and carries actions:

* ``Expiration/Days|Date``: the current version expires (a plain delete: in a versioned bucket
  that adds a delete marker, so nothing is lost until noncurrent expiry removes it);
* ``Expiration/ExpiredObjectDeleteMarker``: a delete marker with no versions behind it goes;
* ``NoncurrentVersionExpiration/NoncurrentDays`` (+ ``NewerNoncurrentVersions``): a version
  that has been noncurrent that long is deleted for good (its data goes to the GC queue);
* ``AbortIncompleteMultipartUpload/DaysAfterInitiation``.

Times follow S3's rule: the start time (creation; for a noncurrent version, the creation of
its successor) plus the days, rounded *up* to the next midnight UTC. :func:`apply` takes the
current time as an argument, so tests move a clock instead of waiting days. Deciding and acting
are separate steps, so an object overwritten between the two must not be expired by a judgement
about its predecessor: expiry deletes only if the current version is still the one judged
(``expected_seq``).

Tag filters and transitions need object tagging and storage classes, which cairn does not
have; such rules are refused with ``NotImplemented`` instead of being stored and ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from cairn.objects.errors import S3Error

if TYPE_CHECKING:
    from cairn.objects.store import ObjectStore

DAY = 86400.0
MAX_RULES = 1000


def _err(code: str, status: int, message: str) -> S3Error:
    e = S3Error(message)
    e.code, e.status = code, status
    return e


def malformed(why: str = "") -> S3Error:
    return _err("MalformedXML", 400, "The XML you provided was not well-formed or did not "
                "validate against our published schema." + (f" ({why})" if why else ""))


@dataclass(frozen=True)
class Rule:
    id: str
    enabled: bool
    prefix: str = ""
    size_gt: int | None = None
    size_lt: int | None = None
    legacy_prefix: bool = False  # top-level <Prefix> instead of <Filter> (echoed back so)
    expiration_days: int | None = None
    expiration_date: str | None = None  # ISO 8601, midnight UTC
    expired_object_delete_marker: bool = False
    noncurrent_days: int | None = None
    newer_noncurrent: int | None = None
    abort_days: int | None = None

    def matches(self, key: str, size: int | None = None) -> bool:
        if not key.startswith(self.prefix):
            return False
        if size is not None and self.size_gt is not None and not size > self.size_gt:
            return False
        return not (size is not None and self.size_lt is not None and not size < self.size_lt)


def due(start: float, days: int) -> float:
    """S3: start + days, rounded up to the next midnight UTC."""
    t = start + days * DAY
    return math.ceil(t / DAY) * DAY


def _int(text: str | None, what: str, minimum: int = 1) -> int:
    try:
        v = int((text or "").strip())
    except ValueError:
        raise malformed(f"{what} must be an integer") from None
    if v < minimum:
        raise _err("InvalidArgument", 400, f"'{what}' for the rule must be a positive integer")
    return v


def parse_xml(doc: ET.Element) -> list[Rule]:
    """Rules of a ``LifecycleConfiguration`` document, validated as S3 does."""
    ns = doc.tag[: doc.tag.index("}") + 1] if doc.tag.startswith("{") else ""

    def find(e: ET.Element, path: str) -> ET.Element | None:
        return e.find("/".join(ns + p for p in path.split("/")))

    def text(e: ET.Element, path: str) -> str | None:
        f = find(e, path)
        return None if f is None else (f.text or "")

    rules: list[Rule] = []
    elements = doc.findall(ns + "Rule")
    if not elements:
        raise malformed("no Rule")
    if len(elements) > MAX_RULES:
        raise malformed(f"more than {MAX_RULES} rules")
    seen: set[str] = set()
    for i, r in enumerate(elements):
        rid = (text(r, "ID") or "").strip() or f"rule-{i + 1}"
        if len(rid) > 255:
            raise _err("InvalidArgument", 400, "ID length should not exceed allowed limit of "
                       "255")
        if rid in seen:
            raise _err("InvalidArgument", 400, "Rule ID must be unique. Found same ID for "
                       "more than one rule")
        seen.add(rid)
        status = (text(r, "Status") or "").strip()
        if status not in ("Enabled", "Disabled"):
            raise malformed("Status must be Enabled or Disabled")
        if find(r, "Transition") is not None or find(r, "NoncurrentVersionTransition") \
                is not None:
            raise _err("NotImplemented", 501, "lifecycle transitions are not implemented "
                       "(cairn has one storage class)")
        filt = find(r, "Filter")
        legacy = text(r, "Prefix")
        if filt is not None and legacy is not None:
            raise malformed("both Prefix and Filter")
        prefix = legacy or ""
        size_gt = size_lt = None
        if filt is not None:
            scope = find(filt, "And") if find(filt, "And") is not None else filt
            if find(scope, "Tag") is not None:
                raise _err("NotImplemented", 501, "tag filters need object tagging, which is "
                           "not implemented")
            prefix = text(scope, "Prefix") or ""
            gt, lt = text(scope, "ObjectSizeGreaterThan"), text(scope, "ObjectSizeLessThan")
            size_gt = _int(gt, "ObjectSizeGreaterThan", 0) if gt is not None else None
            size_lt = _int(lt, "ObjectSizeLessThan", 1) if lt is not None else None
        exp_days = exp_date = None
        marker = False
        exp = find(r, "Expiration")
        if exp is not None:
            d, date = text(exp, "Days"), text(exp, "Date")
            eodm = text(exp, "ExpiredObjectDeleteMarker")
            if sum(x is not None for x in (d, date, eodm)) != 1:
                raise malformed("Expiration needs exactly one of Days, Date, "
                                "ExpiredObjectDeleteMarker")
            if d is not None:
                exp_days = _int(d, "Days")
            if date is not None:
                try:
                    parsed = dt.datetime.fromisoformat(date.strip().replace("Z", "+00:00"))
                except ValueError:
                    raise _err("InvalidArgument", 400, "Invalid date") from None
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt.UTC)
                if (parsed.hour, parsed.minute, parsed.second) != (0, 0, 0):
                    raise _err("InvalidArgument", 400, "'Date' must be at midnight GMT")
                exp_date = parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            if eodm is not None:
                marker = eodm.strip().lower() == "true"
        nc_days = newer = None
        nce = find(r, "NoncurrentVersionExpiration")
        if nce is not None:
            nc_days = _int(text(nce, "NoncurrentDays"), "NoncurrentDays")
            nv = text(nce, "NewerNoncurrentVersions")
            newer = _int(nv, "NewerNoncurrentVersions") if nv is not None else None
        abort = None
        ab = find(r, "AbortIncompleteMultipartUpload")
        if ab is not None:
            abort = _int(text(ab, "DaysAfterInitiation"), "DaysAfterInitiation")
        if exp_days is None and exp_date is None and not marker and nc_days is None \
                and abort is None:
            raise malformed("a rule needs at least one action")
        rules.append(Rule(rid, status == "Enabled", prefix, size_gt, size_lt, legacy is not None,
                          exp_days, exp_date, marker, nc_days, newer, abort))
    return rules


def to_xml(rules: list[Rule], xmlns: str) -> ET.Element:
    root = ET.Element("LifecycleConfiguration", xmlns=xmlns)

    def sub(parent: ET.Element, tag: str, value: object = None) -> ET.Element:
        e = ET.SubElement(parent, tag)
        if value is not None:
            e.text = str(value)
        return e

    for r in rules:
        e = sub(root, "Rule")
        sub(e, "ID", r.id)
        if r.legacy_prefix:
            sub(e, "Prefix", r.prefix)
        else:
            f = sub(e, "Filter")
            if r.size_gt is not None or r.size_lt is not None:
                f = sub(f, "And")
            sub(f, "Prefix", r.prefix)
            if r.size_gt is not None:
                sub(f, "ObjectSizeGreaterThan", r.size_gt)
            if r.size_lt is not None:
                sub(f, "ObjectSizeLessThan", r.size_lt)
        sub(e, "Status", "Enabled" if r.enabled else "Disabled")
        if r.expiration_days is not None or r.expiration_date or r.expired_object_delete_marker:
            x = sub(e, "Expiration")
            if r.expiration_days is not None:
                sub(x, "Days", r.expiration_days)
            elif r.expiration_date:
                sub(x, "Date", r.expiration_date)
            else:
                sub(x, "ExpiredObjectDeleteMarker", "true")
        if r.noncurrent_days is not None:
            x = sub(e, "NoncurrentVersionExpiration")
            sub(x, "NoncurrentDays", r.noncurrent_days)
            if r.newer_noncurrent is not None:
                sub(x, "NewerNoncurrentVersions", r.newer_noncurrent)
        if r.abort_days is not None:
            sub(sub(e, "AbortIncompleteMultipartUpload"), "DaysAfterInitiation", r.abort_days)
    return root


def encode(rules: list[Rule]) -> bytes:
    return json.dumps([asdict(r) for r in rules], separators=(",", ":")).encode()


def decode(raw: bytes) -> list[Rule]:
    return [Rule(**d) for d in json.loads(raw)]


@dataclass
class LifecycleReport:
    expired: int = 0  # current versions expired (deleted or hidden behind a marker)
    noncurrent_removed: int = 0
    markers_removed: int = 0
    uploads_aborted: int = 0


def _date_ts(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def apply(store: ObjectStore, now: float) -> LifecycleReport:
    """Run every enabled rule of every bucket once, as of wall-clock time ``now``."""
    from cairn.objects.multipart import Multipart

    report = LifecycleReport()
    for bucket in store.list_buckets():
        raw = store.get_bucket_config(bucket.name, "lifecycle")
        if raw is None:
            continue
        for rule in decode(raw):
            if not rule.enabled:
                continue
            if rule.expiration_days is not None or rule.expiration_date:
                _expire_current(store, bucket.name, rule, now, report)
            if rule.noncurrent_days is not None or rule.expired_object_delete_marker:
                _expire_versions(store, bucket.name, rule, now, report)
            if rule.abort_days is not None:
                mp = Multipart(store)
                for up in mp.list_uploads(bucket.name, rule.prefix):
                    if due(up.initiated, rule.abort_days) <= now:
                        mp.abort(bucket.name, up.key, up.upload_id)
                        report.uploads_aborted += 1
    return report


def _expire_current(store: ObjectStore, bucket: str, rule: Rule, now: float,
                    report: LifecycleReport) -> None:
    after = ""
    while True:
        page = store.list_objects(bucket, rule.prefix, max_keys=1000, start_after=after)
        for rec in page.contents:
            if not rule.matches(rec.key, rec.size):
                continue
            when = (_date_ts(rule.expiration_date) if rule.expiration_date
                    else due(rec.last_modified, rule.expiration_days or 0))
            if when <= now:
                res = store.delete_object(bucket, rec.key, expected_seq=rec.seq)
                report.expired += res.changed
        if not page.is_truncated or page.next_marker is None:
            return
        after = page.next_marker


def _expire_versions(store: ObjectStore, bucket: str, rule: Rule, now: float,
                     report: LifecycleReport) -> None:
    """Walk each key's versions newest first: version i became noncurrent when version i-1
    was created."""
    key_marker = vid_marker = ""
    key: str | None = None
    newer_created = 0.0
    noncurrent_seen = 0
    only_marker: tuple[str, str] | None = None  # a latest marker with nothing behind (so far)
    doomed: list[tuple[str, str, bool]] = []

    def close_key() -> None:
        if only_marker is not None and rule.expired_object_delete_marker:
            doomed.append((*only_marker, True))

    while True:
        page = store.list_versions(bucket, rule.prefix, max_keys=1000, key_marker=key_marker,
                                   version_id_marker=vid_marker)
        for rec, latest in page.entries:
            if rec.key != key:
                close_key()
                key, noncurrent_seen, only_marker = rec.key, 0, None
                if latest and rec.delete_marker:
                    only_marker = (rec.key, rec.version_id)
            elif only_marker is not None:
                only_marker = None  # something is behind the marker
            if not latest and rule.noncurrent_days is not None and rule.matches(
                    rec.key, None if rec.delete_marker else rec.size):
                noncurrent_seen += 1
                keep = rule.newer_noncurrent or 0
                if noncurrent_seen > keep and due(newer_created, rule.noncurrent_days) <= now:
                    doomed.append((rec.key, rec.version_id, False))
            newer_created = rec.last_modified
        if not page.is_truncated:
            break
        key_marker = page.next_key_marker or ""
        vid_marker = page.next_version_id_marker or ""
    close_key()
    for k, vid, is_marker in doomed:
        res = store.delete_object(bucket, k, vid)
        if is_marker:
            report.markers_removed += res.changed
        else:
            report.noncurrent_removed += res.changed
