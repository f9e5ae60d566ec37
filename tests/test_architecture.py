"""The package rules of DESIGN.md, written as import-linter contracts in .importlinter, hold, and catch a breach."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess:
    # The tree's own directory goes first on the path, so a copy is analysed instead of the installed package.
    return subprocess.run([str(LINT_IMPORTS), "--config", str(tree / ".importlinter"), "--no-cache"],
                          cwd=tree, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)})


def test_import_contracts_are_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_contracts(tmp_path):
    shutil.copytree(ROOT / "lecturehub", tmp_path / "lecturehub",
                    ignore=shutil.ignore_patterns("__pycache__", "translations", "static", "templates"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    venue_services = tmp_path / "lecturehub" / "venues" / "services.py"
    # venues sits below accounts: a venue rule that reached for the user model would run the layers backwards.
    venue_services.write_text(venue_services.read_text() + "\n\ndef _breach():\n"
                              "    from lecturehub.accounts.models import User\n    return User\n")

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    assert "the domain packages' layers run one way BROKEN" in result.stdout
    assert "lecturehub.venues.services -> lecturehub.accounts.models" in result.stdout
