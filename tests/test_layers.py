"""The layer rule (docs/architecture.md): lower layers never import higher ones (import-linter)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          env=env)


def test_import_contracts_hold() -> None:
    proc = _lint(ROOT, ROOT / "src")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 3 kept, 0 broken." in proc.stdout


def test_import_linter_catches_a_violation(tmp_path: Path) -> None:
    """The contract is not vacuous: a storage module that imports the CLI is reported."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "src" / "cairn", tmp_path / "src" / "cairn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    probe = tmp_path / "src" / "cairn" / "storage" / "layer_probe.py"
    probe.write_text("import cairn.cli  # noqa: F401\n")
    proc = _lint(tmp_path, tmp_path / "src")
    assert proc.returncode != 0
    assert "cairn.storage.layer_probe -> cairn.cli" in proc.stdout
