"""bandit over lecturehub/: no medium or high severity finding may stand unexplained.

A finding is either fixed or marked on its line with `# nosec BXXX` and a comment saying why it is safe.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_bandit_finds_nothing_of_medium_or_high_severity():
    result = subprocess.run(  # the arguments are fixed; nothing comes from outside
        [sys.executable, "-m", "bandit", "-r", "lecturehub", "-ll", "-q", "-f", "json",
         "-c", "pyproject.toml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.stdout.strip(), f"bandit printed nothing: {result.stderr}"
    report = json.loads(result.stdout)
    assert not report["errors"], report["errors"]
    findings = [f"{r['filename']}:{r['line_number']}: {r['test_id']} ({r['issue_severity']}) {r['issue_text']}"
                for r in report["results"]]
    assert not findings, "bandit findings:\n" + "\n".join(findings)
    assert report["metrics"]["_totals"]["loc"] > 1000, "bandit scanned almost nothing"
