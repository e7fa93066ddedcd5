"""Fetch the official A2UI v0.9 JSON Schemas from their npm package and vendor them.

The schemas that every outgoing message is validated against are never retyped by hand: this
script runs ``npm pack`` on an exactly pinned ``@a2ui/web_core`` release, checks the tarball
against the pinned SHA-512 integrity value (the same value npm's lockfiles carry), and copies
the v0.9 schema files (envelope, common types, client messages, capabilities, the basic catalog
and its examples) into ``src/cairn/a2ui/schemas/v0_9/``. ``MANIFEST.json`` records the package,
version, integrity and a SHA-256 per file; ``tests/a2ui/test_schemas_vendored.py`` checks the
files against it (and, when npm is present, re-fetches and compares).

Run: ``python -m cairn.a2ui.vendor_schemas`` (add ``--check`` to compare without writing).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@a2ui/web_core"
VERSION = "0.11.0"
INTEGRITY = (
    "sha512-HIrisBO5yAsNb1NFQRRSVLLNWaPlDu7LShwZ/j1qRUWT/W/J7g8dJFEKbq0/nUofI7ZiieDlDXQtrJmwo24Nzw=="
)
PREFIX = "package/src/v0_9/schemas/"
# The files we use, relative to PREFIX; the basic catalog's examples are test fixtures.
FILES = (
    "server_to_client.json",
    "common_types.json",
    "client_to_server.json",
    "client_capabilities.json",
    "client_data_model.json",
    "server_capabilities.json",
    "catalogs/basic/catalog.json",
)
EXAMPLES = "catalogs/basic/examples/"

DEST = Path(__file__).resolve().parent / "schemas" / "v0_9"


def _sha512_integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch_tarball(workdir: Path) -> bytes:
    """``npm pack`` the pinned release into ``workdir`` and return the verified bytes."""
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--json", "--pack-destination", str(workdir)],
        check=True, capture_output=True, text=True, cwd=workdir,
    )
    info = json.loads(out.stdout)[0]
    data = (workdir / info["filename"]).read_bytes()
    got = _sha512_integrity(data)
    if got != INTEGRITY:
        raise SystemExit(f"integrity mismatch for {PACKAGE}@{VERSION}: {got} != {INTEGRITY}")
    return data


def extract(tar_path: Path) -> dict[str, bytes]:
    """The wanted schema files from the tarball, keyed by their path under ``PREFIX``."""
    wanted: dict[str, bytes] = {}
    with tarfile.open(tar_path, "r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith(PREFIX):
                continue
            rel = member.name[len(PREFIX):]
            if rel in FILES or (rel.startswith(EXAMPLES) and rel.endswith(".json")):
                f = tar.extractfile(member)
                assert f is not None
                wanted[rel] = f.read()
    missing = [f for f in FILES if f not in wanted]
    if missing:
        raise SystemExit(f"{PACKAGE}@{VERSION} lacks {missing}")
    return wanted


def manifest(files: dict[str, bytes]) -> dict[str, object]:
    return {
        "package": PACKAGE,
        "version": VERSION,
        "integrity": INTEGRITY,
        "fetch": "python -m cairn.a2ui.vendor_schemas",
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(files.items())},
    }


def fetch() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fetch_tarball(work)
        (tar,) = work.glob("*.tgz")
        return extract(tar)


def write(files: dict[str, bytes], dest: Path = DEST) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for rel, data in files.items():
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (dest / "MANIFEST.json").write_text(json.dumps(manifest(files), indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the vendored copy")
    args = ap.parse_args(argv)
    files = fetch()
    if args.check:
        current = json.loads((DEST / "MANIFEST.json").read_text())
        if current != manifest(files):
            print("vendored schemas differ from the pinned package", file=sys.stderr)
            return 1
        print(f"vendored schemas match {PACKAGE}@{VERSION}")
        return 0
    write(files)
    print(f"wrote {len(files)} files from {PACKAGE}@{VERSION} to {DEST}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
