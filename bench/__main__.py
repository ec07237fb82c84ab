"""Run the benchmarks in turn: `python -m bench [name ...]` (all of them without names)."""

from __future__ import annotations

import importlib
import sys

#: module names under bench/, in the order `make bench` runs them
MODULES = [
    "model_server",
    "worker",
    "chat",
    "prompt_reuse",
    "stt_models",
    "turns",
    "tools",
    "realtime",
    "webrtc",
    "fleet",
    "load",
    "auth",
    "failover",
]
USAGE = f"usage: python -m bench [name ...]; names: {', '.join(MODULES)}"


def main(names: list[str]) -> int:
    if any(name in ("-h", "--help") for name in names):
        print(USAGE)
        return 0
    unknown = [name for name in names if name not in MODULES]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; {USAGE}", file=sys.stderr)
        return 2
    for name in names or MODULES:
        print(f"\n=== bench.{name} ===", flush=True)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
