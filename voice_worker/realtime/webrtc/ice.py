"""ICE for the worker's calls: host candidates on the addresses the settings name (by
default every interface's, loopback included: aioice leaves 127.0.0.1 out, and a client
on the same machine then has no candidate to reach), and STUN/TURN only when listed.

aioice reads its host addresses from one module function, so `install` replaces it
with one that answers from the settings (once per process; the last settings win)."""

from __future__ import annotations

import re

import aioice.ice
import ifaddr
from aiortc import RTCConfiguration, RTCIceServer

from voice_worker.errors import InvalidRequest
from voice_worker.realtime.settings import RealtimeSettings

_addresses: list[str] = []
_TURN = re.compile(r"^(turns?):(?:([^:@]+):([^@]+)@)?(.+)$")


def interface_addresses() -> list[str]:
    """Every interface's IPv4 address, loopback included."""
    found = [ip.ip for a in ifaddr.get_adapters() for ip in a.ips if isinstance(ip.ip, str)]
    return sorted(set(found), key=lambda a: (a == "127.0.0.1", a))


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return list(_addresses) or interface_addresses()


def install(settings: RealtimeSettings) -> None:
    global _addresses
    _addresses = list(settings.webrtc_addresses)
    aioice.ice.get_host_addresses = _host_addresses


def configuration(settings: RealtimeSettings) -> RTCConfiguration:
    """The peer connection's servers: exactly those configured (aiortc's default is
    Google's STUN server; here none unless listed)."""
    servers: list[RTCIceServer] = []
    for url in settings.webrtc_ice_servers:
        turn = _TURN.match(url)
        if turn and turn.group(2):
            scheme, user, password, rest = turn.groups()
            servers.append(RTCIceServer(f"{scheme}:{rest}", username=user, credential=password))
        elif url.startswith(("stun:", "turn:", "turns:")):
            servers.append(RTCIceServer(url))
        else:
            raise InvalidRequest(f"not a STUN or TURN URL: {url!r}", param="webrtc_ice_servers")
    return RTCConfiguration(iceServers=servers)
