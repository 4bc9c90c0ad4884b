"""Running a benchmark module in its short form, as the bench tests do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_quick(module: str, output: Path) -> subprocess.CompletedProcess[str]:
    """``python -m <module> --quick --output <output>`` from the repository root; asserts it succeeded."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=380,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
