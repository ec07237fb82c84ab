"""The model server as a user runs it: a subprocess on a real port."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from harness.processes import ROOT, Process, decode, model_server_process
from model_server.backends.piper import bundled_voice_path
from voice_contract.v1 import tts_pb2 as pb
from voice_contract.v1 import tts_pb2_grpc
from voice_contract.wire import channel_options

LONG = " ".join(f"Sentence {i} keeps the server busy for a moment." for i in range(25))


def test_health_overall_and_per_service_and_reflection(model_server: Process) -> None:
    with grpc.insecure_channel(model_server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "voice_engine.v1.TextToSpeech"):
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as caught:
            health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=5)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        reply = next(reflection.ServerReflectionInfo(iter([request]), timeout=5))
        names = {s.name for s in reply.list_services_response.service}
        assert {"voice_engine.v1.TextToSpeech", "grpc.health.v1.Health"} <= names


def test_logs_are_json_lines_with_load_time_and_memory(model_server: Process) -> None:
    import json

    lines = [json.loads(line) for line in model_server.log().splitlines() if line.startswith("{")]
    loaded = next(e for e in lines if e["msg"] == "model loaded")
    assert (
        loaded["model"] == "piper-joe" and loaded["load_seconds"] > 0 and loaded["memory_mb"] > 50
    )


def test_sigterm_finishes_calls_in_flight_refuses_new_ones_and_exits(tmp_path: Path) -> None:
    with model_server_process(tmp_path, env={"VOICE_SHUTDOWN_GRACE_SECONDS": "30"}) as server:
        channel = grpc.insecure_channel(server.address, options=channel_options())
        stub = tts_pb2_grpc.TextToSpeechStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=60)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        result: dict[str, object] = {}

        def long_call() -> None:
            result["reply"] = stub.Synthesize(pb.SynthesizeRequest(text=LONG), timeout=60)

        worker = threading.Thread(target=long_call)
        worker.start()
        time.sleep(0.5)  # the call is in flight
        server.popen.send_signal(signal.SIGTERM)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        time.sleep(0.2)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Synthesize(pb.SynthesizeRequest(text="Too late."), timeout=5)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        worker.join(60)
        reply = result["reply"]
        assert isinstance(reply, pb.SynthesizeResponse)
        assert decode(reply.audio)[1] == pytest.approx(reply.duration_seconds, abs=0.03)
        assert reply.duration_seconds > 30  # all 25 sentences, not a truncated reply
        assert server.popen.wait(timeout=30) == 0
        channel.close()
        assert '"msg": "stopped"' in server.log()


def test_voices_dir_adds_models_and_say_cli_writes_audio(tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    voices.mkdir()
    for suffix in (".onnx", ".onnx.json"):
        shutil.copy(
            f"{bundled_voice_path()}{suffix.removeprefix('.onnx')}",
            voices / f"en_US-copy-medium{suffix}",
        )
    env = {"VOICE_PIPER__VOICES_DIR": str(voices), "VOICE_REGISTRY__PRELOAD": "[]"}
    with model_server_process(tmp_path, env=env) as server:
        out = tmp_path / "hello.mp3"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "voice_engine.cli",
                "say",
                "Hello from the other voice.",
                "-o",
                str(out),
                "--model",
                "piper-en_US-copy-medium",
                "--server",
                server.address,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "model piper-en_US-copy-medium" in done.stdout
        rate, duration, _ = decode(out.read_bytes())
        assert rate == 22_050 and duration > 1.0
        failed = subprocess.run(
            [
                sys.executable,
                "-m",
                "voice_engine.cli",
                "say",
                "x",
                "-o",
                str(tmp_path / "x.wav"),
                "--voice",
                "nobody",
                "--server",
                server.address,
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert failed.returncode == 1
        assert "NOT_FOUND: unknown voice 'nobody'" in failed.stderr


def test_say_stdin_speaks_each_sentence_as_it_is_typed(
    model_server: Process, tmp_path: Path
) -> None:
    """The first line is spoken (its sentence printed) before the second is typed."""
    out = tmp_path / "typed.wav"
    command = [sys.executable, "-m", "voice_engine.cli", "say", "--stdin", "-o", str(out)]
    say = subprocess.Popen(
        [*command, "--server", model_server.address],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert say.stdin is not None and say.stderr is not None
    try:
        say.stdin.write("The first line is typed. And the sec")
        say.stdin.write("ond half\n")
        say.stdin.flush()
        assert say.stderr.readline().strip() == "The first line is typed."
        say.stdin.write(" arrives later.\n")
        say.stdin.close()
        assert say.wait(timeout=60) == 0
        rest = say.stderr.read()
    finally:
        if say.poll() is None:
            say.kill()
    assert "And the second half arrives later." in rest
    assert "spoke 2 sentences" in rest
    rate, duration, channels = decode(out.read_bytes())
    assert (rate, channels) == (22_050, 1) and duration > 2.0
