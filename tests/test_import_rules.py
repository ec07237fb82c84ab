"""The import direction is a checked rule: `lint-imports` (run by `make lint`) keeps
the repository's contracts, and fails as soon as one is broken. The broken tree is a
copy of the wire contract with one module that imports the worker, put ahead of the
real one on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=extra_path or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_repository_keeps_its_import_contracts() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contract_importing_a_service_breaks_the_lint(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "voice_contract", tmp_path / "voice_contract")
    (tmp_path / "voice_contract" / "shortcut.py").write_text(
        "from voice_worker.errors import InvalidRequest\n"
    )
    for package in ("voice_engine", "voice_worker", "model_server", "shared"):
        (tmp_path / package).symlink_to(ROOT / package)
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "voice_contract.shortcut -> voice_worker.errors" in result.stdout
