"""``cairn sql ...``: the SQL shell (the wire-protocol server adds ``cairn sql serve``)."""

from __future__ import annotations

import os
import sys

import click


@click.command("shell")
@click.option("--data", "data_dir", default=None, type=click.Path(file_okay=False),
              help="database directory (default: in memory, gone at exit)")
@click.option("--user", default="cairn", show_default=True, help="role to connect as")
@click.option("-c", "--command", "commands", multiple=True,
              help="run this SQL (or backslash command) and exit; repeatable")
@click.option("-f", "--file", "script", type=click.File("r"), default=None,
              help="run the statements of a file and exit")
def shell_command(data_dir: str | None, user: str, commands: tuple[str, ...],
                  script: object) -> None:
    """An interactive SQL shell on cairn (psql's manner: \\d, \\x, \\timing, \\?)."""
    from cairn.sql.session import SqlDatabase
    from cairn.sql.shell import Shell

    if data_dir is not None:
        os.makedirs(data_dir, exist_ok=True)
    sdb = SqlDatabase.open(data_dir)
    try:
        session = sdb.connect(user)
        sh = Shell(session, click.echo)
        if commands or script is not None:
            lines = list(commands) if commands else script.read().splitlines()  # type: ignore[attr-defined]
            for line in lines:
                sh.feed(line if line.lstrip().startswith("\\") or not commands
                        else line.rstrip().rstrip(";") + ";")
                if sh.done:
                    break
            if sh.buf:
                sh.run("\n".join(sh.buf))
            return
        _interactive(sh)
    finally:
        sdb.close()


def _interactive(sh: object) -> None:
    from cairn.sql.shell import Shell

    assert isinstance(sh, Shell)
    tty = sys.stdin.isatty()
    if tty:
        try:
            import readline

            hist = os.path.expanduser("~/.cairn_sql_history")
            if os.path.exists(hist):
                readline.read_history_file(hist)
        except (ImportError, OSError):
            hist = ""
        click.echo('cairn sql shell: type \\? for help, \\q to quit.')
    while not sh.done:
        try:
            line = input(sh.prompt if tty else "")
        except EOFError:
            break
        except KeyboardInterrupt:
            sh.buf = []
            click.echo()
            continue
        sh.feed(line)
    if sh.buf:
        sh.run("\n".join(sh.buf))
    if tty and hist:
        try:
            import readline

            readline.write_history_file(hist)
        except (ImportError, OSError):
            pass


def register(cli: click.Group) -> None:
    """Add ``sql shell`` (creating the ``sql`` group if no one has yet)."""
    group = cli.commands.get("sql")
    if group is None:
        @click.group("sql")
        def sql() -> None:
            """SQL on cairn.db (PostgreSQL's dialect): shell, wire-protocol server."""
        cli.add_command(sql)
        group = sql
    assert isinstance(group, click.Group)
    group.add_command(shell_command)
