"""Qwen3-TTS on the model server, over gRPC: time to first audio, real-time factor and
audio seconds produced per second at concurrency 1, 4, 10 and 32.

The checkpoints are random weights at the released shapes (0.6B: talker hidden 1024,
intermediate 3072; 1.7B: hidden 2048, intermediate 6144; both 28 layers, 16 heads,
8 KV heads, head_dim 128, text vocab 151936, codec vocab 3072, 16 code groups), built by
harness.qwen3_checkpoints. Random weights run at the real speed; the end token
is suppressed so every request makes exactly --frames codec frames (80 ms each).

Anchors: vLLM-Omni on an H200, 64 ms to first audio, RTF 0.16, 47.2 audio-s/s at
concurrency 10; faster-qwen3-tts on an H100, 228 ms to first audio (0.6B). Targets on an
H100: <= 100 ms to first audio, RTF <= 0.15, >= 60 audio-s/s at concurrency 10.

    .venv-qwen/bin/python -m bench.qwen3_gpu                # GPU: 0.6B and 1.7B
    .venv-qwen/bin/python -m bench.qwen3_gpu --smoke        # CPU: tiny model, seconds

Needs the qwen extra (`make install-qwen`); `make bench-qwen` runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

from bench import report
from bench.report import median, print_table, write_result
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import channel_options

TEXT = "The quick brown fox jumps over the lazy dog near the quiet river bank."
CONCURRENCY = (1, 4, 10, 32)
TARGETS = {"ttfa_ms": 100.0, "rtf": 0.15, "audio_s_per_s_at_10": 60.0}
ANCHORS = {
    "vllm_omni_h200": {"ttfa_ms": 64.0, "rtf": 0.16, "audio_s_per_s_at_10": 47.2},
    "faster_qwen3_tts_h100_0.6b": {"ttfa_ms": 228.0},
}


async def _stream_ttfa(stub: Any, model: str) -> tuple[float, float]:
    """(seconds to the first chunk carrying audio, seconds to the end) of one stream."""
    start = time.perf_counter()
    first = 0.0
    async for chunk in stub.SynthesizeStream(
        pb.SynthesizeRequest(text=TEXT, model=model, format=pb.AUDIO_FORMAT_PCM)
    ):
        if chunk.audio and not first:
            first = time.perf_counter() - start
    return first, time.perf_counter() - start


async def _unary(stub: Any, model: str) -> tuple[float, float]:
    """(wall seconds, audio seconds) of one unary request."""
    start = time.perf_counter()
    reply = await stub.Synthesize(
        pb.SynthesizeRequest(text=TEXT, model=model, format=pb.AUDIO_FORMAT_PCM)
    )
    return time.perf_counter() - start, reply.duration_seconds


async def _throughput(stub: Any, model: str, concurrency: int, requests: int) -> float:
    """Audio seconds produced per wall second with `concurrency` clients."""
    remaining = requests
    audio = 0.0

    async def client() -> None:
        nonlocal remaining, audio
        while remaining > 0:
            remaining -= 1
            _, seconds = await _unary(stub, model)
            audio += seconds  # after the await: `audio += await ...` would lose updates

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return audio / (time.perf_counter() - start)


async def measure(checkpoint: Path, name: str, args: argparse.Namespace) -> dict[str, Any]:
    from model_server.backends.qwen3 import Qwen3Backend
    from model_server.server import start
    from model_server.settings import ModelSpec, Settings

    options = {
        "fixed_frames": args.frames,
        "seed": 0,
        "max_batch_size": max(CONCURRENCY),
        "device": args.device,
    }
    if args.attn:
        options["attn_implementation"] = args.attn
    settings = Settings(
        host="127.0.0.1",
        port=0,
        metrics_port=0,
        default_model=name,
        models=[ModelSpec(name=name, backend="qwen3", path=checkpoint, options=options)],
        registry={"preload": [name]},
        batching={"window_ms": args.window_ms, "max_batch_size": max(CONCURRENCY)},
        max_in_flight=1024,
    )
    running = await start(settings)
    entry = running.synthesizer.registry.entry(name)
    backend = entry.backend
    assert isinstance(backend, Qwen3Backend)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{running.port}", options=channel_options())
    stub = tts_pb2_grpc.TextToSpeechStub(channel)
    try:
        for _ in range(args.warmup):  # CUDA kernels, allocator pools
            await _unary(stub, name)
        streams = [await _stream_ttfa(stub, name) for _ in range(args.repeats)]
        # 10 streams at once: they run as one batched generate call
        crowd = await asyncio.gather(*(_stream_ttfa(stub, name) for _ in range(10)))
        unary = [await _unary(stub, name) for _ in range(args.repeats)]
        audio_seconds = unary[0][1]
        rtf = median([wall for wall, _ in unary]) / audio_seconds
        rates = {}
        for level in args.concurrency:
            requests = max(level * args.rounds, 4)
            rates[level] = await _throughput(stub, name, level, requests)
        load_seconds, memory_bytes = entry.load_seconds, entry.memory_bytes
    finally:
        await channel.close(None)
        await running.stop(grace=1)
    return {
        "model": name,
        "device": backend._device,
        "load_seconds": round(load_seconds, 3),
        "memory_mb": round(memory_bytes / 2**20, 1),
        "audio_seconds_per_request": audio_seconds,
        "ttfa_ms": 1000 * median([first for first, _ in streams]),
        "stream_total_ms": 1000 * median([total for _, total in streams]),
        "ttfa_ms_10_streams": 1000 * median([first for first, _ in crowd]),
        "unary_ms": 1000 * median([wall for wall, _ in unary]),
        "rtf": rtf,
        "audio_s_per_s": {str(k): v for k, v in rates.items()},
        "generate_calls": backend.generate_calls,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model on the CPU, seconds")
    parser.add_argument("--sizes", default="0.6b,1.7b", help="comma-separated: 0.6b, 1.7b")
    parser.add_argument("--frames", type=int, default=50, help="codec frames a request (80 ms)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="requests per client per level")
    parser.add_argument("--window-ms", type=float, default=5.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--attn", default="", help="attn_implementation, e.g. sdpa")
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    args.concurrency = CONCURRENCY
    if args.smoke:
        sizes = ["tiny"]
        args.frames, args.repeats, args.warmup, args.rounds = 8, 3, 1, 1
        args.device = "cpu"
    else:
        sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if args.results_dir is not None:
        report.RESULTS = args.results_dir

    import torch

    from harness.qwen3_checkpoints import build_checkpoint

    on_gpu = args.device != "cpu" and torch.cuda.is_available()
    rows, results = [], []
    for size in sizes:
        workdir = Path(tempfile.mkdtemp(prefix=f"qwen3-{size}-"))
        try:
            start = time.perf_counter()
            build_checkpoint(
                workdir,
                size,
                dtype="bfloat16" if on_gpu else "float32",
                device="cuda" if on_gpu else "cpu",
            )
            built = time.perf_counter() - start
            result = asyncio.run(measure(workdir, f"qwen3-{size}", args))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        result["build_seconds"] = round(built, 1)
        results.append(result)
        rows.append(
            {
                "model": result["model"],
                "device": result["device"],
                "ttfa ms": result["ttfa_ms"],
                "ttfa ms 10 streams": result["ttfa_ms_10_streams"],
                "rtf c=1": result["rtf"],
                **{f"audio-s/s c={k}": v for k, v in result["audio_s_per_s"].items()},
                "GPU/RAM MB": result["memory_mb"],
            }
        )
    print_table(f"Qwen3-TTS over gRPC ({args.frames} frames = {args.frames * 0.08:.2f} s)", rows)
    print(f"targets (H100): {TARGETS}; anchors: {ANCHORS}")
    payload = {
        "smoke": args.smoke,
        "frames": args.frames,
        "text": TEXT,
        "gpu": torch.cuda.get_device_name() if on_gpu else None,
        "results": results,
        "targets": TARGETS,
        "anchors": ANCHORS,
    }
    write_result("qwen3_gpu_smoke" if args.smoke else "qwen3_gpu", payload)
    return payload


if __name__ == "__main__":
    main()
