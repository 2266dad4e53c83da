"""`eo-tfds demo` as a user runs it: the whole story for one dataset, its extra table,
and nothing on stderr (no framework warning a user would take for an error)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_quietly(tmp_path):
    env = dict(os.environ, EO_TFDS_PROGRESS="0")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-m", "conversion", "demo", "--workdir", str(tmp_path),
                        "--datasets", "s2_cloud_timeseries"], capture_output=True, text=True,
                       cwd=ROOT, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr == "", r.stderr[-3000:]
    assert "s2_cloud_timeseries/joined: the published pieces re-joined" in r.stdout
    table = r.stdout[r.stdout.index("dates (raw)"):].splitlines()[2:]
    assert any(line.split()[:1] in (["train"], ["validation"]) for line in table), r.stdout
