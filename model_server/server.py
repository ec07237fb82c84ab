"""The model server process: grpc.aio server with the TextToSpeech service, the
standard health service (overall and per service) and reflection; graceful shutdown.

Metrics: Prometheus' text format on their own HTTP port (model_server.exposition), gRPC
calls counted by an interceptor (model_server.interceptor).

Shutdown on SIGTERM/SIGINT: health turns NOT_SERVING (watchers and load balancers see
it), new calls are refused, in-flight calls get `shutdown_grace_seconds` to finish,
then the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from model_server.auth import TokenInterceptor
from model_server.backends import build_backends
from model_server.exposition import MetricsServer, serve_metrics
from model_server.interceptor import MetricsInterceptor
from model_server.registry import ModelRegistry
from model_server.servicer import TextToSpeechServicer, register
from model_server.settings import GrpcSecuritySettings, Settings
from model_server.synthesizer import Synthesizer
from voice_contract.wire import SERVICE_NAME, server_options

log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    server: grpc.aio.Server
    synthesizer: Synthesizer
    health: health_aio.HealthServicer
    port: int
    metrics: MetricsServer | None = None

    async def stop(self, grace: float) -> None:
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        log.info("shutting down", extra={"grace_seconds": grace})
        await self.server.stop(grace)
        await self.synthesizer.close()
        if self.metrics is not None:
            await asyncio.to_thread(self.metrics.stop)
        log.info("stopped")


def build_synthesizer(settings: Settings) -> Synthesizer:
    registry = ModelRegistry(
        build_backends(settings),
        max_loaded=settings.registry.max_loaded_models,
        memory_budget_bytes=settings.registry.memory_budget_mb * 2**20,
        keep_alive_seconds=settings.registry.keep_alive_seconds,
    )
    registry.entry(settings.default_model)  # fail fast on a default that does not exist
    return Synthesizer(
        registry,
        default_model=settings.default_model,
        max_text_chars=settings.max_text_chars,
        max_in_flight=settings.max_in_flight,
        batch_window_s=settings.batching.window_ms / 1000,
        max_batch_size=settings.batching.max_batch_size,
        bit_rates=settings.audio.bit_rates(),
    )


def bind(server: grpc.aio.Server, address: str, security: GrpcSecuritySettings) -> int:
    """Listen on `address`, with TLS when a certificate is configured; the port."""
    if security.tls_cert_file is None or security.tls_key_file is None:
        return server.add_insecure_port(address)
    pair = (security.tls_key_file.read_bytes(), security.tls_cert_file.read_bytes())
    return server.add_secure_port(address, grpc.ssl_server_credentials([pair]))


async def start(settings: Settings) -> RunningServer:
    """Build everything, preload, bind, and report SERVING."""
    synthesizer = build_synthesizer(settings)
    token = settings.grpc.token.get_secret_value()
    interceptors: list[grpc.aio.ServerInterceptor[Any, Any]] = [MetricsInterceptor()]
    if token:
        interceptors.append(TokenInterceptor(token))
    server = grpc.aio.server(options=server_options(), interceptors=interceptors)
    register(TextToSpeechServicer(synthesizer), server)
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    port = bind(server, f"{settings.host}:{settings.port}", settings.grpc)
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    await server.start()
    synthesizer.registry.start()
    for model in settings.registry.preload:
        await synthesizer.registry.load(model)
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "model server listening",
        extra={
            "host": settings.host,
            "port": port,
            "tls": settings.grpc.tls_cert_file is not None,
            "token_required": bool(token),
        },
    )
    metrics = serve_metrics(synthesizer, settings.host, settings.metrics_port)
    return RunningServer(server, synthesizer, health_servicer, port, metrics)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    running = await start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await running.stop(settings.shutdown_grace_seconds)
