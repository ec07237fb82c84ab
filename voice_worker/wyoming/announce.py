"""The optional zeroconf announcement (VOICE_WYOMING__ZEROCONF, off by default):
`_wyoming._tcp.local.` with the server's address and port, as the wyoming servers
announce themselves to Home Assistant, withdrawn at shutdown. Needs the `zeroconf`
package (`pip install 'voice-engine[zeroconf]'`)."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def lan_address() -> str:
    """The local address that routes to the multicast group (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((_MDNS_GROUP, 5353))
        return str(probe.getsockname()[0])


def announced_host(bound: str, configured: str) -> str:
    """`configured`, else the bound address unless it is a wildcard, else the LAN's."""
    if configured:
        return configured
    with contextlib.suppress(ValueError):
        if not ipaddress.ip_address(bound).is_unspecified:
            return bound
    return lan_address()


@contextlib.asynccontextmanager
async def announce(name: str, host: str, port: int) -> AsyncIterator[None]:
    try:
        from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
    except ImportError:
        raise RuntimeError(
            "VOICE_WYOMING__ZEROCONF needs the zeroconf package: "
            "pip install 'voice-engine[zeroconf]'"
        ) from None
    address = ipaddress.ip_address(host)
    if address.is_loopback:
        log.warning(
            "announcing a loopback address: other machines cannot reach it "
            "(listen on tcp://0.0.0.0:PORT or set VOICE_WYOMING__ZEROCONF_HOST)",
            extra={"host": host},
        )
    info = AsyncServiceInfo(
        SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", addresses=[address.packed], port=port
    )
    zeroconf = AsyncZeroconf()
    registered = False
    try:
        try:
            await zeroconf.async_register_service(info)
            registered = True
            log.info(
                "zeroconf announcement", extra={"service": info.name, "host": host, "port": port}
            )
        except Exception as exc:  # e.g. the name is taken: serve, unannounced
            log.error(
                "zeroconf announcement failed; serving unannounced", extra={"error": repr(exc)}
            )
        yield
        if registered:
            await zeroconf.async_unregister_service(info)
    finally:
        await zeroconf.async_close()
