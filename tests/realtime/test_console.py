"""The browser console in a real browser: Debian's chromium driven by Playwright, its
microphone a WAV file (jfk.flac, then silence). Hands-free, the page hears the speech
through the server's VAD, shows the transcript and plays the reply (the page counts the
audio it schedules)."""

from __future__ import annotations

import shutil
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from harness.processes import JFK_TRANSCRIPT, word_error_rate
from tests.realtime.conftest import Worker
from tests.realtime.support import RATE, jfk_pcm, silence

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def microphone(path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(silence(0.5) + jfk_pcm() + silence(4.0))
    return path


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium; `make install-dev`)")
    from playwright.async_api import async_playwright

    wav = microphone(tmp_path / "mic.wav")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}%noloop",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def test_the_console_hears_speech_and_plays_the_reply(
    worker: Worker, venice: Any, browser: Any
) -> None:
    page = await browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(f"{worker.url}/?mode=handsfree&silence=1500")
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
    assert word_error_rate(JFK_TRANSCRIPT, " ".join(stats["transcripts"])) <= 0.15, stats
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
