"""Where the model servers are.

`VOICE_TTS__MODEL_SERVERS` lists targets. A target is `HOST:PORT`, optionally written
the gRPC way (`dns:///HOST:PORT`). An IP address is one server; a name is resolved to
every address it has, each a server on that port: a Kubernetes headless Service
answers with one address per ready pod. Names are resolved again every
`resolve_seconds`, so servers that come and go are followed; a name that fails to
resolve keeps its last addresses (a DNS hiccup must not empty the fleet).

The resolver is a parameter (`Resolver`: host, port -> IP addresses); the default asks
the system (getaddrinfo, /etc/hosts included)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEFAULT_PORT = 50051
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


@dataclass(frozen=True)
class Target:
    host: str
    port: int

    @property
    def is_address(self) -> bool:
        """An IP address (one server), not a name to resolve."""
        return _is_ip(self.host)


def parse_target(text: str) -> Target:
    """`host:port`, `dns:///host:port`, `[v6]:port` (port defaults to 50051);
    ValueError for anything else."""
    entry = text.strip()
    for prefix in ("dns:///", "dns:"):
        if entry.startswith(prefix):
            entry = entry[len(prefix) :]
            break
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
    else:
        host, port_text = entry, ""
    if not host or "/" in host or (":" in host and not _is_ip(host)):
        raise ValueError(f"not a model server address: {text!r} (expected HOST:PORT)")
    try:
        port = int(port_text) if port_text else DEFAULT_PORT
    except ValueError:
        raise ValueError(f"not a port in {text!r}: {port_text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return Target(host, port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def address(host: str, port: int) -> str:
    """The gRPC target of one server (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def system_resolver(host: str, port: int) -> list[str]:
    """Every IP address of `host`, from the system resolver."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class Discovery:
    """The current set of server addresses for a list of targets."""

    def __init__(self, targets: Sequence[str], resolver: Resolver = system_resolver) -> None:
        self.targets = [parse_target(t) for t in targets]
        if not self.targets:
            raise ValueError("no model server targets")
        self.resolver = resolver
        self._last: dict[Target, frozenset[str]] = {}

    @property
    def resolves_names(self) -> bool:
        return any(not t.is_address for t in self.targets)

    async def addresses(self) -> set[str]:
        """Every server address now (names resolved again)."""
        found: set[str] = set()
        for target in self.targets:
            if target.is_address:
                found.add(address(target.host, target.port))
                continue
            try:
                hosts = frozenset(await self.resolver(target.host, target.port))
            except (OSError, ValueError) as exc:
                hosts = self._last.get(target, frozenset())
                log.warning(
                    "model server name did not resolve",
                    extra={"host": target.host, "error": str(exc), "kept": len(hosts)},
                )
            self._last[target] = hosts
            found |= {address(h, target.port) for h in hosts}
        return found
