"""API keys: a user presents a key; the worker knows only its SHA-256 (VOICE_AUTH__API_KEYS
maps user id to it) and compares digests in constant time, against every entry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from voice_worker.auth.principal import Principal

PREFIX = "ve_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh key: 256 random bits, URL-safe."""
    return PREFIX + secrets.token_urlsafe(32)


class ApiKeys:
    def __init__(self, digests: Mapping[str, str], admins: frozenset[str] = frozenset()) -> None:
        self._entries = [(user, bytes.fromhex(digest)) for user, digest in digests.items()]
        self.admins = admins

    def verify(self, key: str) -> Principal | None:
        """The key's user, or None. Every entry is compared (no early exit), each in
        constant time, so the time taken says nothing about which digest came close."""
        presented = hashlib.sha256(key.encode()).digest()
        found: str | None = None
        for user, digest in self._entries:
            if hmac.compare_digest(presented, digest) and found is None:
                found = user
        if found is None:
            return None
        return Principal(found, admin=found in self.admins)
