"""The project's Express bridge (deploy/bridge) as a subprocess in front of workers:
`install_bridge()` (its node_modules, with npm ci), `start_bridge(directory, workers)`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness.processes import ROOT, free_port
from harness.servers import wait_http

BRIDGE = ROOT / "deploy" / "bridge"


def install_bridge() -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed for the bridge (Node.js 18+)"
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=BRIDGE,
        check=True,
        timeout=300,
    )


def start_bridge(directory: Path, workers: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """The bridge on a free port over `workers` (URLs), answering /healthz; its URL."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "WORKER_URLS": ",".join(workers)}
    log = (directory / f"bridge-{port}.log").open("wb")
    popen = subprocess.Popen(["node", "server.js"], cwd=BRIDGE, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", process=popen)
    return popen, url
