"""``cairn txn anomalies``: DDIA chapter 7's race conditions at every isolation level.

Six scenario files (``specs/*.spec``: dirty read, dirty write, read skew, lost update, write
skew, phantom) run at each cairn level (read uncommitted, read committed, repeatable read,
serializable by SSI, by two-phase locking and by actual serial execution) and at each level
PostgreSQL has. Each cell says whether the anomaly occurred or how it was prevented: a
transaction blocked, aborted (with its SQLSTATE), or nothing conflicted at all (a snapshot
simply showed the old value). ``EXPECTED`` is what the chapter (and PostgreSQL's documentation,
"Transaction Isolation") says must happen; the tests hold both systems to it.

Where the two systems share a level the cells must agree, with one deliberate exception:
PostgreSQL's READ UNCOMMITTED is its READ COMMITTED, while cairn's really reads uncommitted
data so that the dirty read can be shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cairn.db.lab import spec as specmod
from cairn.db.lab.driver import RunResult, classify
from cairn.db.lab.runner import SPEC_DIR, SpecRun, run_label, run_spec
from cairn.db.lab.spec import CAIRN_LEVELS, POSTGRES_LEVELS, Level

ANOMALIES = ("dirty_read", "dirty_write", "read_skew", "lost_update", "write_skew", "phantom")

OCC, PRE = "occurred", "prevented"
_ROWS = {  # RU, RC, RR, SER/ssi, SER/2pl, SER/serial
    "dirty_read": (OCC, PRE, PRE, PRE, PRE, PRE),
    "dirty_write": (PRE, PRE, PRE, PRE, PRE, PRE),
    "read_skew": (OCC, OCC, PRE, PRE, PRE, PRE),
    "lost_update": (OCC, OCC, PRE, PRE, PRE, PRE),
    "write_skew": (OCC, OCC, OCC, PRE, PRE, PRE),
    "phantom": (OCC, OCC, OCC, PRE, PRE, PRE),
}
EXPECTED: dict[str, dict[Level, str]] = {
    name: dict(zip(CAIRN_LEVELS, row, strict=True)) for name, row in _ROWS.items()}


def expected(anomaly: str, system: str, level: Level) -> str:
    if system == "postgres" and level == Level("read uncommitted"):
        level = Level("read committed")  # PostgreSQL reads only committed data, always
    return EXPECTED[anomaly][level]


@dataclass
class Cell:
    anomaly: str
    system: str
    level: Level
    outcome: str  # "occurred" / "prevented: blocked, then aborted 40001" / ...
    expected: str
    trace: str

    @property
    def occurred(self) -> bool:
        return self.outcome == "occurred"

    @property
    def as_expected(self) -> bool:
        return self.outcome.split(":")[0] == self.expected

    def to_dict(self) -> dict[str, Any]:
        return {"anomaly": self.anomaly, "system": self.system, "level": self.level.label,
                "outcome": self.outcome, "occurred": self.occurred, "expected": self.expected,
                "as_expected": self.as_expected, "trace": self.trace.splitlines()}


@dataclass
class Matrix:
    cells: list[Cell] = field(default_factory=list)
    runs: dict[str, SpecRun] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def get(self, anomaly: str, system: str, level: Level) -> Cell | None:
        for c in self.cells:
            if (c.anomaly, c.system, c.level) == (anomaly, system, level):
                return c
        return None

    def mismatches(self) -> list[str]:
        """Where cairn and PostgreSQL disagree at a level both have (RU excepted)."""
        out = []
        for c in self.cells:
            if c.system != "cairn" or c.level not in POSTGRES_LEVELS[1:]:
                continue
            pg = self.get(c.anomaly, "postgres", c.level)
            if pg is not None and pg.outcome != c.outcome:
                out.append(f"{c.anomaly} at {c.level.label}: cairn {c.outcome}, "
                           f"postgres {pg.outcome}")
        return out

    def unexpected(self) -> list[str]:
        return [f"{c.anomaly} on {c.system} {c.level.label}: {c.outcome}, expected {c.expected}"
                for c in self.cells if not c.as_expected]


def load_specs() -> dict[str, specmod.Spec]:
    return {name: specmod.load(SPEC_DIR / f"{name}.spec") for name in ANOMALIES}


def build(systems: tuple[str, ...] = ("cairn", "postgres"), anomalies: tuple[str, ...] = ANOMALIES,
          dsn: str | None = None) -> Matrix:
    m = Matrix()
    specs = load_specs()
    for name in anomalies:
        sp = specs[name]
        run = run_spec(sp, systems=systems, dsn=dsn)
        m.runs[name] = run
        m.skipped.update(run.skipped)
        for r in run.results:
            m.cells.append(_cell(name, r))
    return m


def _cell(name: str, r: RunResult) -> Cell:
    return Cell(name, r.system, r.level, classify(r), expected(name, r.system, r.level), r.text)


def interleaving(sp: specmod.Spec) -> list[str]:
    """The permutation spelled out: ``session.step: statement`` in order."""
    return [f"{sp.step(n).session}.{n}: {sp.step(n).stmt.text}" for n in sp.permutations[0]]


def _short(outcome: str) -> str:
    return (outcome.replace("prevented: ", "prevented (").replace(", then ", ", ") + ")"
            if outcome.startswith("prevented") else outcome)


def render(m: Matrix, verbose: bool = False) -> str:
    specs = load_specs()
    lines: list[str] = []
    width = 36
    for name in ANOMALIES:
        if name not in m.runs:
            continue
        sp = specs[name]
        lines.append(f"## {sp.anomaly or name}")
        lines.extend("   " + d for d in sp.description.splitlines())
        lines.append("   interleaving:")
        lines.extend("     " + s for s in interleaving(sp))
        lines.append(f"   anomaly if: {sp.occurred_text}")
        lines.append(f"   {'level':<22} {'cairn':<{width}} postgres")
        for level in CAIRN_LEVELS:
            c = m.get(name, "cairn", level)
            p = m.get(name, "postgres", level) if level in POSTGRES_LEVELS else None
            cs = _short(c.outcome) + ("" if c.as_expected else " UNEXPECTED") if c else "-"
            if p is None:
                ps = "(no such level)" if level not in POSTGRES_LEVELS else "-"
            else:
                ps = _short(p.outcome) + ("" if p.as_expected else " UNEXPECTED")
                if level == Level("read uncommitted"):
                    ps += " [= read committed]"
            lines.append(f"   {level.label:<22} {cs:<{width}} {ps}")
        if verbose:
            lines.append("")
            lines.extend("   " + t for t in m.runs[name].text().splitlines())
        lines.append("")
    lines.append(summary_table(m))
    for sysname, why in m.skipped.items():
        lines.append(f"skipped {sysname}: {why}")
    mism = m.mismatches()
    unexp = m.unexpected()
    lines.append("")
    lines.append("cairn = PostgreSQL at every shared level: " + (
        "yes" if not mism else "NO\n  " + "\n  ".join(mism)))
    lines.append("every cell as expected (DDIA ch. 7): " + (
        "yes" if not unexp else "NO\n  " + "\n  ".join(unexp)))
    return "\n".join(lines)


def _tiny(outcome: str) -> str:
    if outcome == "occurred":
        return "OCCURS"
    how = outcome.removeprefix("prevented: ")
    return {"no conflict": "ok (snapshot)", "blocked": "ok (blocks)"}.get(
        how, "ok (" + how.replace("blocked, then aborted", "blocks, aborts")
        .replace("aborted", "aborts") + ")")


def summary_table(m: Matrix) -> str:
    """The matrix as one table: anomalies down, levels across (cairn; PostgreSQL below)."""
    cols = [(s, lv) for s, lvs in (("cairn", CAIRN_LEVELS), ("postgres", POSTGRES_LEVELS))
            for lv in lvs]
    heads = [f"pg {_lvl(lv).split('/')[0]}" if s == "postgres" else f"cairn {_lvl(lv)}"
             for s, lv in cols]
    body = []
    for name in ANOMALIES:
        if name not in m.runs:
            continue
        row = [name.replace("_", " ")]
        for s, lv in cols:
            c = m.get(name, s, lv)
            row.append(_tiny(c.outcome) if c else "-")
        body.append(row)
    widths = [max(len(r[i]) for r in [["anomaly", *heads], *body])
              for i in range(len(heads) + 1)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format("anomaly", *heads), fmt.format(*("-" * w for w in widths))]
    out.extend(fmt.format(*r) for r in body)
    return "\n".join(line.rstrip() for line in out)


def _lvl(lv: Level) -> str:
    return {"read uncommitted": "RU", "read committed": "RC", "repeatable read": "RR",
            "serializable": "SER"}[lv.isolation] + (f"/{lv.method}" if lv.method and
                                                    lv.isolation == "serializable" else "")


def to_json(m: Matrix) -> dict[str, Any]:
    specs = load_specs()
    return {
        "anomalies": [{"name": n, "title": specs[n].anomaly, "description": specs[n].description,
                       "interleaving": interleaving(specs[n]),
                       "occurred_if": specs[n].occurred_text} for n in ANOMALIES if n in m.runs],
        "cells": [c.to_dict() for c in m.cells],
        "matches_postgres": not m.mismatches(), "mismatches": m.mismatches(),
        "all_as_expected": not m.unexpected(), "unexpected": m.unexpected(),
        "skipped": m.skipped,
        "runs": sorted({run_label(r) for sr in m.runs.values() for r in sr.results}),
    }
