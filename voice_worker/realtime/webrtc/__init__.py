"""The realtime protocol over WebRTC (`POST /v1/realtime/calls`, as OpenAI's GA API):
the same session (realtime/session.py) with another transport. Events go both ways on
the data channel `oai-events`; the microphone arrives as an Opus track and the reply
leaves as one (no audio deltas on the channel). aiortc is the peer connection."""
