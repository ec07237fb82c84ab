"""The model server's Prometheus metrics on their own port: gRPC calls by method and
code, audio produced, time to first audio, the loaded model; the admission counters
and the port setting (0: none; taken: the server serves on without metrics)."""

from __future__ import annotations

import asyncio
import socket
import sys
from types import SimpleNamespace

import grpc
import pytest
from prometheus_client import REGISTRY

from harness.processes import Process, free_port
from model_server.exposition import gpu_metrics
from tests.metrics import scrape
from tests.model_server.servers import served
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import SERVICE_NAME, channel_options

SYNTHESIZE = f"/{SERVICE_NAME}/Synthesize"
STREAM = f"/{SERVICE_NAME}/SynthesizeStream"


async def test_calls_audio_and_models_are_counted(model_server: Process) -> None:
    before = scrape(model_server.metrics_url)
    async with grpc.aio.insecure_channel(model_server.address, options=channel_options()) as ch:
        stub = tts_pb2_grpc.TextToSpeechStub(ch)
        reply = await stub.Synthesize(pb.SynthesizeRequest(text="Counting this sentence."))
        chunks = [c async for c in stub.SynthesizeStream(pb.SynthesizeRequest(text="And this."))]
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Synthesize(pb.SynthesizeRequest(text="Hi.", model="no-such-model"))
        unknown = ch.unary_unary("/voice_engine.v1.TextToSpeech/NoSuchMethod", None, None)
        with pytest.raises(grpc.aio.AioRpcError) as unimplemented:
            await unknown(b"")
    assert refused.value.code() is grpc.StatusCode.NOT_FOUND
    assert unimplemented.value.code() is grpc.StatusCode.UNIMPLEMENTED
    after = scrape(model_server.metrics_url)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    requests = "voice_model_server_grpc_requests_total"
    assert delta(requests, method=SYNTHESIZE, code="OK") == 1
    assert delta(requests, method=SYNTHESIZE, code="NOT_FOUND") == 1
    assert delta(requests, method=STREAM, code="OK") == 1
    assert "/voice_engine.v1.TextToSpeech/NoSuchMethod" not in after.label_values(
        requests, "method"
    )  # unknown methods never become labels
    assert delta("voice_model_server_grpc_request_duration_seconds_count", method=STREAM) == 1
    produced = reply.duration_seconds + chunks[-1].duration_seconds
    assert delta("voice_model_server_audio_seconds_total", model="piper-joe") == pytest.approx(
        produced, abs=0.01
    )
    first_audio = "voice_model_server_time_to_first_audio_seconds_count"
    assert delta(first_audio, model="piper-joe", kind="unary") == 1
    assert delta(first_audio, model="piper-joe", kind="stream") == 1
    assert delta("voice_model_server_admitted_total") == 2  # the refused one never was
    assert after.value("voice_model_server_model_loaded", model="piper-joe") == 1
    assert after.value("voice_model_server_model_memory_bytes", model="piper-joe") > 0
    assert after.value("voice_model_server_model_load_seconds", model="piper-joe") > 0
    assert after.has("voice_model_server_queue_depth", model="piper-joe")
    assert after.value("voice_model_server_in_flight") == 0
    assert after.value("process_resident_memory_bytes") > 0
    # on a CPU the GPU metrics are absent, not zero
    assert not [s for s in after.samples if s.name.startswith("voice_model_server_gpu_")]


async def test_admission_rejections_are_counted() -> None:
    rejected = REGISTRY.get_sample_value("voice_model_server_rejected_total") or 0.0
    async with served(max_in_flight=1) as server:
        requests = [
            server.stub.Synthesize(pb.SynthesizeRequest(text="One sentence to keep it busy."))
            for _ in range(4)
        ]
        results = await asyncio.gather(*requests, return_exceptions=True)
    refusals = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert refusals and all(r.code() is grpc.StatusCode.RESOURCE_EXHAUSTED for r in refusals)
    after = REGISTRY.get_sample_value("voice_model_server_rejected_total") or 0.0
    assert after - rejected == len(refusals)


async def test_metrics_port_zero_serves_none_and_a_taken_port_is_survived() -> None:
    async with served(metrics_port=0) as server:
        assert server.running.metrics is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with served(metrics_port=port) as server:
            assert server.running.metrics is None  # logged; speech still served
            reply = await server.stub.Synthesize(pb.SynthesizeRequest(text="Still here."))
            assert reply.audio
    port = free_port()
    async with served(metrics_port=port) as server:
        assert server.running.metrics is not None
        text = scrape(f"http://127.0.0.1:{port}/metrics").text
        assert "voice_model_server_model_loaded" in text


def test_gpu_metrics_come_from_torch_when_cuda_is_in_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a CPU (no torch imported, or CUDA unavailable) there are no GPU metrics; with
    CUDA in use, torch's memory per device (NVML's utilisation only with nvidia-ml-py)."""
    assert not list(gpu_metrics())  # this process: no torch
    cuda = SimpleNamespace(
        is_available=lambda: True,
        device_count=lambda: 2,
        memory_allocated=lambda i: 1000 * (i + 1),
        memory_reserved=lambda i: 2000 * (i + 1),
    )
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))
    monkeypatch.setitem(sys.modules, "pynvml", None)  # not installed
    families = {f.name: f for f in gpu_metrics()}
    used = families["voice_model_server_gpu_memory_used_bytes"].samples
    assert {(s.labels["device"], s.value) for s in used} == {("0", 1000), ("1", 2000)}
    assert "voice_model_server_gpu_utilization_ratio" not in families
    cuda.is_available = lambda: False
    assert not list(gpu_metrics())
