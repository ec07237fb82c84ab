"""Tools the worker runs itself: MCP servers (streamable HTTP) configured for the whole
worker (`VOICE_TOOLS__*`), offered to every turn's chat model; the model's calls run
here and their outputs go back to it, a bounded number of rounds a turn.

`settings` the configuration, `mcp_server` one MCP server (its tool list cached, a call
with a timeout and a size limit), `toolbox` the servers together (a failed or slow tool
is an error output the model reads, never a failed turn), `loop` a turn's rounds."""
