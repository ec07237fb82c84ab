"""`voice-engine`: run the services and talk to them. `voice-engine --help` lists the
subcommands; each lives in `voice_engine/commands/`."""

from __future__ import annotations

import argparse
import importlib

from voice_engine.commands import COMMANDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="voice-engine", description="Self-hostable voice chat engine."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    runners = {}
    for module_name in COMMANDS:
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.__doc__)
        module.add_arguments(sub)
        runners[module.NAME] = module.run
    args = parser.parse_args(argv)
    return int(runners[args.command](args))


if __name__ == "__main__":
    raise SystemExit(main())
