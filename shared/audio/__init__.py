"""Audio codecs: PCM in, encoded containers out (whole files or streams), and decoding
of whatever a client uploads. Built on PyAV (FFmpeg), not hand-written codecs."""

from shared.audio.encoding import StreamEncoder, encode
from shared.audio.formats import AudioFormat

__all__ = ["AudioFormat", "StreamEncoder", "encode"]
