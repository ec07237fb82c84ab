"""The browser console in a real browser: Debian's chromium driven by Playwright, its
microphone a WAV file (jfk.flac, then silence). Over WebRTC (the console's default): the
page calls POST /v1/realtime/calls, its microphone goes as an Opus track, hands-free
with semantic VAD; it shows the transcript, and the reply's track plays in the <audio>
element: the page records that track (MediaRecorder, ?record=1), and the recording
transcribes back to the reply. Over the WebSocket (the fallback, taken here by a page
without RTCPeerConnection; ?transport=websocket forces it): the page hears the speech
through the server's VAD, shows the transcript and plays the reply (the page counts the
audio it schedules)."""

from __future__ import annotations

import base64
import io
import shutil
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from harness.processes import JFK_TRANSCRIPT, word_error_rate
from tests.realtime.conftest import Worker
from tests.realtime.support import RATE, jfk_pcm, silence
from tests.realtime.test_conversation import heard
from voice_worker.stt.local import LocalWhisperSTT

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def microphone(path: Path, lead: float = 0.5) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(silence(lead) + jfk_pcm() + silence(4.0))
    return path


Launch = Callable[[Path], Any]


@pytest.fixture
async def launch() -> AsyncIterator[Launch]:
    """Starts chromium with a WAV file as its microphone (once, from when the page opens
    it; silence after)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; `make browser`)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched: list[Any] = []

        async def start(wav: Path) -> Any:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={wav}%noloop",
                    "--autoplay-policy=no-user-gesture-required",
                    "--allow-loopback-in-peer-connection",
                ],
            )
            launched.append(browser)
            return browser

        try:
            yield start
        finally:
            for browser in launched:
                await browser.close()


@pytest.fixture(scope="module")
def ear() -> LocalWhisperSTT:
    return LocalWhisperSTT()


def pcm24_of(recording: bytes) -> bytes:
    """A WebM/Opus recording as pcm16 mono at 24 kHz."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    out = bytearray()
    with av.open(io.BytesIO(recording)) as container:
        for frame in container.decode(audio=0):
            for part in resampler.resample(frame):
                out += part.to_ndarray().astype("<i2").tobytes()
    return bytes(out)


async def test_the_console_calls_over_webrtc_and_plays_the_reply_track(
    worker: Worker, venice: Any, launch: Launch, ear: LocalWhisperSTT, tmp_path: Path
) -> None:
    # the microphone starts when the page asks for it: 3 s of silence while the call
    # connects (what is said before the track reaches the worker is not heard)
    browser = await launch(microphone(tmp_path / "mic.wav", lead=3.0))
    page = await browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(f"{worker.url}/?mode=handsfree&eagerness=low&record=1")
    await page.click("#connect")
    await page.wait_for_function("window.consoleStats.state !== 'idle'", timeout=30_000)
    # the reply to the last turn is done and more than 0.5 s of voice came on the track
    await page.wait_for_function(
        """(() => { const s = window.consoleStats;
            return s.transcripts.join(" ").includes("your country")
                && s.replies.includes("Hello from Venice.")
                && s.replyAudioSeconds > 0.5; })()""",
        timeout=90_000,
    )
    await page.wait_for_timeout(2500)  # the rest of the reply plays (real time)
    stats = await page.evaluate("window.consoleStats")
    assert stats["transport"] == "WebRTC" and stats["fallback"] is None, stats
    assert stats["requestedTurnDetection"] == {
        "type": "semantic_vad",
        "eagerness": "low",
        "create_response": True,
        "interrupt_response": True,
    }
    assert stats["turnDetection"] is not None  # session.updated came on the data channel
    # hands-free cuts the speech at its pauses into two or three turns (until semantic
    # VAD lands, eagerness low is a 1 s silence window), each heard alone by Whisper
    # tiny ("And so my fellow America" / "Ask not!" / "What your country ..."): a looser
    # bound than one turn's
    assert word_error_rate(JFK_TRANSCRIPT, " ".join(stats["transcripts"])) <= 0.2, stats
    assert stats["replies"][-1] == "Hello from Venice." and not stats["errors"]
    assert stats["audioSecondsScheduled"] == 0  # no audio deltas: the track played it
    assert await page.evaluate("document.querySelector('#reply').currentTime") > 1.0
    shown = await page.inner_text("#turns")
    assert "Hello from Venice." in shown and "fellow America" in shown
    assert "first audio" in shown  # the reply track's voice, heard by the page
    recording = base64.b64decode(await page.evaluate("window.consoleRecording()"))
    played = pcm24_of(recording)
    samples = np.frombuffer(played, "<i2")
    assert len(samples) > RATE * 3 and np.abs(samples).max() > 1000  # sound, not silence
    assert "venice" in (await heard(ear, played)).lower()  # the reply, as the page played it
    await page.wait_for_function(
        "document.querySelector('#messages').innerText.includes('Hello from Venice.')",
        timeout=30_000,
    )
    await page.click("#connect")  # stop: the page hangs up (DELETE)
    await page.wait_for_function("window.consoleStats.state === 'closed'", timeout=10_000)
    assert not problems


async def test_the_console_falls_back_to_the_websocket(
    worker: Worker, venice: Any, launch: Launch, tmp_path: Path
) -> None:
    browser = await launch(microphone(tmp_path / "mic.wav"))
    page = await browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.add_init_script("delete window.RTCPeerConnection")  # a browser without it
    await page.goto(f"{worker.url}/?mode=vad&silence=1500")  # transport: auto
    assert await page.title() == "Voice Engine console"
    await page.click("#connect")
    # the speech may come as more than one turn (the browser's noise suppression can
    # stretch a pause past the window); the reply to the last one is played: waited for
    # until more than its first 0.5 s delta is scheduled (read once, a busy machine could
    # catch the count between deltas)
    await page.wait_for_function(
        """(() => { const s = window.consoleStats;
            return s.transcripts.join(" ").includes("your country")
                && s.replies.includes("Hello from Venice.")
                && s.audioSecondsScheduled > 0.5; })()""",
        timeout=90_000,
    )
    stats = await page.evaluate("window.consoleStats")
    assert stats["transport"] == "WebSocket", stats
    assert "no RTCPeerConnection" in stats["fallback"]
    # split into turns at the pauses (mode=vad, a window), each short fragment may lose a
    # word at its edge ("ask not" heard as "Not"): the bound the WebRTC test has too
    assert word_error_rate(JFK_TRANSCRIPT, " ".join(stats["transcripts"])) <= 0.2, stats
    assert stats["replies"][-1] == "Hello from Venice."  # the reply to the last turn
    assert stats["audioSecondsScheduled"] > 0.5 and not stats["errors"]
    shown = await page.inner_text("#turns")
    # "fellow America" (not "...Americans"): when the browser splits the speech into two
    # turns, Whisper tiny may hear the short first one as "fellow America."
    assert "Hello from Venice." in shown and "fellow America" in shown
    assert "first audio" in shown  # a latency strip
    # the history, as reloaded after the last response (a first turn cut short by the
    # second may be there before it, with the part of its reply that was played)
    await page.wait_for_function(
        "document.querySelector('#messages').innerText.includes('Hello from Venice.')",
        timeout=30_000,
    )
    assert "fellow America" in await page.inner_text("#messages")
    assert not problems
