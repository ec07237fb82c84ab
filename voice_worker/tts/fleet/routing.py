"""Which model server takes a request: a pure function of what the worker knows of
each server (no gRPC here; tests/fleet/test_routing.py).

- a server that is not serving (NOT_SERVING, draining, unreachable) takes nothing;
- servers with the model loaded (or loading, or just asked for it) come first, the
  fewest requests in flight first (ties: the one chosen longest ago);
- then servers that can load it, so a model no server holds is loaded on one server,
  not on every one;
- unless load demands more: when every holder has at least `spread_in_flight` requests
  in flight and a server that can load it has fewer, that server comes first (a second
  copy). 0 never spreads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerView:
    """One model server as the routing sees it."""

    address: str
    serving: bool
    models: frozenset[str]  # every model it can serve (configured there)
    loaded: frozenset[str]  # loaded, loading, or sent a request moments ago
    in_flight: int  # requests it is working on (every worker's), as best known
    last_chosen: int = 0  # when this worker last sent it a call (a counter; 0: never)


def _load(view: ServerView) -> tuple[int, int]:
    return view.in_flight, view.last_chosen


def rank(model: str, servers: Iterable[ServerView], spread_in_flight: int = 0) -> list[ServerView]:
    """The servers that may take a request for `model`, best first ([] when none)."""
    usable = [s for s in servers if s.serving and model in s.models]
    holders = sorted((s for s in usable if model in s.loaded), key=_load)
    loaders = sorted((s for s in usable if model not in s.loaded), key=_load)
    if (
        holders
        and loaders
        and spread_in_flight > 0
        and holders[0].in_flight >= spread_in_flight
        and loaders[0].in_flight < holders[0].in_flight
    ):
        return [loaders[0], *holders, *loaders[1:]]
    return holders + loaders


def default_model(defaults: Iterable[str]) -> str:
    """The fleet's default model: the one most servers call their default (ties: the
    first by name); "" when none is known."""
    counts = Counter(d for d in defaults if d)
    if not counts:
        return ""
    return min(counts, key=lambda name: (-counts[name], name))


def fleet_models(servers: Sequence[ServerView]) -> list[str]:
    """Every model some server can serve, by name."""
    return sorted({m for s in servers for m in s.models})
