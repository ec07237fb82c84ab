"""The wire contract between the engine's processes and their gRPC clients.

The bottom of the house: the generated stubs of `proto/voice_contract/v1/tts.proto`
(gRPC package `voice_engine.v1`, in `v1/`), what both ends agree on beyond the .proto
(`wire`: message size, audio format codes, channel options with the retry policy),
the rich error details a status carries (`errors`), the one builder of synthesis
requests (`requests`) and the asyncio client (`client`).
It imports nothing of the engine but `shared`; the model server, the voice worker and
the CLI import it (the rule is checked by `make lint`, see pyproject's importlinter).
"""
