"""The vendored official schemas are exactly the pinned npm release's files."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from cairn.a2ui import vendor_schemas
from cairn.a2ui.catalog import SCHEMA_DIR


def test_files_match_the_manifest() -> None:
    manifest = json.loads((SCHEMA_DIR / "MANIFEST.json").read_text())
    assert manifest["package"] == "@a2ui/web_core"
    assert manifest["version"] == vendor_schemas.VERSION
    assert manifest["integrity"] == vendor_schemas.INTEGRITY
    on_disk = {p.relative_to(SCHEMA_DIR).as_posix() for p in SCHEMA_DIR.rglob("*.json")}
    assert on_disk - {"MANIFEST.json"} == set(manifest["files"])
    for rel, digest in manifest["files"].items():
        assert hashlib.sha256((SCHEMA_DIR / rel).read_bytes()).hexdigest() == digest, rel
    assert set(vendor_schemas.FILES) <= set(manifest["files"])


def test_envelope_is_the_official_v0_9() -> None:
    env = json.loads((SCHEMA_DIR / "server_to_client.json").read_text())
    assert env["$id"] == "https://a2ui.org/specification/v0_9/server_to_client.json"
    assert env["$defs"]["CreateSurfaceMessage"]["properties"]["version"] == {"const": "v0.9"}


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_refetch_from_npm_matches() -> None:
    """Re-fetch the pinned tarball (integrity checked) and compare every file."""
    try:
        files = vendor_schemas.fetch()
    except Exception as exc:  # no registry reachable: say so instead of passing silently
        pytest.fail(f"could not fetch {vendor_schemas.PACKAGE}: {exc}")
    assert vendor_schemas.manifest(files) == json.loads(
        (SCHEMA_DIR / "MANIFEST.json").read_text())
