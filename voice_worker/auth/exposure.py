"""The rule for running without authentication: `VOICE_AUTH__MODE=none` only on a
loopback address, unless VOICE_AUTH__ALLOW_ANONYMOUS says otherwise explicitly."""

from __future__ import annotations

import ipaddress

from voice_worker.auth.settings import AuthSettings


class ExposedWithoutAuth(RuntimeError):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: AuthSettings, host: str) -> None:
    if settings.mode != "none" or settings.allow_anonymous or is_loopback(host):
        return
    raise ExposedWithoutAuth(
        f"refusing to serve {host} without authentication (VOICE_AUTH__MODE=none): anyone "
        "who reaches it could read every session. Set VOICE_AUTH__MODE=api_key or jwt, "
        "bind 127.0.0.1, or set VOICE_AUTH__ALLOW_ANONYMOUS=true if that is really meant."
    )
