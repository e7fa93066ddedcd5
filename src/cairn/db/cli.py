"""``cairn txn ...``: the transaction layer's commands (anomaly lab, crash sweeps, inspection)."""

from __future__ import annotations

import click


def register(cli: click.Group, bench: click.Group) -> None:
    """Attach ``cairn txn`` (and the transaction benchmarks) to the top-level command."""

    @cli.group()
    def txn() -> None:
        """Transactions (DDIA ch. 7): MVCC, isolation levels, locks, the anomaly lab."""

    # The anomaly lab (cairn.db.lab): `cairn txn anomalies`, `cairn txn lab`.
    from cairn.db.lab.cli import register_lab

    register_lab(txn)

    # The core database (cairn.db): `cairn txn crashtest`, `cairn txn bloat`, `cairn txn stats`.
    from cairn.db.commands import register_core

    register_core(txn)
