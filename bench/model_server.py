"""Model server benchmark: ours vs the in-process limit vs Piper's own HTTP server.

In one run, on a one-sentence and a ten-sentence text: in-process Piper (the limit:
`PiperVoice.synthesize` with Piper's defaults, no transport), our unary gRPC call, our
stream's time to first audio, and throughput at concurrency 1, 4 and 16 against the
same voice served by `python -m piper.http_server` (the peer). Targets (issue 2): unary
median within 1.10x of in-process; time to first audio on the ten-sentence text at most
0.3x its full synthesis time; throughput at concurrency 16 at least 1.5x the peer's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import httpx

from bench.report import median, print_table, write_result
from harness.processes import free_port, model_server_process
from model_server.backends.piper import bundled_voice_path
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import channel_options

ONE = "The quick brown fox jumps over the lazy dog near the quiet river bank."
TEN = " ".join(
    f"This is sentence number {n}, and it is here to make the text a little longer."
    for n in ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
)
TEXTS = {"1 sentence": ONE, "10 sentences": TEN}
REPEATS = {"1 sentence": 10, "10 sentences": 3}
CONCURRENCY = (1, 4, 16)
REQUESTS_PER_LEVEL = 48


def in_process() -> dict[str, float]:
    from piper import PiperVoice

    voice = PiperVoice.load(bundled_voice_path())
    list(voice.synthesize(ONE))  # warm-up
    out = {}
    for label, text in TEXTS.items():
        times = []
        for _ in range(REPEATS[label]):
            start = time.perf_counter()
            list(voice.synthesize(text))
            times.append(time.perf_counter() - start)
        out[label] = median(times)
    return out


async def timed(fn: Callable[[], Awaitable[object]], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - start)
    return times


async def throughput(call: Callable[[], Awaitable[object]], concurrency: int) -> float:
    """Requests per second with `concurrency` clients sharing REQUESTS_PER_LEVEL."""
    remaining = REQUESTS_PER_LEVEL

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return REQUESTS_PER_LEVEL / (time.perf_counter() - start)


async def ours(address: str) -> dict[str, float]:
    channel = grpc.aio.insecure_channel(address, options=channel_options())
    stub = tts_pb2_grpc.TextToSpeechStub(channel)
    results: dict[str, float] = {}
    await stub.Synthesize(pb.SynthesizeRequest(text=ONE))  # warm-up
    for label, text in TEXTS.items():
        request = pb.SynthesizeRequest(text=text)

        async def unary(r: pb.SynthesizeRequest = request) -> object:
            return await stub.Synthesize(r)

        results[f"unary {label}"] = median(await timed(unary, REPEATS[label]))
    firsts, totals = [], []
    for _ in range(REPEATS["10 sentences"]):
        start = time.perf_counter()
        first = None
        async for _chunk in stub.SynthesizeStream(pb.SynthesizeRequest(text=TEN)):
            first = first or time.perf_counter() - start
        firsts.append(first or 0.0)
        totals.append(time.perf_counter() - start)
    results["stream first audio 10 sentences"] = median(firsts)
    results["stream total 10 sentences"] = median(totals)
    one = pb.SynthesizeRequest(text=ONE)
    for c in CONCURRENCY:
        results[f"rps c={c}"] = await throughput(lambda: stub.Synthesize(one), c)
    await channel.close(grace=None)
    return results


async def peer(url: str) -> dict[str, float]:
    results: dict[str, float] = {}
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def say(text: str) -> None:
            reply = await client.post("/synthesize", json={"text": text})
            reply.raise_for_status()

        await say(ONE)
        for label, text in TEXTS.items():

            async def unary(t: str = text) -> None:
                await say(t)

            results[f"unary {label}"] = median(await timed(unary, REPEATS[label]))
        for c in CONCURRENCY:
            results[f"rps c={c}"] = await throughput(lambda: say(ONE), c)
    return results


def start_peer(port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "piper.http_server",
                "-m",
                str(bundled_voice_path()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/info", timeout=1).status_code == 200:
                return popen
        except httpx.HTTPError:
            time.sleep(0.2)
    popen.kill()
    raise RuntimeError(f"piper.http_server did not start: {log.read_text()[-2000:]}")


def main() -> None:
    limit = in_process()
    with tempfile.TemporaryDirectory() as tmp:
        with model_server_process(Path(tmp)) as server:
            our = asyncio.run(ours(server.address))
        port = free_port()
        popen = start_peer(port, Path(tmp) / "peer.log")
        try:
            their = asyncio.run(peer(f"http://127.0.0.1:{port}"))
        finally:
            popen.terminate()
            popen.wait(10)

    rows: list[dict[str, object]] = []
    for label in TEXTS:
        rows.append(
            {
                "text": label,
                "in-process s": limit[label],
                "ours unary s": our[f"unary {label}"],
                "peer unary s": their[f"unary {label}"],
                "ours / in-process": our[f"unary {label}"] / limit[label],
            }
        )
    print_table("unary latency (median)", rows)
    first = our["stream first audio 10 sentences"]
    stream_rows = [
        {
            "text": "10 sentences",
            "first audio s": first,
            "stream total s": our["stream total 10 sentences"],
            "in-process total s": limit["10 sentences"],
            "first / in-process total": first / limit["10 sentences"],
        }
    ]
    print_table("streaming", stream_rows)
    rps_rows = [
        {
            "concurrency": c,
            "ours req/s": our[f"rps c={c}"],
            "peer req/s": their[f"rps c={c}"],
            "ours / peer": our[f"rps c={c}"] / their[f"rps c={c}"],
        }
        for c in CONCURRENCY
    ]
    print_table(f"throughput, one sentence, {REQUESTS_PER_LEVEL} requests per level", rps_rows)
    c16 = CONCURRENCY[-1]
    targets = {
        "unary within 1.10x of in-process": all(
            our[f"unary {label}"] <= 1.10 * limit[label] for label in TEXTS
        ),
        "first audio <= 0.3x full synthesis": first <= 0.3 * limit["10 sentences"],
        "c=16 throughput >= 1.5x peer": our[f"rps c={c16}"] >= 1.5 * their[f"rps c={c16}"],
    }
    print(
        "\ntargets: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in targets.items())
    )
    write_result(
        "model_server",
        {
            "cpus": os.cpu_count(),
            "unary": rows,
            "streaming": stream_rows,
            "throughput": rps_rows,
            "targets": targets,
        },
    )


if __name__ == "__main__":
    main()
