"""The worker's OpenAPI document is exact: Schemathesis (every check it offers, its
own fixed seed, at most 85 s; tests/contract/schemathesis.toml) runs its examples,
coverage, fuzzing and stateful phases against a real worker (mock speech-to-text, the
fake chat model, the session's model server) and finds nothing. The hooks
(tests/contract/hooks.py) give it real audio where the document says `audio/*`, a
fresh Idempotency-Key per request, and drop (visibly: "dropped by filter_failure") the
"accepted negative data" of a multipart part whose mutation is wire-identical to a
valid value. The operations the document marks long get their own response-time
limit, from the document."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.fake_venice import FakeVenice, venice_env
from harness.processes import ROOT, Process
from harness.servers import ThreadServer, worker_process

HERE = Path(__file__).resolve().parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def worker_url(tmp_path_factory: pytest.TempPathFactory, model_server: Process) -> Iterator[str]:
    fake = FakeVenice()
    fake.scenario = "short"
    with ThreadServer(fake.app) as venice:
        env = {
            "VOICE_STT__PROVIDER": "mock",
            **venice_env(f"{venice.url}/api/v1"),
        }
        directory = tmp_path_factory.mktemp("contract-worker")
        with worker_process(directory, model_server.address, env) as worker:
            yield f"http://{worker.address}"


def config_with_long_operations(worker_url: str, path: Path) -> Path:
    """schemathesis.toml and, per operation the document marks long, its own limit."""
    document: dict[str, Any] = httpx.get(f"{worker_url}/openapi.json", timeout=30).json()
    lines = [(HERE / "schemathesis.toml").read_text()]
    for route, operations in document["paths"].items():
        for method, operation in operations.items():
            if "x-max-seconds" in operation:
                lines += [
                    "[[operations]]",
                    f'include-path = "{route}"',
                    f'include-method = "{method.upper()}"',
                    f"checks.max_response_time = {float(operation['x-max-seconds'])}",
                ]
    assert len(lines) > 4, "no operation is marked long"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_schemathesis_finds_no_mismatch(worker_url: str, tmp_path: Path) -> None:
    config = config_with_long_operations(worker_url, tmp_path / "schemathesis.toml")
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file"]
    command += [str(config), "run", f"{worker_url}/openapi.json"]
    command += ["--checks", "all", "--workers", "1", "--no-color"]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.contract.hooks",
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=150, check=False
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20_000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", report)
    assert counts and counts[1] == counts[2] and int(counts[1]) > 500, report[-5_000:]
    assert "Failures:" not in report
    assert "Seed: 2202" in report, report[-2_000:]
    print(report[report.rfind("SUMMARY") - 40 :])  # the summary, for the record (-s)


def test_the_document_declares_errors_content_types_and_allow(worker_url: str) -> None:
    document: dict[str, Any] = httpx.get(f"{worker_url}/openapi.json", timeout=30).json()
    paths = document["paths"]
    speech = paths["/v1/audio/speech"]["post"]["responses"]
    assert {"audio/mpeg", "audio/wav", "audio/ogg", "text/event-stream"} <= set(
        speech["200"]["content"]
    )
    assert speech["503"]["headers"]["Retry-After"]["required"] is True
    turn = paths["/api/voice/sessions/{session_id}/text"]["post"]
    assert {"200", "400", "404", "409", "422", "502", "503", "504"} <= set(turn["responses"])
    error = turn["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/ErrorBody")
    assert any(p["name"] == "Idempotency-Key" for p in turn["parameters"])
    schemas = document["components"]["schemas"]
    assert schemas["SessionSettings"]["properties"]["voice"]["enum"][0] == ""
    assert "joe" in schemas["SessionSettings"]["properties"]["voice"]["enum"]
    upload = paths["/v1/audio/transcriptions"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["encoding"]["file"]["contentType"] == "audio/*"
    # what the server refuses, the document says
    file = upload["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert schemas[file]["properties"]["file"]["minLength"] == 1
    reuse = turn["responses"]["422"]
    assert reuse["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "HTTPValidationError" not in schemas
    assert "pattern" in schemas["TTSRequest"]["properties"]["text"]
    assert turn["x-max-seconds"] > 10 and "long operation" in turn["description"]
    refused = httpx.put(f"{worker_url}/api/voice/sessions/some-id", timeout=30)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "DELETE, GET, PATCH"
    assert refused.json()["error"]["type"] == "invalid_request_error"
