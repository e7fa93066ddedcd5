"""The checked-in web client (src/cairn/a2ui/static/) is exactly what web/build.sh builds.

Rebuilds from web/ (locked dependencies, esbuild) into a temporary directory and compares the
file set and every byte. Fails with the command to run when someone changed web/ without
rebuilding, or edited a built file by hand. Needs Node.js and npm (CI has them).
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "web"
STATIC = ROOT / "src" / "cairn" / "a2ui" / "static"


@pytest.mark.xdist_group("a2ui-web-build")  # one npm install into web/node_modules at a time
def test_checked_in_assets_match_a_fresh_build(tmp_path: Path) -> None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required to rebuild the web client (Node.js 20, npm)")
    out = tmp_path / "static"
    proc = subprocess.run(["bash", str(WEB / "build.sh"), str(out)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    built = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    shipped = sorted(p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file())
    assert built == shipped, "file sets differ: run `make web` (bash web/build.sh) and commit"
    different = [f for f in built if not filecmp.cmp(out / f, STATIC / f, shallow=False)]
    assert different == [], f"{different} differ from a fresh build: run `make web` and commit"


def test_assets_are_package_data() -> None:
    """setuptools ships static/ with the package (pyproject's package-data)."""
    import tomllib

    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = conf["tool"]["setuptools"]["package-data"]["cairn.a2ui"]
    assert "static/*" in patterns
    assert {"index.html", "app.js", "app.css"} <= {p.name for p in STATIC.iterdir()}
