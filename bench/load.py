"""The load run at full length (the suite runs it shortened: tests/faults/test_load.py):
200 sessions taking typed turns with cached replies through two worker processes
(PostgreSQL store, Redis cache) for a minute. Prints throughput, latency percentiles,
statuses and each worker's memory in the first and last 20 seconds; writes
bench/results/load.json. `python -m bench load` (VOICE_LOAD_SECONDS to change the
minute)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bench.report import percentile, print_table, write_result
from harness.load import SESSIONS, run_load, two_workers
from harness.processes import model_server_process

SECONDS = float(os.environ.get("VOICE_LOAD_SECONDS", "60"))
WINDOW = 20.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with (
            model_server_process(directory) as server,
            two_workers(server.address, directory) as (targets, pids),
        ):
            result = run_load(targets, pids, SECONDS)
    window = min(WINDOW, SECONDS / 3)
    ms = [s * 1000 for s in result.latencies]
    summary: dict[str, Any] = {
        "sessions": SESSIONS,
        "seconds": SECONDS,
        "turns": result.turns,
        "turns_per_s": result.turns / SECONDS,
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "statuses": dict(result.statuses),
        "503_without_retry_after": result.unavailable_without_retry_after,
    }
    memory = []
    for pid in pids:
        first, last = result.window_means(pid, window)
        memory.append(
            {
                "worker_pid": pid,
                f"first_{window:.0f}s_mib": first / 2**20,
                f"last_{window:.0f}s_mib": last / 2**20,
                "change_pct": (last - first) / first * 100,
                "flat_within_10pct": abs(last - first) / first <= 0.10,
            }
        )
    print_table("load: cached typed turns, 200 sessions, two workers", [summary])
    print_table("worker memory", memory)
    write_result("load", {"summary": summary, "memory": memory})


if __name__ == "__main__":
    main()
