"""Per-cache counters: hits, misses, errors (shown by the worker's /readyz and
/debug/counters). A cache given a `metric` name also counts its lookups and errors in
Prometheus (`voice_cache_lookups_total{cache,result}`, `voice_cache_errors_total
{cache}`): only the outermost cache of a stack does, so a lookup is counted once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from prometheus_client import Counter

LOOKUPS = Counter(
    "voice_cache_lookups",
    "Cache lookups by cache (audio, chat_reply) and result (hit, miss).",
    ["cache", "result"],
)
ERRORS = Counter(
    "voice_cache_errors",
    "Cache backend failures (Redis down or slow; the in-memory fallback answered).",
    ["cache"],
)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0
    sets: int = 0
    metric: str = field(default="", compare=False)  # the cache's name in Prometheus

    def hit(self) -> None:
        self.hits += 1
        if self.metric:
            LOOKUPS.labels(self.metric, "hit").inc()

    def miss(self) -> None:
        self.misses += 1
        if self.metric:
            LOOKUPS.labels(self.metric, "miss").inc()

    def error(self) -> None:
        self.errors += 1
        if self.metric:
            ERRORS.labels(self.metric).inc()

    def as_dict(self) -> dict[str, int]:
        counts = asdict(self)
        del counts["metric"]
        return counts
