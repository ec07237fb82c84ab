"""What both ends of `voice_engine.v1.TextToSpeech` agree on beyond the .proto file:
the service name, the largest message, the audio format codes, and the client
channel's options, its retry policy included."""

from __future__ import annotations

import json

from shared.audio.formats import AudioFormat
from voice_contract.v1 import tts_pb2 as pb

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["TextToSpeech"].full_name
#: a 4096-character WAV reply is ~10 MB; gRPC's default limit is 4 MB
MAX_MESSAGE_BYTES = 64 * 2**20
#: the `domain` of every ErrorInfo the server attaches (see voice_contract.errors)
ERROR_DOMAIN = "voice-engine"

PB_FORMATS: dict[AudioFormat, pb.AudioFormat] = {
    AudioFormat.WAV: pb.AUDIO_FORMAT_WAV,
    AudioFormat.PCM: pb.AUDIO_FORMAT_PCM,
    AudioFormat.MP3: pb.AUDIO_FORMAT_MP3,
    AudioFormat.OPUS: pb.AUDIO_FORMAT_OPUS,
    AudioFormat.FLAC: pb.AUDIO_FORMAT_FLAC,
}
_FORMATS_BY_CODE: dict[int, AudioFormat] = {code: fmt for fmt, code in PB_FORMATS.items()}


def format_from_pb(code: int) -> AudioFormat:
    """The format of a wire code (UNSPECIFIED is WAV); ValueError for an unknown one."""
    if code == pb.AUDIO_FORMAT_UNSPECIFIED:
        return AudioFormat.WAV
    try:
        return _FORMATS_BY_CODE[code]
    except KeyError:
        raise ValueError(f"unknown audio format code {code}") from None


#: gRPC retries attempts at most this many times in all (its own cap)
MAX_ATTEMPTS = 5


def retry_service_config(max_retries: int) -> str:
    """gRPC's service config with a retry policy for every TextToSpeech method.

    gRPC retries a call only while the server has sent nothing back (no headers, no
    message), so a stream is never replayed once audio has started: exactly the rule
    the engine wants. UNAVAILABLE (server down, draining, connection refused) and
    RESOURCE_EXHAUSTED (admission full) are worth another try; nothing else is."""
    attempts = max(1, min(MAX_ATTEMPTS, max_retries + 1))
    method_config: dict[str, object] = {"name": [{"service": SERVICE_NAME}]}
    if attempts > 1:
        method_config["retryPolicy"] = {
            "maxAttempts": attempts,
            "initialBackoff": "0.1s",
            "maxBackoff": "2s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"],
        }
    return json.dumps({"methodConfig": [method_config]})


#: a server that went away is tried again at most this often once it is gone a while
#: (gRPC's own default grows to 120 s: a restarted server would wait that long)
MAX_RECONNECT_BACKOFF_MS = 2000


def channel_options(max_retries: int = 0) -> list[tuple[str, int | str]]:
    """Options of a client channel: the raised message limits, reconnection within
    seconds of a server's return, and, with `max_retries`, the retry policy above."""
    options: list[tuple[str, int | str]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.initial_reconnect_backoff_ms", 250),
        ("grpc.min_reconnect_backoff_ms", 250),
        ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
    ]
    if max_retries > 0:
        options += [
            ("grpc.enable_retries", 1),
            ("grpc.service_config", retry_service_config(max_retries)),
        ]
    return options


def server_options() -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
