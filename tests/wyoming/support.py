"""A `voice-engine serve-wyoming` subprocess, and what the tests do with the `wyoming`
package's own client: read events until one of some types, gather the audio."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient, AsyncTcpClient
from wyoming.event import Event

from harness.processes import DATA, ROOT, Process, free_port
from harness.servers import stop

#: every read of a test is bounded (a hang is a failure, not a stuck run)
READ_TIMEOUT = 30.0


def wait_listening(address: str, popen: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until `address` (HOST:PORT, or a Unix socket's path) accepts a connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"serve-wyoming exited with {popen.returncode}")
        try:
            if address.startswith("/"):
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.connect(address)
            else:
                host, port = address.split(":")
                socket.create_connection((host, int(port)), timeout=1.0).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"serve-wyoming not listening on {address} after {timeout}s")


@contextmanager
def wyoming_process(
    tmp_path: Path,
    model_server: str,
    env: dict[str, str] | None = None,
    unix_socket: Path | None = None,
    wait: bool = True,
) -> Iterator[Process]:
    """`voice-engine serve-wyoming` on a free port (or `unix_socket`), accepting
    connections on entry (just started, with `wait=False`); SIGTERM afterwards.
    `address`: HOST:PORT or the socket path."""
    address = str(unix_socket) if unix_socket else f"127.0.0.1:{free_port()}"
    uri = f"unix://{address}" if unix_socket else f"tcp://{address}"
    log_path = tmp_path / f"wyoming-{address.replace('/', '_').replace(':', '-')}.log"
    environment = {**os.environ, "VOICE_LOG__LEVEL": "INFO", **(env or {})}
    command = [sys.executable, "-m", "voice_engine.cli", "serve-wyoming"]
    command += ["--uri", uri, "--model-server", model_server]
    with log_path.open("wb") as log_file:
        popen = subprocess.Popen(
            command, env=environment, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT
        )
    process = Process(popen, address, log_path)
    try:
        if wait:
            wait_listening(address, popen)
        yield process
    finally:
        stop(popen)


def client(process: Process) -> AsyncTcpClient:
    host, port = process.address.split(":")
    return AsyncTcpClient(host, int(port), connect_timeout=10, read_timeout=READ_TIMEOUT)


async def read_until(c: AsyncClient, *types: str) -> list[Event]:
    """Events up to and including the first of `types` (or an error)."""
    events: list[Event] = []
    while True:
        event = await c.read_event()
        assert event is not None, f"connection closed; got {[e.type for e in events]}"
        events.append(event)
        if event.type in types or event.type == "error":
            return events


@dataclass
class Audio:
    """What one `synthesize` brought back."""

    events: list[Event] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.events]

    @property
    def pcm(self) -> bytes:
        return b"".join(e.payload or b"" for e in self.events if e.type == "audio-chunk")

    def seconds(self, rate: int = 22_050) -> float:
        return len(self.pcm) / 2 / rate

    def wav(self, rate: int = 22_050) -> bytes:
        import wave

        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(self.pcm)
        return out.getvalue()


def listen(whisper: Any, wav: bytes) -> str:
    """What faster-whisper (tiny.en) hears in `wav`."""
    segments, _ = whisper.transcribe(io.BytesIO(wav), language="en", beam_size=1)
    return " ".join(s.text for s in segments)


def pcm_of(path: Path, rate: int, width: int, channels: int) -> bytes:
    """A file decoded to interleaved PCM of `width` bytes (1: unsigned, as in WAV)."""
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(
            format="flt", layout="stereo" if channels == 2 else "mono", rate=rate
        )
        frames = [
            f.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for f in resampler.resample(frame)
        ]
    samples = np.clip(np.concatenate(frames), -1.0, 1.0 - 1e-9)
    if channels > 2:
        samples = np.repeat(samples, channels)
    if width == 1:
        return bytes(((samples * 128) + 128).astype(np.uint8).tobytes())
    scaled = (samples * 2 ** (8 * width - 1)).astype(np.int64)
    if width == 3:  # the low three bytes of each little-endian int32
        return bytes(scaled.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes())
    return bytes(scaled.astype(f"<i{width}").tobytes())


def jfk_pcm(rate: int = 16_000, width: int = 2, channels: int = 1) -> bytes:
    return pcm_of(DATA / "jfk.flac", rate, width, channels)


async def send_audio(
    c: AsyncClient, pcm: bytes, rate: int, width: int, channels: int, chunk_bytes: int = 4096
) -> None:
    await c.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
    for i in range(0, len(pcm), chunk_bytes):
        chunk = AudioChunk(rate, width, channels, pcm[i : i + chunk_bytes])
        await c.write_event(chunk.event())
    await c.write_event(AudioStop().event())
