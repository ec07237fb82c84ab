"""The GPU benchmark's CPU smoke run: the same script, a tiny checkpoint, a few seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.processes import ROOT


def test_bench_smoke_writes_its_json(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.qwen3_gpu", "--smoke", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "audio-s/s c=32" in run.stdout  # the table
    payload = json.loads((tmp_path / "qwen3_gpu_smoke.json").read_text())
    assert payload["smoke"] is True and payload["frames"] == 8
    assert payload["targets"]["audio_s_per_s_at_10"] == 60.0
    [result] = payload["results"]
    assert result["device"] == "cpu"
    assert result["audio_seconds_per_request"] == 8 * 0.08
    # Windowed streaming: the first block (4 of the 8 frames) comes well before the end.
    assert 0 < result["ttfa_ms"] < 0.8 * result["stream_total_ms"]
    assert result["ttfa_ms_10_streams"] > 0
    assert result["rtf"] > 0
    assert result["memory_mb"] > 1
    rates = result["audio_s_per_s"]
    assert set(rates) == {"1", "4", "10", "32"}
    # Dynamic batching: 32 clients get far more audio a second than one, and the
    # 1 warm-up + 3 + 10 streams + 3 unary + 4 + 4 + 10 + 32 requests (67) ran in far fewer
    # generate calls (unbatched: one each).
    assert rates["32"] > 2 * rates["1"]
    assert result["generate_calls"] < 30
