"""Run every benchmark module in turn: `python -m bench [name ...]`."""

from __future__ import annotations

import importlib
import sys

#: module names under bench/, in the order `make bench` runs them
MODULES = ["model_server", "worker", "chat", "turns", "realtime"]


def main(names: list[str]) -> int:
    for name in names or MODULES:
        print(f"\n=== bench.{name} ===", flush=True)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
