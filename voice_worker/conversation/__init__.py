"""The voice chat flows: `engine` (speech in or text in, speech out, each turn stored
whole), `sessions` (create, read, change, delete), `protocol` (the HTTP bodies) and
the routers under /api/voice."""
