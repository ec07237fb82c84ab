"""A transcript rendered as each OpenAI `response_format`: json, text, srt, vtt,
verbose_json (with segment and/or word timestamps)."""

from __future__ import annotations

from typing import Literal

from voice_worker.stt.base import Transcript

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
Granularity = Literal["word", "segment"]


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(transcript: Transcript) -> list[tuple[float, float, str]]:
    if transcript.segments:
        return [(s.start, s.end, s.text.strip()) for s in transcript.segments if s.text.strip()]
    return [(0.0, transcript.duration, transcript.text.strip())] if transcript.text else []


def to_srt(transcript: Transcript) -> str:
    blocks = [
        f"{i}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n"
        for i, (start, end, text) in enumerate(_cues(transcript), 1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    blocks = [
        f"{_clock(start, '.')} --> {_clock(end, '.')}\n{text}\n"
        for start, end, text in _cues(transcript)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_verbose_json(
    transcript: Transcript, granularities: frozenset[str] = frozenset({"segment"})
) -> dict[str, object]:
    body: dict[str, object] = {
        "task": "transcribe",
        "language": _language_name(transcript.language),
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
    }
    if "segment" in granularities or not granularities:
        body["segments"] = [
            {
                "id": s.id,
                "seek": round(s.start * 100),
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "text": s.text,
                "tokens": list(s.tokens),
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in transcript.segments
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)}
            for w in transcript.words
        ]
    return body


def render(
    transcript: Transcript, fmt: ResponseFormat, granularities: frozenset[str]
) -> tuple[str | dict[str, object], str]:
    """(body, media type): a dict is sent as JSON, a str as text."""
    if fmt == "text":
        return transcript.text + "\n", "text/plain; charset=utf-8"
    if fmt == "srt":
        return to_srt(transcript), "text/plain; charset=utf-8"
    if fmt == "vtt":
        return to_vtt(transcript), "text/vtt; charset=utf-8"
    if fmt == "verbose_json":
        return to_verbose_json(transcript, granularities), "application/json"
    return {"text": transcript.text}, "application/json"


_LANGUAGES = {"en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian"}


def _language_name(code: str) -> str:
    """OpenAI's verbose_json names the language in full ("english")."""
    return _LANGUAGES.get(code, code)
