"""The deployment files agree with the code: every VOICE_* variable they set is a real
setting (pydantic-settings silently ignores unknown ones, so a typo would be lost), the
ports and probes line up, and the workers reach every model server group through the
headless Service (the commented GPU group included)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.processes import ROOT
from voice_engine.settings_doc import SETTINGS_CLASSES, _settings_class, rows
from voice_worker.tts.fleet.discovery import parse_target

DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))
SERVE_MODELS = ["voice-engine", "serve-models"]


def known_variables() -> set[str]:
    return {
        env for target in SETTINGS_CLASSES.values() for env, _, _ in rows(_settings_class(target))
    }


def documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def gpu_group() -> dict[str, Any]:
    """The commented GPU Deployment in model-server.yaml, uncommented."""
    text = (DEPLOY / "k8s" / "model-server.yaml").read_text()
    block = text.split("# --- gpu group ---\n")[1].split("# --- /gpu group ---")[0]
    doc: dict[str, Any] = yaml.safe_load(
        "\n".join(line.removeprefix("# ").removeprefix("#") for line in block.splitlines())
    )
    return doc


def deployments(with_gpu: bool = False) -> list[dict[str, Any]]:
    found = [doc for doc in documents() if doc.get("kind") == "Deployment"]
    return [*found, gpu_group()] if with_gpu else found


def containers(with_gpu: bool = False) -> list[dict[str, Any]]:
    return [c for d in deployments(with_gpu) for c in d["spec"]["template"]["spec"]["containers"]]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def model_server_deployments(with_gpu: bool = False) -> list[dict[str, Any]]:
    return [
        d
        for d in deployments(with_gpu)
        if d["spec"]["template"]["spec"]["containers"][0].get("command") == SERVE_MODELS
    ]


def test_every_voice_variable_in_the_manifests_and_dockerfile_is_a_setting() -> None:
    used = {
        e["name"]
        for c in containers(with_gpu=True)
        for e in c.get("env", [])
        if e["name"].startswith("VOICE_")
    }
    used |= set(re.findall(r"\b(VOICE_[A-Z0-9_]+)=", (DEPLOY / "Dockerfile").read_text()))
    assert used, "no VOICE_ variables found"
    assert not used - known_variables(), "unknown settings"


@pytest.mark.parametrize("name", ["model-server", "worker"])
def test_probes_and_ports_match_the_commands(name: str) -> None:
    found = [c for c in containers(with_gpu=True) if c["name"] == name]
    assert found
    for container in found:
        ports = {p["containerPort"] for p in container["ports"]}
        env = env_of(container)
        if name == "model-server":
            assert container["command"] == ["voice-engine", "serve-models"]
            assert {int(env["VOICE_PORT"]), int(env["VOICE_METRICS_PORT"])} == ports
            assert container["readinessProbe"]["grpc"]["port"] in ports
        else:
            assert container["command"] == ["voice-engine", "serve-worker"]
            assert {int(env["VOICE_HTTP_PORT"])} == ports
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_workers_reach_every_model_server_group_through_the_headless_service() -> None:
    (worker,) = [c for c in containers() if c["name"] == "worker"]
    target = parse_target(env_of(worker)["VOICE_TTS__MODEL_SERVERS"])
    (service,) = [
        d for d in documents() if d["kind"] == "Service" and d["metadata"]["name"] == target.host
    ]
    assert service["spec"]["clusterIP"] == "None"  # headless: one address per pod
    assert target.port in {p["port"] for p in service["spec"]["ports"]}
    groups = model_server_deployments(with_gpu=True)
    assert len(groups) >= 2  # the CPU group and the commented GPU group
    for deployment in groups:
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert int(env_of(container)["VOICE_PORT"]) == target.port


def test_the_gpu_group_asks_for_a_gpu_and_mounts_its_checkpoint() -> None:
    spec = gpu_group()["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    (mount,) = container["volumeMounts"]
    assert {v["name"] for v in spec["volumes"]} == {mount["name"]}
    models = json.loads(env_of(container)["VOICE_MODELS"])
    assert all(m["path"].startswith(mount["mountPath"] + "/") for m in models)
    assert {m["backend"] for m in models} == {"qwen3"}


def test_grace_period_outlasts_the_servers_own() -> None:
    for deployment in model_server_deployments(with_gpu=True):
        spec = deployment["spec"]["template"]["spec"]
        env = env_of(spec["containers"][0])
        assert spec["terminationGracePeriodSeconds"] > float(env["VOICE_SHUTDOWN_GRACE_SECONDS"])


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in MANIFESTS if p.name != "kustomization.yaml"}


def test_qwen_image_installs_the_same_qwen_tts_as_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (pin,) = re.findall(r"^QWEN_TTS\s*:=\s*(\S+)", makefile, re.MULTILINE)
    assert f"pip install --no-deps {pin}" in (DEPLOY / "Dockerfile").read_text()


def test_the_image_installs_the_same_smart_turn_wheel_as_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (version,) = re.findall(r"^PIPECAT_VERSION\s*:=\s*(\S+)", makefile, re.MULTILINE)
    install = re.search(r"pip install --no-deps [^&]*", (DEPLOY / "Dockerfile").read_text())
    assert install is not None and f"pipecat-ai=={version}" in install.group(0).split()


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for package in ("voice_engine", "model_server", "voice_worker", "shared", "proto"):
        assert f"COPY {package} {package}" in dockerfile
    assert Path(ROOT / "pyproject.toml").exists()
