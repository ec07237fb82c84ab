"""The `describe` answer: one ASR program with the speech-to-text model the worker runs
and one TTS program with every voice the model servers hold, each `installed`, with
its languages and attribution, and the streaming both programs support."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from wyoming.info import AsrModel, AsrProgram, Attribution, Info, TtsProgram, TtsVoice

from voice_worker.stt.base import DescribesModel, ModelCard, STTProvider
from voice_worker.wyoming.voices import Snapshot, language_codes

PROGRAM = "voice-engine"
ENGINE = Attribution(name="Voice Engine", url="")  # no public home yet
#: who made the models behind each speech-to-text provider and each model-server backend
STT_ATTRIBUTION = {
    "local": Attribution(
        name="OpenAI Whisper, faster-whisper", url="https://github.com/SYSTRAN/faster-whisper"
    ),
    "openai": Attribution(
        name="OpenAI", url="https://platform.openai.com/docs/guides/speech-to-text"
    ),
    "deepgram": Attribution(name="Deepgram", url="https://developers.deepgram.com"),
}
TTS_ATTRIBUTION = {
    "piper": Attribution(name="Piper (rhasspy)", url="https://github.com/rhasspy/piper"),
    "qwen3": Attribution(name="Qwen3-TTS (Qwen)", url="https://github.com/QwenLM/Qwen3-TTS"),
}


def _version() -> str:
    try:
        return version("voice-engine")
    except PackageNotFoundError:
        return "0.0.0"


def model_card(stt: STTProvider) -> ModelCard:
    """The provider's own card, or its name (and English) when it has none."""
    return stt.model_card() if isinstance(stt, DescribesModel) else ModelCard(stt.name, ("en",))


def asr_program(stt: STTProvider) -> AsrProgram:
    card = model_card(stt)
    attribution = STT_ATTRIBUTION.get(stt.name, ENGINE)
    model = AsrModel(
        name=card.name,
        attribution=attribution,
        installed=True,
        description=f"{card.name} ({stt.name} speech-to-text)",
        version=None,
        languages=list(card.languages),
    )
    return AsrProgram(
        name=PROGRAM,
        attribution=ENGINE,
        installed=True,
        description="Voice Engine speech-to-text",
        version=_version(),
        models=[model],
        supports_transcript_streaming=True,
    )


def tts_program(catalogue: Snapshot) -> TtsProgram:
    backends = {m.name: m.backend for m in catalogue.models}
    voices = []
    for voice in catalogue.voices:
        backend = backends.get(voice.model, "")
        voices.append(
            TtsVoice(
                name=voice.name,
                attribution=TTS_ATTRIBUTION.get(backend, ENGINE),
                installed=True,
                description=voice.description or f"{voice.name} ({voice.model or 'model server'})",
                version=None,
                languages=language_codes(voice.languages),
            )
        )
    return TtsProgram(
        name=PROGRAM,
        attribution=ENGINE,
        installed=True,
        description="Voice Engine text-to-speech (every voice of the model servers)",
        version=_version(),
        voices=voices,
        supports_synthesize_streaming=True,
    )


def describe(stt: STTProvider, catalogue: Snapshot) -> Info:
    return Info(asr=[asr_program(stt)], tts=[tts_program(catalogue)])
