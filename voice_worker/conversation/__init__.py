"""The voice chat flows: `engine` (speech in or text in, speech out, each turn stored
whole), `sessions` (create, read, change, delete), `protocol` (the HTTP bodies) and
the routers under /api/voice.

Its layers, top to bottom; a module uses only those below it (no import cycle, type-only
imports included):

    router, sessions_router  the HTTP routes under /api/voice
    sse, protocol            a turn as Server-Sent Events; the HTTP bodies
    engine                   VoiceChatEngine: a turn begun, run and stored
    turn_begin, turn_store   beginning a turn; storing it (or what of it was heard)
    reply, replay            collecting the reply; a stored turn told again
    events, sessions         what a turn reports; the session operations
    turn                     Turn, TurnResult, TurnOptions, Heard; guarded provider calls
    the leaves               idempotency (generic key leasing), prompt, turn_lock,
                             pipeline, reply_stream, adapters, heard
"""
