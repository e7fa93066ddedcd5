"""cairn: a working model of a data-intensive system, one layer per chapter of DDIA.

Layers (the dependency arrow points down only; see docs/architecture.md):
storage -> txn/db -> sql/server -> replication -> objects -> booking -> a2ui.
``cairn.encoding`` stands alone and may be used by every layer.
"""

__version__ = "0.1.0"
