"""Throughput across a worker kill: the load run's 200 sessions (cached typed turns,
two worker processes, PostgreSQL store, Redis cache: harness/load.py) taking turns
through the Express bridge (deploy/bridge), one worker SIGKILLed after `BEFORE`
seconds. The bridge sends a turn in flight on the dead worker once more, to the
survivor (it carries a key: the client's or one the bridge gave it), and skips the
dead worker from then on. Printed per window: turns answered, turns per second,
latency percentiles and the statuses: the `BEFORE` seconds before the kill, the first
`WINDOW` seconds after it (the failover window) and the `WINDOW` seconds after those
(one worker left). Writes bench/results/failover.json. `python -m bench failover`
(about a minute; needs Node.js and the bridge's packages: `npm ci` in deploy/bridge)."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.report import percentile, print_table, write_result
from harness.bridge import BRIDGE, install_bridge, start_bridge
from harness.load import QUESTION, SESSIONS, Connection, two_workers
from harness.processes import model_server_process

BEFORE, WINDOW, SETTLE = 10.0, 5.0, 3.0
#: (time.monotonic() when asked, seconds taken, status) of every turn
Turn = tuple[float, float, int]


async def client(bridge: str, session: str, until: float, turns: list[Turn]) -> None:
    host, port = bridge.split(":")
    connection = await Connection.open(host, int(port))
    path = f"/api/voice/sessions/{session}/text"
    body = f'{{"text": "{QUESTION}"}}'.encode()
    try:
        while (now := time.monotonic()) < until:
            status, headers = await connection.post(path, body, bridge)
            turns.append((now, time.monotonic() - now, status))
            if status in (409, 503):
                await asyncio.sleep(float(headers.get("retry-after", "1")))
    finally:
        connection.close()


async def drive(bridge: str, sessions: list[str], victim: int) -> tuple[list[Turn], float]:
    turns: list[Turn] = []
    start = time.monotonic()
    killed_at = start + SETTLE + BEFORE
    until = killed_at + 2 * WINDOW

    async def kill() -> None:
        await asyncio.sleep(killed_at - time.monotonic())
        os.kill(victim, signal.SIGKILL)

    await asyncio.gather(kill(), *(client(bridge, s, until, turns) for s in sessions))
    return turns, killed_at


def window(name: str, turns: list[Turn], start: float, seconds: float) -> dict[str, Any]:
    """The turns answered in [start, start + seconds)."""
    inside = [(t, took, s) for t, took, s in turns if start <= t + took < start + seconds]
    ms = [took * 1000 for _, took, s in inside if s == 200]
    statuses = Counter(s for _, _, s in inside)
    return {
        "window": name,
        "seconds": seconds,
        "turns": statuses[200],
        "turns_per_s": statuses[200] / seconds,
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "max_ms": max(ms, default=float("nan")),
        "not_200": sum(n for s, n in statuses.items() if s != 200),
        "statuses": dict(statuses),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with (
            model_server_process(directory) as server,
            two_workers(server.address, directory) as (targets, pids),
        ):
            addresses = sorted({t.split("|")[0] for t in targets})
            if not (BRIDGE / "node_modules").is_dir():
                install_bridge()
            bridge, url = start_bridge(directory, [f"http://{a}" for a in addresses])
            address = url.removeprefix("http://")
            try:
                sessions = [t.split("|")[1] for t in targets]
                turns, killed_at = asyncio.run(drive(address, sessions, pids[0]))
                log = next(directory.glob("bridge-*.log"))
                retried = log.read_text().count("retrying on")
            finally:
                bridge.terminate()
                bridge.wait(10)
    rows = [
        window(f"{BEFORE:.0f} s before the kill", turns, killed_at - BEFORE, BEFORE),
        window(f"first {WINDOW:.0f} s after", turns, killed_at, WINDOW),
        window(f"next {WINDOW:.0f} s (one worker)", turns, killed_at + WINDOW, WINDOW),
    ]
    ratio = rows[1]["turns_per_s"] / rows[0]["turns_per_s"] if rows[0]["turns_per_s"] else 0
    summary = {
        "sessions": SESSIONS,
        "turns_retried_by_the_bridge": retried,
        "kill_window_vs_before": ratio,
        "not_200_total": sum(r["not_200"] for r in rows),
    }
    print_table("failover: cached typed turns through the bridge, a worker SIGKILLed", rows)
    print_table("summary", [summary])
    write_result("failover", {"windows": rows, "summary": summary})


if __name__ == "__main__":
    main()
