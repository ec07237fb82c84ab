"""The import direction is a checked rule: `lint-imports` (run by `make lint`) keeps
the repository's contracts, and fails as soon as one is broken. Each broken tree is
the repository with one package copied and one module added to it (the wire contract
importing the worker, a worker leaf importing a feature, a part no layer names, a cycle
in the model server, a benchmark importing a test), put ahead of the real one on the
path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.processes import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
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


ENGINE = ["voice_engine", "voice_worker", "model_server", "voice_contract", "shared"]
PACKAGES = [*ENGINE, "harness", "bench", "tests"]


def broken_tree(tmp_path: Path, package: str, module: str, source: str) -> Path:
    """The repository with `package` copied and `module` (a path in it) added."""
    for name in PACKAGES:
        if name == package:
            shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("*.pyc"))
        else:
            (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / package / module).write_text(source)
    return tmp_path


def test_the_contract_importing_a_service_breaks_the_lint(tmp_path: Path) -> None:
    tree = broken_tree(
        tmp_path,
        "voice_contract",
        "shortcut.py",
        "from voice_worker.errors import InvalidRequest\n",
    )
    result = lint_imports(tree)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert "voice_contract.shortcut -> voice_worker.errors" in result.stdout


def test_a_worker_leaf_importing_a_feature_breaks_the_layers(tmp_path: Path) -> None:
    source = "from voice_worker.conversation.engine import VoiceChatEngine\n"
    result = lint_imports(broken_tree(tmp_path, "voice_worker", "http/shortcut.py", source))
    assert result.returncode != 0
    assert "Worker: the layers inside it" in result.stdout
    assert "voice_worker.http.shortcut -> voice_worker.conversation.engine" in result.stdout


def test_a_worker_part_no_layer_names_breaks_the_layers(tmp_path: Path) -> None:
    result = lint_imports(broken_tree(tmp_path, "voice_worker", "newcomer.py", '"""unplaced"""\n'))
    assert result.returncode != 0
    assert "voice_worker.newcomer" in result.stdout


def test_an_import_cycle_in_the_model_server_breaks_the_lint(tmp_path: Path) -> None:
    # the server imports the backends; a backend importing the server closes a cycle
    source = "from model_server import server\n"
    result = lint_imports(broken_tree(tmp_path, "model_server", "backends/loop.py", source))
    assert result.returncode != 0
    assert "No cycles are allowed in model_server" in result.stdout


def test_the_benchmarks_importing_a_test_breaks_the_lint(tmp_path: Path) -> None:
    source = "from tests.conftest import pytest_configure\n"
    result = lint_imports(broken_tree(tmp_path, "bench", "shortcut.py", source))
    assert result.returncode != 0
    assert "bench.shortcut -> tests.conftest" in result.stdout
