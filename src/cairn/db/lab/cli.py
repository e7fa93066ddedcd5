"""``cairn txn anomalies`` and ``cairn txn lab``: the anomaly lab's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cairn.db.lab.errors import LabError
from cairn.db.lab.spec import SYSTEMS, Level


def _systems(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [n for n in names if n not in SYSTEMS]
    if bad or not names:
        raise click.BadParameter(f"choose from {', '.join(SYSTEMS)} (comma-separated)")
    return names


def register_lab(txn: click.Group) -> None:
    @txn.command("anomalies")
    @click.option("--json", "as_json", is_flag=True, help="the matrix as JSON on stdout")
    @click.option("--systems", default="cairn,postgres", show_default=True,
                  help="cairn, postgres or both")
    @click.option("--verbose", "-v", is_flag=True, help="print every trace, step by step")
    @click.option("--dsn", envvar="CAIRN_PG_DSN", default=None,
                  help="PostgreSQL DSN (default postgresql://postgres@127.0.0.1:5432/test)")
    def anomalies_cmd(as_json: bool, systems: str, verbose: bool, dsn: str | None) -> None:
        """The anomalies of DDIA chapter 7 at every isolation level, cairn beside PostgreSQL.

        Dirty read, dirty write, read skew, lost update, write skew and phantom, each a
        scenario of interleaved sessions; for each level: occurred, or prevented and how
        (blocked, aborted with which SQLSTATE, or no conflict). Exits 1 if a cell differs
        from what the chapter says or from PostgreSQL at a level both have."""
        from cairn.db.lab import anomalies

        try:
            m = anomalies.build(_systems(systems), dsn=dsn)
        except LabError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps(anomalies.to_json(m), indent=2))
        else:
            click.echo(anomalies.render(m, verbose=verbose))
        if m.unexpected() or m.mismatches():
            sys.exit(1)

    @txn.command("lab")
    @click.argument("specs", nargs=-1, type=click.Path(exists=True, dir_okay=True))
    @click.option("--systems", default="cairn,postgres", show_default=True)
    @click.option("--level", "levels", multiple=True,
                  help="only this level (repeatable), e.g. 'serializable/2pl'")
    @click.option("--check", is_flag=True,
                  help="compare with the expected output (NAME.out next to NAME.spec)")
    @click.option("--write", is_flag=True, help="(re)write NAME.out from this run")
    @click.option("--dsn", envvar="CAIRN_PG_DSN", default=None)
    def lab_cmd(specs: tuple[str, ...], systems: str, levels: tuple[str, ...], check: bool,
                write: bool, dsn: str | None) -> None:
        """Run scenario files (default: the anomaly specs) and print their traces."""
        from cairn.db.lab import runner, spec

        paths: list[Path] = []
        for s in specs or (str(runner.SPEC_DIR),):
            p = Path(s)
            paths.extend(runner.spec_files(p) if p.is_dir() else [p])
        try:
            wanted = [Level.parse(lv) for lv in levels] or None
        except LabError as exc:
            raise click.BadParameter(str(exc)) from None
        failed = []
        for path in paths:
            try:
                sp = spec.load(path)
                text = runner.run_spec(sp, systems=_systems(systems), levels=wanted,
                                       dsn=dsn).text()
            except LabError as exc:
                raise click.ClickException(f"{path}: {exc}") from None
            click.echo(f"### {path}")
            click.echo(text)
            out = path.with_suffix(".out")
            if write:
                out.write_text(text, encoding="utf-8")
                click.echo(f"wrote {out}")
            elif check:
                want = out.read_text(encoding="utf-8") if out.exists() else None
                if want != text:
                    failed.append(str(path))
                    click.echo(f"DIFFERS from {out}" if want is not None else f"no {out}")
        if failed:
            raise click.ClickException(f"{len(failed)} scenario(s) differ: {', '.join(failed)}")
