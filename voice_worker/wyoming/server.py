"""`WyomingServer`: listens on VOICE_WYOMING__URI, one `WyomingHandler` per connection,
over the speech parts it is given (voice_worker/wyoming_app.py builds them and runs
it until a signal); `announcement` announces it on the LAN when asked. It listens
with asyncio itself rather than the package's `AsyncServer` only to stop gracefully,
which that one does not: `drain` stops accepting, closes idle connections, lets
requests in progress finish (VOICE_WYOMING__SHUTDOWN_GRACE_SECONDS), then closes the
rest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

from voice_worker.wyoming.announce import announce, announced_host
from voice_worker.wyoming.handler import Services, WyomingHandler
from voice_worker.wyoming.settings import WyomingSettings

log = logging.getLogger(__name__)


def _remove_socket(path: str) -> None:
    """A Unix socket file left by an earlier run would fail the bind."""
    Path(path).unlink(missing_ok=True)


class WyomingServer:
    def __init__(self, uri: str, services: Services) -> None:
        self.uri = urlparse(uri)
        self.services = services
        self.handlers: dict[asyncio.Task[None], WyomingHandler] = {}
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        if self.uri.scheme == "unix":
            _remove_socket(self.uri.path)
            self.server = await asyncio.start_unix_server(self._serve, path=self.uri.path)
        else:
            self.server = await asyncio.start_server(self._serve, self.uri.hostname, self.uri.port)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = WyomingHandler(reader, writer, self.services)
        task = asyncio.current_task()
        assert task is not None
        self.handlers[task] = handler
        try:
            await handler.run()
        finally:
            self.handlers.pop(task, None)

    async def drain(self, grace: float) -> None:
        """Stop accepting; idle connections close now, busy ones once their request is
        answered or `grace` seconds have passed."""
        if self.server is not None:
            self.server.close()
        for handler in list(self.handlers.values()):
            handler.closing = True
            if handler.idle:
                await handler.stop()
        if self.handlers:
            log.info("waiting for requests in progress", extra={"connections": len(self.handlers)})
            await asyncio.wait(list(self.handlers), timeout=grace)
        for handler in list(self.handlers.values()):
            await handler.stop()
        if self.handlers:
            await asyncio.wait(list(self.handlers), timeout=2.0)
        if self.uri.scheme == "unix":
            _remove_socket(self.uri.path)


@contextlib.asynccontextmanager
async def announcement(settings: WyomingSettings, port: int) -> AsyncIterator[None]:
    uri = urlparse(settings.uri)
    if not settings.zeroconf:
        yield
        return
    if uri.scheme != "tcp":
        log.warning(
            "zeroconf announces TCP servers only; not announced", extra={"uri": settings.uri}
        )
        yield
        return
    try:
        host = announced_host(uri.hostname or "", settings.zeroconf_host)
    except OSError as exc:  # no route to the LAN
        log.error("no address to announce; serving unannounced", extra={"error": str(exc)})
        yield
        return
    async with announce(settings.zeroconf_name, host, port):
        yield
