"""When the engine itself fails (a model that does not load, a backend that raises
mid-synthesis), the client gets INTERNAL with the reason MODEL_FAILED and a message
naming the model, never UNKNOWN and never a Python class, path or traceback; the
operator gets the cause in the log. The server goes on serving other requests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import pytest

from model_server.backends.base import FloatArray, SynthesisJob
from model_server.backends.piper import PiperBackend, bundled_voice_path
from tests.model_server.servers import Served, served
from voice_contract.errors import error_details
from voice_contract.v1 import tts_pb2 as pb

LEAKS = ("<class", "Traceback", "Error:", ".py", "onnx")


def assert_clean_internal(error: grpc.aio.AioRpcError, model: str) -> None:
    assert error.code() == grpc.StatusCode.INTERNAL, error.details()
    message = error.details() or ""
    assert f"model {model!r}" in message
    assert not any(leak in message for leak in LEAKS), message
    assert error_details(error.trailing_metadata()).reason == "MODEL_FAILED"


async def unary_and_stream(server: Served, request: pb.SynthesizeRequest) -> list[BaseException]:
    async def drain() -> None:
        async for _ in server.stub.SynthesizeStream(request, timeout=30):
            pass

    errors: list[BaseException] = []
    for call in (server.stub.Synthesize(request, timeout=30), drain()):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        errors.append(caught.value)
    return errors


@pytest.fixture
def broken_voices(tmp_path: Path) -> Path:
    """A voice whose .onnx file is not a model (its config is the real voice's)."""
    shutil.copy(f"{bundled_voice_path()}.json", tmp_path / "broken.onnx.json")
    (tmp_path / "broken.onnx").write_bytes(b"this is not an ONNX model" * 100)
    return tmp_path


async def test_a_model_that_fails_to_load_is_internal_without_a_class_path(
    broken_voices: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with served(piper={"voices_dir": str(broken_voices)}) as server:
        request = pb.SynthesizeRequest(text="Hello there.", model="piper-broken")
        for error in await unary_and_stream(server, request):
            assert isinstance(error, grpc.aio.AioRpcError)
            assert_clean_internal(error, "piper-broken")
        reply = await server.stub.Synthesize(pb.SynthesizeRequest(text="Still here."), timeout=30)
        assert reply.duration_seconds > 0.3  # the default model still serves
    assert "model load failed" in caplog.text  # the operator's side has the cause


class ExplodingPiper(PiperBackend):
    """The real voice whose engine raises mid-synthesis, as a crashed runtime would."""

    def synthesize_batch(self, jobs: Sequence[SynthesisJob]) -> list[FloatArray]:
        raise ValueError("/opt/engine/kernel.py: tensor shape mismatch")

    def stream(self, job: SynthesisJob) -> Iterator[FloatArray]:
        raise ValueError("/opt/engine/kernel.py: tensor shape mismatch")


async def test_a_backend_that_raises_is_internal_without_a_class_path() -> None:
    async with served() as server:
        entry = server.running.synthesizer.registry.entry("piper-joe")
        exploding = ExplodingPiper(bundled_voice_path())
        exploding.load()
        entry.backend = exploding
        for error in await unary_and_stream(server, pb.SynthesizeRequest(text="Hello there.")):
            assert isinstance(error, grpc.aio.AioRpcError)
            assert_clean_internal(error, "piper-joe")
            assert "mismatch" not in (error.details() or "")


def test_the_broken_voice_fixture_really_is_broken(broken_voices: Path) -> None:
    config = json.loads((broken_voices / "broken.onnx.json").read_text())
    assert config["audio"]["sample_rate"] == 22050
    with pytest.raises(Exception):  # noqa: B017, PT011 (whatever ONNX Runtime raises)
        PiperBackend(broken_voices / "broken.onnx").load()
