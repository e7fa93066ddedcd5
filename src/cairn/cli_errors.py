"""One line for a failed command: what went wrong, where, and what to do.

``cairn`` commands do not show Python tracebacks for ordinary mistakes (a ``--data`` that points
at a file, a folder of unrelated files, damaged engine files, a busy port): :func:`describe`
turns cairn's own typed errors and the OS's errors into one line, as PostgreSQL's client tools
print ``ERROR``, ``DETAIL`` and ``HINT`` for a failed statement. The traceback stays one flag away
(``cairn --debug``, ``CAIRN_DEBUG=1``).

Errors are recognised by class name and module, not imported: the command line must not load
every layer to report a storage error.
"""

from __future__ import annotations

import errno

# What to do, per cairn error class (any layer). A class not listed gets the generic advice.
HINTS: dict[str, str] = {
    "EngineMismatchError": "use an empty folder (--data), or the folder this engine wrote",
    "CorruptionError": "the files are damaged at that offset: move the folder aside (or restore "
                       "it from a backup) and run again",
    "DurabilityError": "the disk refused a write or an fsync: check the disk and its free space, "
                       "then run again",
    "EngineClosedError": "a bug: the engine was used after close (run with --debug and report it)",
    "DatabaseLocked": "another process has this database open: stop it or pick another --data",
    "DatabaseUnavailable": "",  # its message already says how to start PostgreSQL
}

# What to do, per OS error (errno): the first match wins.
OS_HINTS: dict[int, str] = {
    errno.EEXIST: "it exists and is not a folder: give a folder (--data), or a path to create",
    errno.ENOTDIR: "a part of the path is a file, not a folder: give a folder (--data)",
    errno.ENOENT: "a folder on the path does not exist and cannot be created there: pick a "
                  "path you can write",
    errno.EACCES: "no permission: pick a folder you can write, or fix its permissions",
    errno.EPERM: "not permitted: pick a folder you can write",
    errno.EROFS: "the file system is read-only: pick a writable folder",
    errno.ENOSPC: "the disk is full: free some space and run again",
    errno.EISDIR: "a folder was given where a file is expected: name a file",
    errno.EADDRINUSE: "the port is taken: stop the other server or pick another port (0 picks a "
                      "free one)",
    errno.ECONNREFUSED: "nothing listens there: start that server or fix the address",
}


def _is_cairn(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] == "cairn"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def describe(exc: BaseException) -> str:
    """The one line printed for ``exc`` (without the ``cairn:`` prefix)."""
    if _is_cairn(exc):
        name = type(exc).__name__
        hint = next((HINTS[c.__name__] for c in type(exc).__mro__ if c.__name__ in HINTS),
                     "run with --debug for the traceback")
        line = f"{name}: {_first_line(exc)}"
        return f"{line}; {hint}" if hint else line
    if isinstance(exc, ImportError) and exc.name and not exc.name.startswith("cairn"):
        return (f"{exc.name} is not installed: it comes with the benchmark and test extras "
                "(`make dev`, or `pip install -e '.[dev]'`)")
    if isinstance(exc, OSError):
        what = exc.strerror or _first_line(exc)
        where = exc.filename
        if getattr(exc, "filename2", None):
            where = f"{where} -> {exc.filename2}"
        hint = OS_HINTS.get(exc.errno or 0, "check the path and its permissions")
        return f"{what}: {where}; {hint}" if where else f"{what}; {hint}"
    return (f"unexpected {type(exc).__name__}: {_first_line(exc)} (a bug in cairn: run with "
            "--debug for the traceback and report it)")
