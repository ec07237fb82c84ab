"""Model-server fleet benchmark, in one run on this machine: one voice worker (one
process) in front of one model server, then in front of two, every server limited to
one core's worth of Piper work (`VOICE_PIPER__WORKERS=1`, `VOICE_PIPER__SOLO_THREADS=1`,
and pinned to a core of its own with `taskset` when it exists), so the comparison is
about routing, not about a bigger machine.

Uncached speech (every request a different text, WAV) from 8 keep-alive clients for
`LOAD_SECONDS`: requests per second, latency, and the share of requests each server
took (each request carries an `x-request-id`; the servers log the IDs they serve).
Targets: two servers give at least 1.8x one server's throughput, each taking its half
within 10%. The worker and the load generator share the two cores with the servers.

Rows: one server as the default setup has it (`VOICE_TTS__MODEL_SERVER`), one server
through the fleet provider (its overhead), two servers through the fleet; run twice in
the order A B C C B A (the mean of each is reported), so that load from other programs
on the machine weighs on every setup alike. The servers' own CPU time in the window is
read from /proc: on a shared machine, "server cores" says how much CPU they actually
got, and "req per server CPU-s" is the throughput per unit of Piper work."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.http_load import Connection
from bench.report import percentile, print_table, write_result
from tests.fleet.servers import ServerSlot, start_all, stop_all
from tests.helpers import free_port

CONCURRENCY = 8
WARMUP_SECONDS = 3.0
LOAD_SECONDS = 15.0
TEXTS = [
    "Your order number {n} has shipped and will arrive tomorrow.",
    "Thanks for calling, ticket {n} is now open and we will be in touch.",
    "The meeting moved to room {n}, right after lunch.",
]


def payload(host: str, n: int) -> bytes:
    text = TEXTS[n % len(TEXTS)].format(n=n)
    body = json.dumps({"model": "tts-1", "input": text, "response_format": "wav"}).encode()
    head = (
        f"POST /v1/audio/speech HTTP/1.1\r\nHost: {host}\r\nx-request-id: bench-{n}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    port: int, first: int, cpu: Callable[[], list[float]]
) -> tuple[float, list[float], list[str], list[float]]:
    """Warm up, then `CONCURRENCY` clients for `LOAD_SECONDS`: (req/s, latencies, the
    request IDs answered in the measured window, CPU seconds per core-second of each
    server in the window)."""
    host = f"127.0.0.1:{port}"
    numbers = itertools.count(first)
    conns = [await Connection.open(port) for _ in range(CONCURRENCY)]
    measuring = False
    latencies: list[float] = []
    answered: list[str] = []

    async def client(conn: Connection, until: float) -> None:
        while time.perf_counter() < until:
            n = next(numbers)
            start = time.perf_counter()
            status = await conn.call(payload(host, n))
            assert status == 200, status
            if measuring:
                latencies.append(time.perf_counter() - start)
                answered.append(f"bench-{n}")

    warm_until = time.perf_counter() + WARMUP_SECONDS
    await asyncio.gather(*(client(c, warm_until) for c in conns))
    measuring = True
    before = cpu()
    start = time.perf_counter()
    await asyncio.gather(*(client(c, start + LOAD_SECONDS) for c in conns))
    elapsed = time.perf_counter() - start
    cores = [(after - b) / elapsed for after, b in zip(cpu(), before, strict=True)]
    for conn in conns:
        conn.close()
    return len(answered) / elapsed, latencies, answered, cores


def start_worker(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, "-m", "voice_engine.cli", "serve-worker", "--workers", "1"]
    environment = {
        **os.environ,
        "VOICE_HTTP_PORT": str(port),
        "VOICE_STT__PROVIDER": "mock",
        "VOICE_LOG__LEVEL": "WARNING",
        "VOICE_ACCESS_LOG": "false",
        "VOICE_DATA_DIR": str(tmp / "worker-data"),
        **env,
    }
    log = (tmp / f"worker-{port}.log").open("wb")
    popen = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return popen, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    popen.kill()
    raise TimeoutError("the worker did not become ready")


def run_case(
    tmp: Path, servers: list[ServerSlot], env: dict[str, str], first: int
) -> dict[str, Any]:
    worker, port = start_worker(tmp, env)

    def cpu() -> list[float]:
        return [cpu_seconds(s.popen.pid) if s.popen else float("nan") for s in servers]

    try:
        rps, latencies, answered, cores = asyncio.run(load(port, first, cpu))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    served = {s.address: s.served() for s in servers}
    share = Counter(next((a for a, ids in served.items() if rid in ids), "?") for rid in answered)
    return {
        "rps": rps,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "requests": len(answered),
        "share": [share[a] / max(len(answered), 1) for a in served],
        "server_cores": sum(cores),
        "per_server_cpu_second": rps / sum(cores) if sum(cores) else float("nan"),
    }


def mean_case(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean of each figure over runs of one setup (shares per server too)."""
    out: dict[str, Any] = {"runs": list(runs)}
    for key in ("rps", "p50_ms", "p90_ms", "requests", "server_cores", "per_server_cpu_second"):
        out[key] = sum(r[key] for r in runs) / len(runs)
    shares = [r["share"] for r in runs]
    out["share"] = [sum(col) / len(col) for col in zip(*shares, strict=True)]
    return out


def main() -> None:
    pin = shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        slots = [
            ServerSlot(
                tmp,
                "127.0.0.1",
                free_port(),
                {"VOICE_REGISTRY__PRELOAD": '["piper-joe"]'},
                prefix=["taskset", "-c", str(core)] if pin else [],
            )
            for core in (0, 1)
        ]
        targets = json.dumps([s.address for s in slots])
        setups: dict[str, tuple[list[ServerSlot], dict[str, str]]] = {
            "one": (slots[:1], {"VOICE_TTS__MODEL_SERVER": slots[0].address}),
            "fleet_one": (slots[:1], {"VOICE_TTS__MODEL_SERVERS": slots[0].address}),
            "two": (slots, {"VOICE_TTS__MODEL_SERVERS": targets}),
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in setups}
        try:
            start_all(slots)
            order = [*setups, *reversed(setups)]  # A B C C B A
            for i, name in enumerate(order):
                servers, env = setups[name]
                runs[name].append(run_case(tmp, servers, env, i * 1_000_000))
        finally:
            stop_all(slots)
    one, fleet_one, two = (mean_case(runs[name]) for name in setups)
    speedup = two["rps"] / one["rps"]
    per_cpu = two["per_server_cpu_second"] / one["per_server_cpu_second"]
    worst = max(abs(share - 0.5) / 0.5 for share in two["share"])
    rows: list[dict[str, Any]] = []
    for name, case in [
        ("1 server (VOICE_TTS__MODEL_SERVER)", one),
        ("1 server (fleet provider)", fleet_one),
        ("2 servers (fleet provider)", two),
    ]:
        rows.append(
            {
                "setup": name,
                "req/s": case["rps"],
                "p50 ms": case["p50_ms"],
                "p90 ms": case["p90_ms"],
                "requests": case["requests"],
                "share per server": " / ".join(f"{v:.1%}" for v in case["share"]),
                "server cores": case["server_cores"],
                "req per server CPU-s": case["per_server_cpu_second"],
            }
        )
    print_table(
        f"fleet: uncached speech at concurrency {CONCURRENCY}, {LOAD_SECONDS:g} s x 2 "
        f"runs, 1 Piper core per server{' (taskset)' if pin else ''}",
        rows,
    )
    checks = [
        {"measure": "2 servers / 1 server", "value": speedup, "target": ">= 1.8",
         "ok": speedup >= 1.8},
        {"measure": "largest deviation from an even split", "value": f"{worst:.1%}",
         "target": "<= 10%", "ok": worst <= 0.10},
        {"measure": "2 / 1 per server CPU-second", "value": per_cpu, "target": "",
         "ok": ""},
    ]  # fmt: skip
    print_table("fleet targets", checks)
    write_result(
        "fleet",
        {
            "concurrency": CONCURRENCY,
            "load_seconds": LOAD_SECONDS,
            "pinned": pin,
            "one_server": one,
            "one_server_fleet": fleet_one,
            "two_servers": two,
            "speedup": speedup,
            "split_deviation": worst,
            "per_server_cpu_second_ratio": per_cpu,
            "cpus": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    main()
