"""The load run in the suite, shortened (VOICE_LOAD_SECONDS, 30 s by default; `make
bench` runs the full minute): 200 sessions taking typed turns with cached replies
through two workers; no 5xx but 503 with Retry-After, and each worker's resident
memory flat within 10% between the first and the last third of the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.load import SESSIONS, run_load, two_workers
from harness.processes import Process

SECONDS = float(os.environ.get("VOICE_LOAD_SECONDS", "30"))
pytestmark = [pytest.mark.slow, pytest.mark.load, pytest.mark.timeout(300)]


def test_200_sessions_of_cached_turns(model_server: Process, tmp_path: Path) -> None:
    with two_workers(model_server.address, tmp_path) as (targets, pids):
        result = run_load(targets, pids, SECONDS)
    assert result.bad_statuses() == {}, result.statuses
    assert result.unavailable_without_retry_after == 0
    assert result.turns >= SESSIONS  # every session was answered, more than once
    window = SECONDS / 3
    for pid in pids:
        first, last = result.window_means(pid, window)
        assert abs(last - first) / first <= 0.10, (pid, first, last)
