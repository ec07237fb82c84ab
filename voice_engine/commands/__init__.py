"""One module per `voice-engine` subcommand, each with `NAME`, `HELP`,
`add_arguments(parser)` and `run(args) -> int`. Add a module here and to `COMMANDS`."""

COMMANDS = [
    "voice_engine.commands.serve_models",
    "voice_engine.commands.say",
    "voice_engine.commands.serve_worker",
    "voice_engine.commands.serve_wyoming",
    "voice_engine.commands.up",
    "voice_engine.commands.chat",
    "voice_engine.commands.keys",
]
