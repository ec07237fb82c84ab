"""The full flow on real components: jfk.flac -> local faster-whisper -> SmolLM2 ->
the model server's Piper voice, stored; the reply audio transcribes back to the reply
text; a second turn's prompt holds the first turn."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import pytest

from harness.processes import DATA, JFK_TRANSCRIPT, decode, word_error_rate
from shared.audio.formats import AudioFormat
from shared.cache.memory import MemoryCache
from voice_worker.auth.principal import ANONYMOUS
from voice_worker.chat.base import ChatEvent, ChatMessage, ChatOptions
from voice_worker.chat.local import LocalChat
from voice_worker.chat.settings import ChatSettings
from voice_worker.conversation.adapters import TurnSpeech
from voice_worker.conversation.engine import VoiceChatEngine
from voice_worker.speech.cached_speech import CachedSpeech
from voice_worker.store.base import SessionSettings
from voice_worker.store.sql import SqlStore, open_store
from voice_worker.stt.base import STTProvider, TranscriptionOptions
from voice_worker.stt.registry import build_stt
from voice_worker.stt.settings import STTSettings
from voice_worker.tts.model_server import ModelServerTTS

pytestmark = pytest.mark.slow


class RecordingLocalChat(LocalChat):
    """The real local model, keeping each prompt it was given."""

    prompts: list[list[ChatMessage]]

    def stream(
        self, messages: Sequence[ChatMessage], options: ChatOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        self.prompts.append(list(messages))
        return super().stream(messages, options)


@pytest.fixture(scope="session")
def local_stt() -> STTProvider:
    return build_stt(STTSettings())


@pytest.fixture(scope="session")
def local_chat() -> RecordingLocalChat:
    chat = RecordingLocalChat()
    chat.prompts = []
    chat.load()
    return chat


@pytest.fixture
async def flow_store(tmp_path: object) -> AsyncIterator[SqlStore]:
    store = await open_store(f"sqlite:///{tmp_path}/flow.db")
    yield store
    await store.close()


async def test_audio_to_audio_with_history(
    flow_store: SqlStore,
    local_stt: STTProvider,
    local_chat: RecordingLocalChat,
    model_server_address: str,
) -> None:
    tts = ModelServerTTS(model_server_address)
    settings = ChatSettings(max_tokens=60, temperature=0.0)
    speech = TurnSpeech(CachedSpeech(tts, MemoryCache()))
    voice = VoiceChatEngine(flow_store, local_chat, speech, settings, stt=local_stt)
    session = await flow_store.create_session(SessionSettings(audio_format=AudioFormat.WAV))
    try:
        turn = await voice.process_message(session.id, (DATA / "jfk.flac").read_bytes(), ANONYMOUS)
        assert turn.transcript is not None
        assert word_error_rate(JFK_TRANSCRIPT, turn.transcript) <= 0.15
        assert turn.reply_text and turn.audio_format == "wav"
        assert {"stt", "chat", "tts", "store", "total"} <= set(turn.timings)
        rate, seconds, _ = decode(turn.audio)
        assert rate == 22050 and seconds > 0.5
        heard = await local_stt.transcribe(turn.audio, TranscriptionOptions(language="en"))
        assert word_error_rate(turn.reply_text, heard.text) <= 0.2, (turn.reply_text, heard.text)

        stored = (await flow_store.list_messages(session.id)).items
        assert [m.role for m in stored] == ["user", "assistant"]
        assert stored[0].transcript == turn.transcript
        assert stored[1].text == turn.reply_text and stored[1].audio_format == "wav"

        second = await voice.process_text_only(session.id, "Who said that?", ANONYMOUS)
        assert second.reply_text
        prompt = [(m.role, m.content) for m in local_chat.prompts[-1]]
        assert prompt[1:] == [
            ("user", turn.transcript),
            ("assistant", turn.reply_text),
            ("user", "Who said that?"),
        ]
        assert len((await flow_store.list_messages(session.id)).items) == 4
    finally:
        await tts.close()
