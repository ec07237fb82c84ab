"""Voice Engine: the command line (`voice-engine`) and the generated gRPC stubs
(`voice_engine.v1`, from proto/voice_engine/v1/tts.proto)."""

__version__ = "0.1.0"
