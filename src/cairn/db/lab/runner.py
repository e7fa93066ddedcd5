"""Run a scenario on every (system, level) it asks for and print the traces side by side.

Runs whose traces are identical are printed once under one header that names them all, e.g.
``== cairn repeatable read | postgres repeatable read ==``: equal behaviour is visible at a
glance and a difference between cairn and PostgreSQL splits the group. That text is what the
expected-output files (``*.out`` next to each ``*.spec``) hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cairn.db.lab.driver import Backend, Driver, RunResult, classify
from cairn.db.lab.errors import BackendUnavailable
from cairn.db.lab.spec import CAIRN_LEVELS, POSTGRES_LEVELS, Level, Spec

SPEC_DIR = Path(__file__).parent / "specs"


def backend_factory(system: str, *, dsn: str | None = None) -> Callable[[], Backend]:
    if system == "postgres":
        from cairn.db.lab.pg_backend import PostgresBackend

        return lambda: PostgresBackend(dsn)
    if system == "cairn":
        from cairn.db.lab.cairn_backend import CairnBackend

        return CairnBackend
    raise BackendUnavailable(f"unknown system {system!r}")


def levels_for(system: str, spec: Spec) -> list[Level]:
    have = CAIRN_LEVELS if system == "cairn" else POSTGRES_LEVELS
    if spec.levels is None:
        return list(have)
    return [lv for lv in spec.levels if lv in have]


@dataclass
class SpecRun:
    spec: Spec
    results: list[RunResult]
    skipped: dict[str, str]

    def text(self) -> str:
        return format_runs(self.spec, self.results, self.skipped)


def run_spec(spec: Spec, systems: Iterable[str] | None = None,
             levels: Iterable[Level] | None = None, dsn: str | None = None) -> SpecRun:
    """Every permutation of ``spec`` on every system and level (those of the spec, narrowed by
    ``levels``). A system that cannot be reached is reported in ``skipped``."""
    results: list[RunResult] = []
    skipped: dict[str, str] = {}
    wanted = set(levels) if levels is not None else None
    for system in (systems or spec.systems):
        if system not in spec.systems:
            continue
        try:
            make = backend_factory(system, dsn=dsn)
            for level in levels_for(system, spec):
                if wanted is not None and level not in wanted:
                    continue
                for perm in spec.permutations:
                    results.append(Driver(spec, make(), level).run(perm))
        except BackendUnavailable as exc:
            skipped[system] = str(exc)
    return SpecRun(spec, results, skipped)


def run_label(r: RunResult) -> str:
    # PostgreSQL's SERIALIZABLE is its SSI: the method is implied, not chosen.
    return f"{r.system} {r.level.isolation if r.system == 'postgres' else r.level.label}"


def format_runs(spec: Spec, results: list[RunResult], skipped: dict[str, str] | None = None
                ) -> str:
    out: list[str] = []
    perms = list(dict.fromkeys(" ".join(r.permutation) for r in results))
    for perm in perms:
        groups: dict[str, list[RunResult]] = {}
        for r in results:
            if " ".join(r.permutation) != perm:
                continue
            body = r.text
            if spec.occurred_if is not None:
                body += f"\n{spec.anomaly or 'anomaly'}: {classify(r)}"
            groups.setdefault(body, []).append(r)
        out.append(f"permutation: {perm}")
        for body, rs in groups.items():
            out.append("== " + " | ".join(run_label(r) for r in rs) + " ==")
            out.append(body)
        out.append("")
    for system, why in (skipped or {}).items():
        out.append(f"skipped {system}: {why}")
    return "\n".join(out).rstrip() + "\n"


def spec_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or SPEC_DIR).glob("*.spec"))
