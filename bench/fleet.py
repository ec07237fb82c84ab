"""Model-server fleet benchmark, in one run on this machine: one voice worker (one
process) in front of one model server, then in front of two, every server limited to
one core's worth of Piper work (`VOICE_PIPER__WORKERS=1`, `VOICE_PIPER__SOLO_THREADS=1`,
and pinned to a core of its own with `taskset` when it exists), so the comparison is
about routing, not about a bigger machine.

Uncached speech (every request a different text, WAV) from 8 keep-alive clients for
`LOAD_SECONDS`: requests per second, latency, and the share of requests each server
took (each request carries an `x-request-id`; the servers log the IDs they serve).
Targets: two servers give at least 1.8x one server's throughput, each taking its half
within 10%.

Setups: one server as the default setup has it (`VOICE_TTS__MODEL_SERVER`), one server
through the fleet provider (its overhead), two servers through the fleet; and, as the
machine's ceiling, the same servers driven directly over gRPC without a worker (8
clients on one server; 4 on each of two: a perfect split). Every setup runs twice, in
the order A B C D E E D C B A, and the mean is reported, so load from other programs on
the machine weighs on each alike. The servers' own CPU time in the window is read from
/proc: on a shared machine, "server cores" says how much CPU they actually got, and
"req/s per server core" what they did with it (the last target row scales that to one
full core per server)."""

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
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.http_load import Connection
from bench.report import percentile, print_table, write_result
from harness.fleet_servers import ServerSlot, start_all, stop_all
from harness.processes import free_port
from shared.audio.formats import AudioFormat
from voice_contract.client import SpeechClient

CONCURRENCY = 8
WARMUP_SECONDS = 3.0
LOAD_SECONDS = 15.0
TEXTS = [
    "Your order number {n} has shipped and will arrive tomorrow.",
    "Thanks for calling, ticket {n} is now open and we will be in touch.",
    "The meeting moved to room {n}, right after lunch.",
]
#: one request: its number in, a label out (an address, or a request ID the logs resolve)
Client = Callable[[int], Awaitable[str]]


def text(n: int) -> str:
    return TEXTS[n % len(TEXTS)].format(n=n)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(
    clients: Sequence[Client], first: int, cpu: Callable[[], list[float]]
) -> tuple[float, list[float], list[str], list[float]]:
    """Warm up, then every client in a loop for `LOAD_SECONDS`: (req/s, latencies, the
    labels of the requests answered in the window, each server's CPU cores used)."""
    numbers = itertools.count(first)
    measuring = False
    latencies: list[float] = []
    labels: list[str] = []

    async def loop(client: Client, until: float) -> None:
        while time.perf_counter() < until:
            start = time.perf_counter()
            label = await client(next(numbers))
            if measuring:
                latencies.append(time.perf_counter() - start)
                labels.append(label)

    warm_until = time.perf_counter() + WARMUP_SECONDS
    await asyncio.gather(*(loop(c, warm_until) for c in clients))
    measuring = True
    before = cpu()
    start = time.perf_counter()
    await asyncio.gather(*(loop(c, start + LOAD_SECONDS) for c in clients))
    elapsed = time.perf_counter() - start
    cores = [(after - b) / elapsed for after, b in zip(cpu(), before, strict=True)]
    return len(labels) / elapsed, latencies, labels, cores


async def through_worker(port: int, first: int, cpu: Callable[[], list[float]]) -> Any:
    host = f"127.0.0.1:{port}"
    conns = [await Connection.open(port) for _ in range(CONCURRENCY)]

    def client(conn: Connection) -> Client:
        async def call(n: int) -> str:
            body = json.dumps({"model": "tts-1", "input": text(n), "response_format": "wav"})
            head = (
                f"POST /v1/audio/speech HTTP/1.1\r\nHost: {host}\r\nx-request-id: bench-{n}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            status = await conn.call(head.encode() + body.encode())
            assert status == 200, status
            return f"bench-{n}"

        return call

    try:
        return await drive([client(c) for c in conns], first, cpu)
    finally:
        for conn in conns:
            conn.close()


async def direct(addresses: Sequence[str], first: int, cpu: Callable[[], list[float]]) -> Any:
    """No worker: CONCURRENCY gRPC clients split evenly over the servers."""
    speech = [SpeechClient(a, timeout=60) for a in addresses]

    def client(i: int) -> Client:
        target = speech[i % len(speech)]

        async def call(n: int) -> str:
            await target.synthesize(text(n), AudioFormat.WAV)
            return addresses[i % len(addresses)]

        return call

    try:
        return await drive([client(i) for i in range(CONCURRENCY)], first, cpu)
    finally:
        for s in speech:
            await s.channel.close(grace=None)


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
    tmp: Path, servers: list[ServerSlot], env: dict[str, str] | None, first: int
) -> dict[str, Any]:
    """One measured run: through a worker with `env`, or (None) straight to the servers."""

    def cpu() -> list[float]:
        return [cpu_seconds(s.popen.pid) if s.popen else float("nan") for s in servers]

    if env is None:
        rps, latencies, labels, cores = asyncio.run(
            direct([s.address for s in servers], first, cpu)
        )
    else:
        worker, port = start_worker(tmp, env)
        try:
            rps, latencies, labels, cores = asyncio.run(through_worker(port, first, cpu))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    served = {s.address: s.served() for s in servers}

    def server_of(label: str) -> str:
        if label in served:
            return label
        return next((a for a, ids in served.items() if label in ids), "?")

    share = Counter(server_of(label) for label in labels)
    return {
        "rps": rps,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "requests": len(labels),
        "share": [share[a] / max(len(labels), 1) for a in served],
        "server_cores": sum(cores),
    }


def mean_case(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean of each figure over runs of one setup (shares per server too)."""
    out: dict[str, Any] = {"runs": list(runs)}
    for key in ("rps", "p50_ms", "p90_ms", "requests", "server_cores"):
        out[key] = sum(r[key] for r in runs) / len(runs)
    out["share"] = [sum(col) / len(col) for col in zip(*(r["share"] for r in runs), strict=True)]
    return out


SETUPS = {
    "direct_one": "1 server, direct gRPC (no worker)",
    "one": "1 server (VOICE_TTS__MODEL_SERVER)",
    "fleet_one": "1 server (fleet provider)",
    "two": "2 servers (fleet provider)",
    "direct_two": "2 servers, direct gRPC (no worker, even split)",
}


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
        setups: dict[str, tuple[list[ServerSlot], dict[str, str] | None]] = {
            "direct_one": (slots[:1], None),
            "one": (slots[:1], {"VOICE_TTS__MODEL_SERVER": slots[0].address}),
            "fleet_one": (slots[:1], {"VOICE_TTS__MODEL_SERVERS": slots[0].address}),
            "two": (slots, {"VOICE_TTS__MODEL_SERVERS": targets}),
            "direct_two": (slots, None),
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in setups}
        try:
            start_all(slots)
            for i, name in enumerate([*setups, *reversed(setups)]):
                servers, env = setups[name]
                runs[name].append(run_case(tmp, servers, env, i * 1_000_000))
        finally:
            stop_all(slots)
    means = {name: mean_case(r) for name, r in runs.items()}
    speedup = means["two"]["rps"] / means["one"]["rps"]
    ceiling = means["direct_two"]["rps"] / means["direct_one"]["rps"]
    worst = max(abs(share - 0.5) / 0.5 for share in means["two"]["share"])
    # on a shared machine the servers may not get their cores: throughput per core
    # received, scaled to one full core per server
    per_core = {name: case["rps"] / case["server_cores"] for name, case in means.items()}
    projected = 2 * per_core["two"] / per_core["one"]
    rows = [
        {
            "setup": SETUPS[name],
            "req/s": case["rps"],
            "p50 ms": case["p50_ms"],
            "p90 ms": case["p90_ms"],
            "requests": case["requests"],
            "share per server": " / ".join(f"{v:.1%}" for v in case["share"]),
            "server cores": case["server_cores"],
            "req/s per server core": per_core[name],
        }
        for name, case in means.items()
    ]
    print_table(
        f"fleet: uncached speech at concurrency {CONCURRENCY}, {LOAD_SECONDS:g} s x 2 runs, "
        f"1 Piper core per server{' (taskset)' if pin else ''}, mean of the runs",
        rows,
    )
    checks = [
        {"measure": "2 servers / 1 server, through the worker", "value": speedup,
         "target": ">= 1.8", "ok": speedup >= 1.8},
        {"measure": "largest deviation from an even split", "value": f"{worst:.1%}",
         "target": "<= 10%", "ok": worst <= 0.10},
        {"measure": "2 servers / 1 server, direct (this machine's ceiling)", "value": ceiling,
         "target": "", "ok": ""},
        {"measure": "2 servers / 1 server, through the worker, per server core received x2",
         "value": projected, "target": "", "ok": ""},
    ]  # fmt: skip
    print_table("fleet targets", checks)
    write_result(
        "fleet",
        {
            "concurrency": CONCURRENCY,
            "load_seconds": LOAD_SECONDS,
            "pinned": pin,
            **means,
            "speedup": speedup,
            "direct_speedup": ceiling,
            "split_deviation": worst,
            "projected_speedup_full_cores": projected,
            "cpus": os.cpu_count(),
        },
    )


if __name__ == "__main__":
    main()
