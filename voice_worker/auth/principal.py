"""`Principal`: who a request is for, as the domain sees it (transport-free). Every
session has an owner; a principal sees a session when it owns it or is an admin."""

from __future__ import annotations

from dataclasses import dataclass, field

#: the owner of every session made without authentication (and of the rows that
#: existed before sessions had owners)
ANONYMOUS_USER = "anonymous"
#: the scope (or role) of a JWT that may see every user's sessions
ADMIN_SCOPE = "voice:admin"
MAX_USER_CHARS = 200


@dataclass(frozen=True)
class Principal:
    user: str
    admin: bool = False
    #: False for the anonymous caller of a `VOICE_AUTH__MODE=none` deployment (rate
    #: limits then count per client address rather than per user)
    authenticated: bool = True
    #: a client secret's session settings (a session object as `session.update` takes,
    #: JSON; empty: none), applied to the one realtime session the secret opens
    client_session: str = field(default="", compare=False, repr=False)

    def sees(self, owner: str) -> bool:
        return self.admin or owner == self.user

    @property
    def owner_filter(self) -> str | None:
        """The owner a listing is restricted to; None (every owner) for an admin."""
        return None if self.admin else self.user


ANONYMOUS = Principal(ANONYMOUS_USER, admin=False, authenticated=False)
