"""What authentication and shared rate limits cost a request: cached
`POST /v1/audio/speech` (the cheapest route, so the overhead shows) on 2 worker
processes, the load generator on the same cores, in three set-ups run one after the
other on the same machine:

- `none`: the embedded default (no authentication, no limits);
- `api_key`: an API key (SHA-256, constant-time compare) and rate limits counted in
  this process's memory (requests per minute and characters per minute);
- `jwt+redis`: an HS256 JWT (PyJWT) and rate limits in Redis (a throwaway
  redis-server), as several workers share them: a moving-window hit and its window
  stats for the request, and a sliding-window charge for the characters.

The limits are set high enough never to refuse: this measures their bookkeeping."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt

from bench.http_load import http_load
from bench.report import print_table, write_result
from bench.worker import start_workers, stop
from harness.processes import free_port, model_server_process
from harness.servers import RedisServer
from voice_worker.auth.api_keys import hash_key, new_key

SECRET = "bench-secret-of-at-least-thirty-two-bytes"
HIGH = str(10**9)
LIMITS = {
    "VOICE_RATE_LIMIT__ENABLED": "true",
    "VOICE_RATE_LIMIT__REQUESTS__SPEECH": HIGH,
    "VOICE_RATE_LIMIT__CHARACTERS_PER_MINUTE": HIGH,
}


def token() -> str:
    now = int(time.time())
    claims = {"sub": "bench", "iat": now, "nbf": now, "exp": now + 3600}
    return jwt.encode(claims, SECRET, "HS256")


def setups(redis_url: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    key = new_key()
    return [
        ("none", {}, {}),
        (
            "api_key",
            {
                "VOICE_AUTH__MODE": "api_key",
                "VOICE_AUTH__API_KEYS": json.dumps({"bench": hash_key(key)}),
                **LIMITS,
            },
            {"Authorization": f"Bearer {key}"},
        ),
        (
            "jwt+redis",
            {
                "VOICE_AUTH__MODE": "jwt",
                "VOICE_AUTH__JWT_SECRET": SECRET,
                "VOICE_RATE_LIMIT__STORAGE": "redis",
                "VOICE_RATE_LIMIT__REDIS_URL": redis_url,
                **LIMITS,
            },
            {"Authorization": f"Bearer {token()}"},
        ),
    ]


def measure(tmp: Path, model_server: str, redis_url: str) -> list[dict[str, Any]]:
    rows = []
    for name, env, headers in setups(redis_url):
        port = free_port()
        workers = start_workers(port, model_server, tmp / f"worker-{name}.log", env)
        try:
            load = asyncio.run(http_load(port, headers))
        finally:
            stop(workers)
        rows.append({"setup": name, **load})
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        redis = RedisServer(free_port(), tmp)
        redis.start()
        try:
            with model_server_process(tmp) as server:
                rows = measure(tmp, server.address, redis.url)
        finally:
            redis.stop()
    base = rows[0]
    for row in rows:
        row["p50_overhead_ms"] = row["single_p50_ms"] - base["single_p50_ms"]
    print_table("cached POST /v1/audio/speech, 2 worker processes", rows)
    write_result("auth", {"rows": rows})


if __name__ == "__main__":
    main()
