"""The model server with a shared secret and TLS, on a real process: TextToSpeech calls
need `authorization: Bearer <token>` (UNAUTHENTICATED otherwise, with its ErrorInfo),
health and reflection stay open for probes, plaintext is refused on the TLS port; the
client (every call shape, through the token interceptor), `voice-engine say` with a CA
file, and a worker reaching the server through the fleet all work."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from harness.fake_venice import FakeVenice
from harness.processes import ROOT, Process, decode, free_port
from harness.servers import stop, worker_process
from shared.audio.formats import AudioFormat
from tests.security.certificates import Certificate, self_signed
from tests.security.support import worker_env
from voice_contract.channels import ChannelSecurity, open_channel
from voice_contract.client import SpeechClient, SpeechClientError
from voice_contract.errors import error_details
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_worker.errors import UpstreamFailed
from voice_worker.tts.base import SpeechOptions
from voice_worker.tts.model_server import ModelServerTTS

pytestmark = pytest.mark.slow
TOKEN = "model-server-shared-secret-for-tests"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


def wait_serving(address: str, certificate: Certificate, popen: subprocess.Popen[bytes]) -> None:
    credentials = grpc.ssl_channel_credentials(certificate.cert_file.read_bytes())
    for _ in range(600):
        assert popen.poll() is None, "the model server exited"
        try:
            with grpc.secure_channel(address, credentials) as channel:  # no token: open
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=2
                )
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        import time

        time.sleep(0.1)
    raise TimeoutError("the model server never served")


@pytest.fixture(scope="module")
def server(certificate: Certificate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("secured-models") / "model-server.log"
    env = {
        **os.environ,
        "VOICE_PORT": str(port),
        "VOICE_GRPC__TOKEN": TOKEN,
        "VOICE_GRPC__TLS_CERT_FILE": str(certificate.cert_file),
        "VOICE_GRPC__TLS_KEY_FILE": str(certificate.key_file),
    }
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "voice_engine.cli", "serve-models", "--host", "127.0.0.1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        address = f"127.0.0.1:{port}"
        wait_serving(address, certificate, popen)
        yield Process(popen, address, log_path)
    finally:
        stop(popen)


def secure(certificate: Certificate, token: str = TOKEN) -> ChannelSecurity:
    return ChannelSecurity(token, certificate.cert_file)


@pytest.fixture
async def anonymous_stub(
    server: Process, certificate: Certificate
) -> AsyncIterator[tts_pb2_grpc.TextToSpeechStub]:
    channel = open_channel(server.address, security=secure(certificate, token=""))
    yield tts_pb2_grpc.TextToSpeechStub(channel)
    await channel.close(None)


async def test_calls_need_the_token_and_probes_do_not(
    server: Process, certificate: Certificate, anonymous_stub: tts_pb2_grpc.TextToSpeechStub
) -> None:
    request = pb.SynthesizeRequest(text="Hello.", format=pb.AUDIO_FORMAT_WAV)
    for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", TOKEN),)):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await anonymous_stub.Synthesize(request, timeout=10, metadata=metadata)
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
        assert error_details(caught.value.trailing_metadata()).reason == "UNAUTHENTICATED"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await anonymous_stub.ListModels(pb.ListModelsRequest(), timeout=10)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    call = anonymous_stub.SynthesizeStream(request, timeout=10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    # health and reflection stay open (probes, grpcurl)
    channel = open_channel(server.address, security=secure(certificate, token=""))
    try:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        ask = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = [reply async for reply in reflection.ServerReflectionInfo(iter([ask]))]
        names = {s.name for s in replies[0].list_services_response.service}
        assert "voice_engine.v1.TextToSpeech" in names
    finally:
        await channel.close(None)
    # plaintext on the TLS port: no connection at all
    plain = grpc.aio.insecure_channel(server.address)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await health_pb2_grpc.HealthStub(plain).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        await plain.close(None)
    assert TOKEN not in server.log()


async def test_the_client_with_the_token_makes_every_kind_of_call(
    server: Process, certificate: Certificate
) -> None:
    async with SpeechClient(server.address, timeout=60, security=secure(certificate)) as client:
        whole = await client.synthesize("Hello over TLS.", AudioFormat.WAV)
        assert decode(whole.audio)[1] > 0.5
        chunks = [c async for c in client.stream("Streamed over TLS.", AudioFormat.WAV)]
        assert decode(b"".join(c.audio for c in chunks))[1] > 0.5

        async def texts() -> AsyncIterator[str]:
            for piece in ("Written ", "in pieces. ", "Then spoken."):
                yield piece

        pieces = [c async for c in client.stream_text(texts(), AudioFormat.WAV)]
        assert decode(b"".join(c.audio for c in pieces))[1] > 1.0
        assert "piper-joe" in {m.name for m in await client.list_models()}
    async with SpeechClient(server.address, security=secure(certificate, "wrong")) as client:
        with pytest.raises(SpeechClientError) as caught:
            await client.synthesize("Hello.", AudioFormat.WAV)
        assert caught.value.code is grpc.StatusCode.UNAUTHENTICATED


async def test_the_worker_provider_with_and_without_the_token(
    server: Process, certificate: Certificate
) -> None:
    options = SpeechOptions(format=AudioFormat.WAV)
    good = ModelServerTTS(server.address, timeout=30, security=secure(certificate))
    bad = ModelServerTTS(server.address, timeout=30, security=secure(certificate, ""))
    try:
        speech = await good.synthesize("The worker speaks.", options)
        assert decode(speech.audio)[1] > 0.5

        async def reply() -> AsyncIterator[str]:  # a turn's reply, as it is written
            for piece in ("A reply ", "being written. ", "And spoken."):
                yield piece

        pieces = [piece async for piece in good.stream_text(reply(), options)]
        assert decode(b"".join(p.audio for p in pieces))[1] > 1.0
        assert [p.text for p in pieces if p.text] == ["A reply being written.", "And spoken."]
        assert (await good.readiness()).ready
        with pytest.raises(UpstreamFailed, match="UNAUTHENTICATED"):
            await bad.synthesize("The worker speaks.", options)
    finally:
        await asyncio.gather(good.close(), bad.close())


def test_say_takes_a_ca_file_and_a_token(
    server: Process, certificate: Certificate, tmp_path: Path
) -> None:
    out = tmp_path / "said.wav"
    command = [sys.executable, "-m", "voice_engine.cli", "say", "Said over TLS.", "-o", str(out)]
    command += ["--server", server.address, "--ca-file", str(certificate.cert_file)]
    env = {**os.environ, "VOICE_GRPC__TOKEN": TOKEN}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert decode(out.read_bytes())[1] > 0.5
    env["VOICE_GRPC__TOKEN"] = "wrong"
    refused = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert refused.returncode == 1 and "UNAUTHENTICATED" in refused.stderr


def test_a_worker_reaches_the_secured_fleet(
    server: Process,
    certificate: Certificate,
    tmp_path: Path,
    venice: tuple[FakeVenice, str],
) -> None:
    env = worker_env(
        venice[1],
        VOICE_TTS__MODEL_SERVERS=server.address,
        VOICE_GRPC__TOKEN=TOKEN,
        VOICE_GRPC__TLS_CA_FILE=str(certificate.cert_file),
    )
    with worker_process(tmp_path, server.address, env) as worker:
        base = f"http://{worker.address}"
        assert httpx.get(f"{base}/readyz", timeout=10).json()["tts"]["ready"]
        body = {
            "model": "tts-1",
            "voice": "alloy",
            "input": "Through the fleet.",
            "response_format": "wav",
        }
        reply = httpx.post(f"{base}/v1/audio/speech", json=body, timeout=60)
        assert reply.status_code == 200, reply.text
        assert decode(reply.content)[1] > 0.5
        assert TOKEN not in worker.log()
