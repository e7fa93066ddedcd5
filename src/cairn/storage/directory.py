"""Claiming an engine directory.

Each engine directory holds a small marker file, ``CAIRN-ENGINE``, naming the engine kind and
its on-disk format version. Opening a directory that belongs to another engine, that was
written by a newer format, or that holds unrelated files fails with a clear
:class:`EngineMismatchError` and touches nothing, so a mistyped path can never damage data.
"""

from __future__ import annotations

import json
import os

from cairn.storage.errors import EngineMismatchError
from cairn.storage.fileio import FileSystem

MARKER = "CAIRN-ENGINE"


def claim_directory(fs: FileSystem, path: str, kind: str, fmt: int) -> bool:
    """Make ``path`` a directory of engine ``kind``; return ``True`` if it was just created."""
    if fs.exists(path) and not os.path.isdir(path):
        raise EngineMismatchError(f"{path} is a file, not an engine directory")
    marker = os.path.join(path, MARKER)
    if fs.exists(marker):
        try:
            meta = json.loads(fs.read_file(marker))
            found_kind, found_fmt = meta["kind"], int(meta["format"])
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineMismatchError(f"unreadable engine marker {marker}: {exc}") from exc
        if found_kind != kind:
            raise EngineMismatchError(
                f"{path} holds a '{found_kind}' engine; refusing to open it as '{kind}'")
        if found_fmt > fmt:
            raise EngineMismatchError(
                f"{path} was written by format {found_fmt} of '{kind}'; this cairn reads "
                f"up to {fmt}")
        return False
    if fs.exists(path):
        if fs.exists(marker + ".tmp"):
            fs.remove(marker + ".tmp")  # a claim cut short by a crash: nothing was written yet
        others = [n for n in fs.listdir(path) if not n.startswith(".")]
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise EngineMismatchError(
                f"{path} is not empty and is not a cairn engine directory (found: {shown})")
    # A new directory's name is durable only once its parent is fsynced: without that a power
    # cut can take the whole engine, acknowledged writes and all, away.
    fs.makedirs_durable(path)
    fs.write_atomic(marker, json.dumps({"kind": kind, "format": fmt}).encode() + b"\n")
    return True
