"""What both services' Prometheus metrics share: the latency buckets, chosen for voice
(10 ms to 10 s: a first audio byte within a few hundred milliseconds is the target, a
long reply takes seconds), so that p50/p95/p99 read well from any histogram."""

from __future__ import annotations

LATENCY_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0,
)  # fmt: skip
