"""The deployment files agree with the code: every VOICE_* variable they set is a real
setting (pydantic-settings silently ignores unknown ones, so a typo would be lost), and
the ports and probes line up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT
from voice_engine.settings_doc import SETTINGS_CLASSES, _settings_class, rows

DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def known_variables() -> set[str]:
    return {
        env for target in SETTINGS_CLASSES.values() for env, _, _ in rows(_settings_class(target))
    }


def containers() -> list[dict[str, Any]]:
    found = []
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Deployment":
                found += doc["spec"]["template"]["spec"]["containers"]
    return found


def test_every_voice_variable_in_the_manifests_and_dockerfile_is_a_setting() -> None:
    used = {
        e["name"] for c in containers() for e in c.get("env", []) if e["name"].startswith("VOICE_")
    }
    used |= set(re.findall(r"\b(VOICE_[A-Z0-9_]+)=", (DEPLOY / "Dockerfile").read_text()))
    assert used, "no VOICE_ variables found"
    assert not used - known_variables(), "unknown settings"


@pytest.mark.parametrize("name", ["model-server", "worker"])
def test_probes_and_ports_match_the_commands(name: str) -> None:
    (container,) = [c for c in containers() if c["name"] == name]
    ports = {p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    if name == "model-server":
        assert container["command"] == ["voice-engine", "serve-models"]
        assert {int(env["VOICE_PORT"]), int(env["VOICE_METRICS_PORT"])} == ports
        assert container["readinessProbe"]["grpc"]["port"] in ports
    else:
        assert container["command"] == ["voice-engine", "serve-worker"]
        assert {int(env["VOICE_HTTP_PORT"])} == ports
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert env["VOICE_TTS__MODEL_SERVER"] == "model-server:50051"


def test_grace_period_outlasts_the_servers_own() -> None:
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            if (
                doc
                and doc.get("metadata", {}).get("name") == "model-server"
                and doc["kind"] == "Deployment"
            ):
                spec = doc["spec"]["template"]["spec"]
                env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
                assert spec["terminationGracePeriodSeconds"] > float(
                    env["VOICE_SHUTDOWN_GRACE_SECONDS"]
                )


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in MANIFESTS if p.name != "kustomization.yaml"}


def test_qwen_image_installs_the_same_qwen_tts_as_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    (pin,) = re.findall(r"^QWEN_TTS\s*:=\s*(\S+)", makefile, re.MULTILINE)
    assert f"pip install --no-deps {pin}" in (DEPLOY / "Dockerfile").read_text()


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for package in ("voice_engine", "model_server", "voice_worker", "shared", "proto"):
        assert f"COPY {package} {package}" in dockerfile
    assert Path(ROOT / "pyproject.toml").exists()
