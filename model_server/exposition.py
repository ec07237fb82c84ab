"""The model server's metrics, served over HTTP on their own port (VOICE_METRICS_PORT,
default 9464; 0 disables) in Prometheus' text format: the events of model_server.metrics
(and the process's memory and CPU) from the process-wide registry, and state read at
scrape time from the running synthesizer (`StateCollector`: requests in flight, queue
depth, each model loaded or not, its load time and memory) and from the GPU when CUDA
is in use (torch.cuda and NVML when present; absent, not zero, on a CPU). Only the
server's wiring (model_server.server) imports this module. No gRPC here."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from model_server.registry import State
from model_server.synthesizer import Synthesizer

log = logging.getLogger(__name__)


class StateCollector(Collector):
    """The synthesizer's state, read at each scrape."""

    def __init__(self, synthesizer: Synthesizer) -> None:
        self.synthesizer = synthesizer

    def collect(self) -> Iterable[Metric]:
        synth = self.synthesizer
        in_flight = GaugeMetricFamily(
            "voice_model_server_in_flight", "Synthesis requests admitted and not finished."
        )
        in_flight.add_metric([], synth.in_progress)
        limit = GaugeMetricFamily(
            "voice_model_server_max_in_flight", "Requests admitted at once (max_in_flight)."
        )
        limit.add_metric([], synth.max_in_flight)
        depth = GaugeMetricFamily(
            "voice_model_server_queue_depth",
            "Jobs waiting for a slot on a model (sentences and streams).",
            labels=["model"],
        )
        for model, runner in synth.runners().items():
            depth.add_metric([model], runner.queue_depth)
        yield from (in_flight, limit, depth, *_model_metrics(synth))
        yield from gpu_metrics()


def _model_metrics(synth: Synthesizer) -> Iterator[Metric]:
    loaded = GaugeMetricFamily(
        "voice_model_server_model_loaded",
        "1 while the model is resident, else 0.",
        labels=["model", "backend"],
    )
    load_seconds = GaugeMetricFamily(
        "voice_model_server_model_load_seconds",
        "How long the model's last load took.",
        labels=["model"],
    )
    memory = GaugeMetricFamily(
        "voice_model_server_model_memory_bytes",
        "Memory the loaded model holds (device memory for GPU models).",
        labels=["model"],
    )
    requests = GaugeMetricFamily(
        "voice_model_server_model_requests_in_flight",
        "Requests holding the model now.",
        labels=["model"],
    )
    for entry in synth.registry.entries():
        loaded.add_metric([entry.name, entry.backend_name], int(entry.state is State.LOADED))
        load_seconds.add_metric([entry.name], entry.load_seconds)
        memory.add_metric([entry.name], entry.memory_bytes)
        requests.add_metric([entry.name], entry.in_flight)
    yield from (loaded, load_seconds, memory, requests)


def gpu_metrics() -> Iterator[Metric]:
    """GPU memory (torch.cuda) and utilisation (NVML), only where CUDA is in use:
    torch is read only when a backend has already imported it, NVML only when
    nvidia-ml-py is installed; on a CPU these metrics are absent."""
    torch: Any = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return
    used = GaugeMetricFamily(
        "voice_model_server_gpu_memory_used_bytes",
        "GPU memory allocated by this process (torch.cuda.memory_allocated).",
        labels=["device"],
    )
    reserved = GaugeMetricFamily(
        "voice_model_server_gpu_memory_reserved_bytes",
        "GPU memory held by torch's caching allocator (torch.cuda.memory_reserved).",
        labels=["device"],
    )
    devices = range(torch.cuda.device_count())
    for index in devices:
        used.add_metric([str(index)], torch.cuda.memory_allocated(index))
        reserved.add_metric([str(index)], torch.cuda.memory_reserved(index))
    yield from (used, reserved)
    yield from _nvml_metrics(devices)


def _nvml_metrics(devices: Iterable[int]) -> Iterator[Metric]:
    try:
        import pynvml  # nvidia-ml-py, optional
    except ImportError:
        return
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver library: nothing to report
        return
    utilization = GaugeMetricFamily(
        "voice_model_server_gpu_utilization_ratio",
        "GPU busy fraction over NVML's last sample period (0 to 1).",
        labels=["device"],
    )
    total = GaugeMetricFamily(
        "voice_model_server_gpu_memory_total_bytes",
        "GPU memory on the device.",
        labels=["device"],
    )
    try:
        for index in devices:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
            utilization.add_metric([str(index)], rates.gpu / 100)
            total.add_metric([str(index)], pynvml.nvmlDeviceGetMemoryInfo(handle).total)
    except Exception:
        log.debug("NVML query failed", exc_info=True)
        return
    finally:
        pynvml.nvmlShutdown()
    yield from (utilization, total)


class _Global(Collector):
    """The process-wide registry (events, process memory and CPU), inside another."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


@dataclass
class MetricsServer:
    httpd: WSGIServer
    thread: threading.Thread
    port: int

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def serve_metrics(synthesizer: Synthesizer, host: str, port: int) -> MetricsServer | None:
    """The metrics on http://host:port/metrics in a thread; None when `port` is 0 or
    taken (logged: the server goes on serving speech without its metrics)."""
    if port == 0:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Global())
    registry.register(StateCollector(synthesizer))
    try:
        httpd, thread = start_http_server(port, host, registry)
    except OSError as exc:
        log.error("metrics port unavailable; serving without metrics", extra={"error": str(exc)})
        return None
    bound = int(httpd.server_address[1])
    log.info("metrics listening", extra={"host": host, "port": bound})
    return MetricsServer(httpd, thread, bound)
