"""The Kubernetes manifests against Kubernetes' own schemas (kubernetes-validate,
strict, its bundled schemas, offline); the Kustomization's files exist and list every
manifest; Prometheus scrapes both services where their metrics are; the Grafana
dashboard is valid JSON whose queries name metrics the services export."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from harness.processes import ROOT

K8S = ROOT / "deploy" / "k8s"
DASHBOARD = ROOT / "deploy" / "grafana" / "voice-engine.json"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_each_manifest_is_valid_kubernetes(path: Path) -> None:
    version = kubernetes_validate.latest_version()
    for doc in documents(path):
        kubernetes_validate.validate(doc, version, strict=True)  # raises on any error


def test_a_wrong_field_is_caught() -> None:
    (deployment,) = [d for d in documents(K8S / "worker.yaml") if d["kind"] == "Deployment"]
    deployment["spec"]["replica"] = 3  # a typo: strict mode refuses unknown fields
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_the_kustomization_lists_files_that_exist_and_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert all((K8S / name).is_file() for name in listed), listed
    assert sorted(listed) == sorted(p.name for p in MANIFESTS)


def test_prometheus_scrapes_each_service_on_its_metrics_port() -> None:
    """Every worker and model server Deployment: the worker's HTTP port, the model
    server's VOICE_METRICS_PORT."""
    expected = {"worker": 8001, "model-server": 9464}
    scraped = []
    for path in MANIFESTS:
        for doc in documents(path):
            if doc["kind"] != "Deployment":
                continue
            template = doc["spec"]["template"]
            (container,) = template["spec"]["containers"]
            if container["name"] not in expected:
                continue
            notes = template["metadata"].get("annotations", {})
            assert notes.get("prometheus.io/scrape") == "true", doc["metadata"]["name"]
            assert int(notes["prometheus.io/port"]) == expected[container["name"]]
            assert int(notes["prometheus.io/port"]) in {
                p["containerPort"] for p in container["ports"]
            }
            assert notes["prometheus.io/path"] == "/metrics"
            scraped.append(container["name"])
    assert sorted(set(scraped)) == ["model-server", "worker"]


def test_the_dashboard_shows_what_the_services_export() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    used = {name for expr in expressions for name in re.findall(r"\b(voice_[a-z_]+)", expr)}
    sources = "".join(
        (ROOT / f).read_text()
        for f in ("voice_worker/observability/metrics.py", "shared/cache/stats.py",
                  "model_server/metrics.py", "model_server/exposition.py")
    )  # fmt: skip
    exported = set(re.findall(r'"(voice_[a-z_]+)"', sources))
    for name in used:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert base in exported, name
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("stage", "cache hit", "error", "loaded", "queue"):
        assert topic in titles, topic
