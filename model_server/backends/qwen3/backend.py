"""Qwen3-TTS through the official `qwen-tts` package (Apache-2.0).

One backend object is one checkpoint directory (CustomVoice, VoiceDesign or Base).
`synthesize_batch` turns a batch of jobs into ONE call of the library's generate method
over lists: text, speaker, language and instruction are per-sample lists there
(https://github.com/QwenLM/Qwen3-TTS/blob/main/qwen_tts/inference/qwen3_tts_model.py),
and `Qwen3TTSForConditionalGeneration.generate` left-pads the prompts and decodes every
row in one autoregressive loop, so a batch of 32 costs little more than one request.

torch, transformers and qwen_tts are imported in `load`, never at module import: the
server builds every configured backend (reading only config.json) before loading any.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_server.backends.base import BackendError, FloatArray, SynthesisJob, VoiceInfo
from model_server.backends.qwen3.streaming import stream_windows
from model_server.backends.qwen3.voices import (
    Checkpoint,
    designed_voice,
    preset_voices,
    read_checkpoint,
)

log = logging.getLogger(__name__)

#: Generation arguments the library accepts (`_merge_generate_kwargs`); others are refused.
GENERATE_KEYS = frozenset(
    {
        "do_sample",
        "top_k",
        "top_p",
        "temperature",
        "repetition_penalty",
        "subtalker_dosample",
        "subtalker_top_k",
        "subtalker_top_p",
        "subtalker_temperature",
        "max_new_tokens",
    }
)


@dataclass
class ReferenceVoice:
    """A voice for the Base model: a reference clip and what it says."""

    name: str
    audio: FloatArray
    sample_rate: int
    text: str = ""  # empty: x-vector only (speaker embedding, no in-context prompt)
    languages: tuple[str, ...] = ()


@dataclass
class Qwen3Options:
    device: str = "auto"  # auto: cuda when available, else cpu
    dtype: str = "auto"  # auto: bfloat16 on cuda, float32 on cpu
    attn_implementation: str | None = None  # e.g. "flash_attention_2" or "sdpa"
    max_batch_size: int = 32
    generate: dict[str, Any] | None = None  # library generation arguments
    seed: int | None = None  # reseed before each generate call: reproducible output
    # Suppress the end-of-speech token and always make this many codec frames (80 ms
    # each). For random-weight checkpoints (tests, benchmarks), which never stop.
    fixed_frames: int | None = None
    # Streams: first audio after this many codec frames (80 ms each), then a block every
    # stream_frames; 0 sends each sentence whole.
    stream_first_frames: int = 4
    stream_frames: int = 12

    @classmethod
    def parse(cls, options: dict[str, Any]) -> Qwen3Options:
        known = set(cls.__dataclass_fields__) | {"voices"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown qwen3 options {sorted(unknown)}; known: {sorted(known)}")
        parsed = cls(**{k: v for k, v in options.items() if k != "voices"})
        bad = set(parsed.generate or {}) - GENERATE_KEYS
        if bad:
            raise ValueError(
                f"unknown generate options {sorted(bad)}; known: {sorted(GENERATE_KEYS)}"
            )
        return parsed


class Qwen3Backend:
    """One Qwen3-TTS checkpoint."""

    max_concurrency = 1  # one GPU: batches run one after the other, each as large as it can

    def __init__(
        self,
        path: Path,
        options: Qwen3Options | None = None,
        voices: Sequence[ReferenceVoice] = (),
    ) -> None:
        self.checkpoint: Checkpoint = read_checkpoint(path)
        self.options = options or Qwen3Options()
        self.sample_rate = self.checkpoint.sample_rate
        self.max_batch_size = max(1, int(self.options.max_batch_size))
        self.accepts_instructions = self.checkpoint.accepts_instructions
        # Read by the service's RegisterVoice: only Base checkpoints clone voices.
        self.clones_voices = self.checkpoint.kind == "base"
        self.generate_calls = 0  # library generate calls (tests count them)
        self._tts: Any = None  # qwen_tts.Qwen3TTSModel while loaded
        self._device = "cpu"
        self._memory = 0
        self._hooks: list[Any] = []
        self._lock = threading.Lock()  # register_voice vs load/unload
        self._references: dict[str, ReferenceVoice] = {}
        self._prompts: dict[str, Any] = {}  # voice -> VoiceClonePromptItem (while loaded)
        for voice in voices:
            self._references[voice.name] = voice

    # -- voices ----------------------------------------------------------------------
    def voices(self) -> Sequence[VoiceInfo]:
        kind = self.checkpoint.kind
        if kind == "custom_voice":
            return preset_voices(self.checkpoint)
        if kind == "voice_design":
            return [designed_voice(self.checkpoint)]
        languages = self.checkpoint.language_names()
        return [
            VoiceInfo(v.name, v.languages or languages, description="reference voice (clone)")
            for v in list(self._references.values())  # a copy: register_voice may add
        ]

    def register_voice(
        self, name: str, audio: FloatArray, sample_rate: int, text: str = ""
    ) -> VoiceInfo:
        """Add (or replace) a cloned voice on a Base model; usable at once."""
        if self.checkpoint.kind != "base":
            raise ValueError(
                f"only a Base checkpoint clones voices; this one is {self.checkpoint.kind}"
            )
        if not name or audio.size == 0:
            raise ValueError("a reference voice needs a name and some audio")
        voice = ReferenceVoice(name, np.asarray(audio, np.float32), int(sample_rate), text)
        with self._lock:
            if self._tts is not None:
                self._prompts[name] = self._clone_prompt(voice)
            self._references[name] = voice
        return next(v for v in self.voices() if v.name == name)

    # -- residency -------------------------------------------------------------------
    def load(self) -> None:
        import torch

        with contextlib.redirect_stdout(io.StringIO()):  # it prints a flash-attn notice
            from qwen_tts import Qwen3TTSModel

        device, dtype = self._placement(torch)
        on_gpu = device.startswith("cuda")
        before = _cuda_allocated(torch, device) if on_gpu else 0
        kwargs: dict[str, Any] = {"device_map": device, "dtype": dtype}
        if self.options.attn_implementation:
            kwargs["attn_implementation"] = self.options.attn_implementation
        with self._lock:
            tts = Qwen3TTSModel.from_pretrained(str(self.checkpoint.path), **kwargs)
            talker = tts.model.talker
            eos = int(tts.model.config.talker_config.codec_eos_token_id)
            # Say what HF would otherwise warn about on every call ("Setting pad_token_id").
            talker.generation_config.pad_token_id = eos
            if self.options.fixed_frames:
                self._hooks.append(talker.codec_head.register_forward_hook(_ban_token(eos)))
            self._tts, self._device = tts, device
            try:
                self._prompts = {
                    name: self._clone_prompt(voice) for name, voice in self._references.items()
                }
            except Exception:
                self._release()
                raise
        if on_gpu:
            self._memory = max(0, _cuda_allocated(torch, device) - before)
        else:
            self._memory = _module_bytes(tts.model, tts.model.speech_tokenizer.model)

    def unload(self) -> None:
        with self._lock:
            self._release()

    def _release(self) -> None:
        # Drop every reference to tensors (model, hooks, clone prompts), then collect
        # and give cached CUDA blocks back, so memory returns to its level before load.
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        self._prompts = {}
        self._tts = None
        self._memory = 0
        gc.collect()
        if self._device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()

    def memory_bytes(self) -> int:
        return self._memory if self._tts is not None else 0

    def _placement(self, torch: Any) -> tuple[str, Any]:
        device = self.options.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype_name = self.options.dtype
        if dtype_name == "auto":
            dtype_name = "bfloat16" if device.startswith("cuda") else "float32"
        dtype = getattr(torch, dtype_name, None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"unknown dtype {self.options.dtype!r}")
        return device, dtype

    # -- synthesis -------------------------------------------------------------------
    def synthesize_batch(self, jobs: Sequence[SynthesisJob]) -> list[FloatArray]:
        if not jobs:
            return []
        tts = self._tts
        if tts is None:
            raise BackendError(f"model {self.checkpoint.path.name} is not loaded")
        kind = self.checkpoint.kind
        texts = [job.text for job in jobs]
        languages = [self.checkpoint.library_language(job.language) for job in jobs]
        kwargs = self._generate_kwargs()
        if self.options.seed is not None:
            import torch

            torch.manual_seed(self.options.seed)
        # `speed` has no counterpart in Qwen3-TTS (pace follows the text and
        # instructions), so it is not applied here.
        self.generate_calls += 1
        if kind == "custom_voice":
            wavs, rate = tts.generate_custom_voice(
                text=texts,
                speaker=[job.voice.lower() for job in jobs],
                language=languages,
                instruct=[job.instructions for job in jobs],
                **kwargs,
            )
        elif kind == "voice_design":
            wavs, rate = tts.generate_voice_design(
                text=texts,
                instruct=[job.instructions for job in jobs],
                language=languages,
                **kwargs,
            )
        else:
            try:
                prompts = [self._prompts[job.voice] for job in jobs]
            except KeyError as exc:
                raise BackendError(f"no reference voice {exc.args[0]!r}") from None
            wavs, rate = tts.generate_voice_clone(
                text=texts, language=languages, voice_clone_prompt=prompts, **kwargs
            )
        if rate != self.sample_rate:
            raise BackendError(f"the model produced {rate} Hz, expected {self.sample_rate}")
        return [np.asarray(w, dtype=np.float32).reshape(-1) for w in wavs]

    def stream(self, job: SynthesisJob) -> Iterator[FloatArray]:
        """The sentence's audio in blocks decoded while it is generated (streaming.py);
        with stream_frames=0, one block when generation ends."""
        if job.cancelled.is_set():
            return
        if not self.options.stream_frames:
            yield self.synthesize_batch([job])[0]
            return
        for _, block in self.stream_batch([job]):
            if block is not None:
                yield block

    def stream_batch(
        self, jobs: Sequence[SynthesisJob]
    ) -> Generator[tuple[int, FloatArray | None], None, None]:
        """Several streams in ONE generate call: `(index, block)` as audio is decoded,
        `(index, None)` when job `index` has all its audio. The model server's runner
        uses this for concurrent streams (batching.py), as synthesize_batch for unary."""
        tts = self._tts
        if tts is None:
            raise BackendError(f"model {self.checkpoint.path.name} is not loaded")
        if not self.options.stream_frames:
            for index, audio in enumerate(self.synthesize_batch(jobs)):
                yield index, audio
                yield index, None
            return
        yield from stream_windows(
            tts,
            jobs,
            self.synthesize_batch,
            first_frames=max(1, self.options.stream_first_frames),
            frames=self.options.stream_frames,
        )

    def _generate_kwargs(self) -> dict[str, Any]:
        kwargs = dict(self.options.generate or {})
        if self.options.fixed_frames:
            # generate() returns one frame fewer than the tokens it makes: the last token
            # is never fed back to the code predictor (modeling_qwen3_tts.py, generate).
            kwargs["max_new_tokens"] = int(self.options.fixed_frames) + 1
        return kwargs

    def _clone_prompt(self, voice: ReferenceVoice) -> Any:
        items = self._tts.create_voice_clone_prompt(
            ref_audio=(voice.audio, voice.sample_rate),
            ref_text=voice.text or None,
            x_vector_only_mode=not voice.text,
        )
        return items[0]


def _ban_token(token: int) -> Any:
    """A forward hook on the codec head that makes `token` impossible to sample."""

    def hook(_module: Any, _inputs: Any, logits: Any) -> Any:
        logits[..., token] = float("-inf")
        return logits

    return hook


def _cuda_allocated(torch: Any, device: str) -> int:
    torch.cuda.synchronize(device)
    return int(torch.cuda.memory_allocated(device))


def _module_bytes(*modules: Any) -> int:
    """Bytes of the distinct parameter and buffer storages of `modules` (CPU)."""
    seen: set[int] = set()
    total = 0
    for module in modules:
        for tensor in (*module.parameters(), *module.buffers()):
            pointer = tensor.untyped_storage().data_ptr()
            if pointer not in seen:
                seen.add(pointer)
                total += tensor.untyped_storage().nbytes()
    return total
