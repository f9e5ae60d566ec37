"""ruff, with the project's rules and the complexity limit (pyproject.toml), passes over the whole tree."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).with_name("ruff")


def _ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(RUFF), "check", "--no-cache", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_ruff_finds_nothing_in_the_tree():
    # lecturehub, tests, migrations, bench and scripts: everything under the project root.
    result = _ruff(".")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_a_function_over_the_complexity_limit_is_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    branches = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(12))
    (tmp_path / "tangled.py").write_text(f"def tangled(x):\n{branches}    return -1\n")

    result = _ruff(".", cwd=tmp_path)

    assert result.returncode == 1
    assert "C901 `tangled` is too complex (13 > 12)" in result.stdout
