"""Realtime settings (VOICE_REALTIME__*), nested in the worker's Settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RealtimeSettings(BaseModel):
    """Real-time conversation over WebSocket, the OpenAI Realtime protocol at
    `/v1/realtime` (VOICE_REALTIME__*). The server VAD defaults apply until a client's
    `session.update` sets its own."""

    max_event_bytes: int = Field(
        8 * 2**20,
        ge=2**16,
        description="Largest WebSocket message a client may send (larger: closed, 1009).",
    )
    max_append_bytes: int = Field(
        4 * 2**20,
        ge=1024,
        description="Largest audio of one input_audio_buffer.append, decoded, in bytes.",
    )
    max_buffer_seconds: float = Field(
        120.0, gt=0, description="Most audio the input buffer holds before a commit or clear."
    )
    min_commit_ms: int = Field(100, ge=0, description="Least audio a commit may hold.")
    max_queued_bytes: int = Field(
        16 * 2**20,
        ge=2**16,
        description="Events not yet sent to a client, in bytes; past it the client is "
        "too slow and is disconnected (close code 1008).",
    )
    max_instructions_chars: int = Field(
        16_000, ge=1, description="Longest `instructions` (the system persona) accepted."
    )
    vad_threshold: float = Field(
        0.5, ge=0, le=1, description="Server VAD: speech probability that starts speech."
    )
    vad_prefix_padding_ms: int = Field(
        300, ge=0, le=5000, description="Server VAD: audio kept from before speech starts."
    )
    vad_silence_duration_ms: int = Field(
        500, ge=0, le=10_000, description="Server VAD: silence that ends the user's turn."
    )
    early_transcription_ms: int = Field(
        192,
        ge=-1,
        description="After this much silence the speech so far is transcribed ahead of the "
        "turn's end, with server VAD or push to talk (dropped if the user goes on); -1: never. "
        "Below soft_end_ms it is done again there, and the local model does one at a time: "
        "the default is one transcription, at the soft end.",
    )
    soft_end_ms: int = Field(
        192,
        ge=0,
        description="The committed transcript covers at least this much of the silence "
        "after the speech (a soft ending, the last 's' of 'Americans', is quieter than a "
        "tenth of the loudness where the silence is taken to begin), or the utterance up "
        "to its end: the early transcription is done again at this point.",
    )
    speculative_replies: bool = Field(
        True,
        description="Write the chat reply to the early transcript while the VAD waits for "
        "the turn's end, used if the user is done (its first words ready at once), dropped "
        "unseen if they go on. Costs chat tokens that may be wasted (a cloud model bills "
        "them; voice_worker_speculative_tokens_total counts them).",
    )
    webrtc_addresses: list[str] = Field(
        default_factory=list,
        description="WebRTC calls (`POST /v1/realtime/calls`): the addresses offered as ICE "
        "host candidates; empty: every interface's, 127.0.0.1 included (a client on the "
        "same machine needs it). Behind NAT, offer the public address or use a TURN server.",
    )
    webrtc_ice_servers: list[str] = Field(
        default_factory=list,
        description="WebRTC calls: STUN/TURN server URLs (`stun:host:port`, "
        "`turn:user:password@host:port`) the worker gathers candidates with; none is "
        "contacted unless listed.",
    )
    webrtc_connect_seconds: float = Field(
        20.0, gt=0, description="WebRTC calls: a call not connected by then is ended."
    )
    webrtc_idle_seconds: float = Field(
        300.0,
        gt=0,
        description="WebRTC calls: a call with no event and no voice from the client for "
        "this long is ended.",
    )
