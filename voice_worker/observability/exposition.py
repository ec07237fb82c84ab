"""`/metrics` in Prometheus' text format, right with one worker process or many.

With PROMETHEUS_MULTIPROC_DIR set (serve-worker sets it for its processes; see
voice_engine.commands.serve_worker), every process writes its values to files there
and a scrape, whichever process answers it, reads them all (prometheus-client's
multiprocess mode). Before reading, the files of the live-gauges of processes that
are gone (a worker restarted by its supervisor) are removed, so that `livesum` and
`liveall` gauges count live processes only. Without it (one process, e.g. an app in
a test), the default registry is read."""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST  # text/plain; version=0.0.4; charset=utf-8
_LIVE_FILE = re.compile(r"gauge_live(?:sum|all|max|min|mostrecent)_(\d+)\.db$")


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def render() -> bytes:
    """The metrics of every worker process, as one text exposition."""
    # imported here: prepare_directory runs before any metric exists (a metric without
    # labels opens its file when it is defined; emptying the directory after would
    # leave it writing to a deleted file)
    from voice_worker.observability.metrics import sample_memory

    sample_memory(force=True)
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY)
    forget_dead_processes(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def forget_dead_processes(directory: Path) -> list[int]:
    """Remove the live-gauge files of processes that no longer run; their pids."""
    dead = set()
    for path in directory.glob("gauge_live*_*.db"):
        match = _LIVE_FILE.search(path.name)
        if match and not _alive(int(match.group(1))):
            dead.add(int(match.group(1)))
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
    return sorted(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_directory(directory: Path) -> None:
    """Create the directory, emptied of a previous run's files (at start-up, before
    any worker process writes there: stale counters would otherwise be added in)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        path.unlink(missing_ok=True)
