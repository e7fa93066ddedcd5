"""Errors of the anomaly lab itself (bad scenario files, an unreachable peer), as opposed to the
database errors a scenario provokes on purpose, which are part of its output."""

from __future__ import annotations


class LabError(Exception):
    """The lab cannot run as asked."""


class SpecError(LabError):
    """A scenario file is malformed; the message names the line and what is wrong."""


class BackendUnavailable(LabError):
    """A system under test cannot be reached (PostgreSQL down, cairn.db not importable)."""
