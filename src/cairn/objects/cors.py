"""Bucket CORS configuration (``?cors``) and how it answers browsers, as S3 documents it.

A browser uploading straight to a bucket first sends an unsigned preflight (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``/``-Headers``); the bucket's first rule that
allows that origin, method and every requested header answers it, and the same rule decorates
the real (signed) request's response with ``Access-Control-Allow-Origin`` and friends. Origins
and allowed headers may hold one ``*`` wildcard; header names compare case-insensitively.
"""

from __future__ import annotations

import fnmatch
import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass

from cairn.objects.body import s3err

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_RULES = 100


@dataclass(frozen=True)
class Rule:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    max_age: int | None = None
    rule_id: str = ""


def _wild(pattern: str, value: str) -> bool:
    if pattern.count("*") > 1:
        return False
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]").replace("?", "[?]"))


def parse_xml(doc: ET.Element) -> list[Rule]:
    ns = doc.tag[: doc.tag.index("}") + 1] if doc.tag.startswith("{") else ""
    rules = []
    for r in doc.findall(ns + "CORSRule"):
        def texts(tag: str, node: ET.Element = r) -> tuple[str, ...]:
            return tuple((e.text or "").strip() for e in node.findall(ns + tag))

        origins, methods = texts("AllowedOrigin"), texts("AllowedMethod")
        if not origins or not methods:
            raise s3err("MalformedXML", 400, "a CORSRule needs AllowedOrigin and "
                        "AllowedMethod")
        for m in methods:
            if m not in METHODS:
                raise s3err("InvalidRequest", 400, f"Found unsupported HTTP method in CORS "
                            f"config. Unsupported method is {m}")
        for o in origins:
            if o.count("*") > 1:
                raise s3err("InvalidRequest", 400, f'AllowedOrigin "{o}" can not have more '
                            "than one wildcard.")
        age_text = r.findtext(ns + "MaxAgeSeconds")
        try:
            age = int(age_text) if age_text is not None else None
        except ValueError:
            raise s3err("MalformedXML", 400, "MaxAgeSeconds must be an integer") from None
        rules.append(Rule(origins, methods, texts("AllowedHeader"), texts("ExposeHeader"),
                          age, (r.findtext(ns + "ID") or "").strip()))
    if not rules or len(rules) > MAX_RULES:
        raise s3err("MalformedXML", 400, "a CORS configuration has 1 to 100 rules")
    return rules


def to_xml(rules: list[Rule], xmlns: str) -> ET.Element:
    root = ET.Element("CORSConfiguration", xmlns=xmlns)
    for rule in rules:
        r = ET.SubElement(root, "CORSRule")
        if rule.rule_id:
            ET.SubElement(r, "ID").text = rule.rule_id
        for tag, values in (("AllowedHeader", rule.headers), ("AllowedMethod", rule.methods),
                            ("AllowedOrigin", rule.origins), ("ExposeHeader", rule.expose)):
            for v in values:
                ET.SubElement(r, tag).text = v
        if rule.max_age is not None:
            ET.SubElement(r, "MaxAgeSeconds").text = str(rule.max_age)
    return root


def encode(rules: list[Rule]) -> bytes:
    return json.dumps([asdict(r) for r in rules]).encode()


def decode(raw: bytes) -> list[Rule]:
    return [Rule(tuple(d["origins"]), tuple(d["methods"]), tuple(d["headers"]),
                 tuple(d["expose"]), d["max_age"], d["rule_id"]) for d in json.loads(raw)]


def match(rules: list[Rule], origin: str, method: str,
          request_headers: list[str]) -> Rule | None:
    """The first rule allowing ``origin``, ``method`` and every one of ``request_headers``."""
    for rule in rules:
        if method not in rule.methods or not any(_wild(o, origin) for o in rule.origins):
            continue
        allowed = [h.lower() for h in rule.headers]
        if all(any(_wild(a, h.lower()) for a in allowed) for h in request_headers):
            return rule
    return None


def response_headers(rule: Rule, origin: str, *, preflight: bool,
                     request_headers: list[str]) -> dict[str, str]:
    out = {"Access-Control-Allow-Origin": "*" if rule.origins == ("*",) else origin,
           "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"}
    if rule.origins != ("*",):
        out["Access-Control-Allow-Credentials"] = "true"
    if rule.expose:
        out["Access-Control-Expose-Headers"] = ", ".join(rule.expose)
    if preflight:
        out["Access-Control-Allow-Methods"] = ", ".join(rule.methods)
        if request_headers:
            out["Access-Control-Allow-Headers"] = ", ".join(request_headers)
        if rule.max_age is not None:
            out["Access-Control-Max-Age"] = str(rule.max_age)
    return out
