"""The model server's event metrics: Prometheus counters and histograms, recorded
where things happen (admission in the synthesizer, batch sizes in the runners,
evictions in the registry, time to first audio and audio produced per request; gRPC
calls by model_server.interceptor). A leaf: it imports nothing of the model server,
so every module may import it. What is read at scrape time (the synthesizer's state,
the GPU) and the HTTP port they are served on are model_server.exposition's. Labels
are bounded: a model is one the configuration names, a method one the server serves.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.metrics import LATENCY_BUCKETS

GRPC_REQUESTS = Counter(
    "voice_model_server_grpc_requests",
    "gRPC calls finished, by method and status code.",
    ["method", "code"],
)
GRPC_DURATION = Histogram(
    "voice_model_server_grpc_request_duration_seconds",
    "gRPC call latency, to the end of its last message.",
    ["method"],
    buckets=LATENCY_BUCKETS,
)
ADMITTED = Counter("voice_model_server_admitted", "Synthesis requests admitted.")
REJECTED = Counter(
    "voice_model_server_rejected",
    "Synthesis requests refused with RESOURCE_EXHAUSTED (max_in_flight reached).",
)
BATCH_SIZE = Histogram(
    "voice_model_server_batch_size",
    "Jobs per backend call formed by the dynamic batcher, by model and kind (unary "
    "sentences, or streams).",
    ["model", "kind"],
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
)
FIRST_AUDIO = Histogram(
    "voice_model_server_time_to_first_audio_seconds",
    "Seconds to the first audio of a request (unary: the whole file; a text stream: "
    "from its first complete sentence), by model and kind.",
    ["model", "kind"],
    buckets=LATENCY_BUCKETS,
)
AUDIO_SECONDS = Counter(
    "voice_model_server_audio_seconds",
    "Seconds of audio synthesized, by model.",
    ["model"],
)
EVICTIONS = Counter(
    "voice_model_server_model_evictions",
    "Models unloaded to make room (reason=lru: count or memory budget) or idle past "
    "the keep-alive (reason=idle).",
    ["model", "reason"],
)
