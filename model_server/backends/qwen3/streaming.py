"""Audio while the model is still generating: decode codec frames in windows, for a
whole batch of streams in one generate call.

`qwen-tts` returns audio only when generation ends. Each decoding step of the talker,
though, returns the 16 codes of every row's previous frame in its output
(`Qwen3TTSTalkerForConditionalGeneration.forward`: `hidden_states=(..., codec_ids)`,
https://github.com/QwenLM/Qwen3-TTS/blob/main/qwen_tts/core/models/modeling_qwen3_tts.py),
so a forward hook on the talker sees every frame as it is made. The speech tokenizer's
decoder is causal (causal convolutions, causal sliding-window attention), so decoding
frames [start - context, end) and dropping the context's samples gives the samples the
whole utterance would have, up to the left context the library's own `chunked_decode`
uses (25 frames). The first block comes after `first_frames` frames (4 = 320 ms of
audio), then one every `frames`; the rows of a batch advance in lockstep, so their
windows are decoded together in one decoder call.

Generation runs on a helper thread; this generator yields `(row, block)` as the hook
queues them and `(row, None)` when a row has ended (its end token, or the end of
generation). The library still decodes the whole batch at the end (its return value,
unused here): a few percent of the work, the price of not re-implementing its prompt
building.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model_server.backends.base import FloatArray, SynthesisJob

#: Left context when decoding a window, in frames (as `chunked_decode`'s default).
CONTEXT_FRAMES = 25

Event = tuple[int, FloatArray | None]


class _Stopped(Exception):
    """Raised inside generate (from the hook) to abandon a batch nobody reads."""


@dataclass(eq=False)  # rows are found by identity (their codes are tensors)
class _Row:
    job: SynthesisJob
    codes: list[Any] = field(default_factory=list)
    emitted: int = 0
    done: bool = False


def stream_windows(
    tts: Any,
    jobs: Sequence[SynthesisJob],
    synthesize: Callable[[Sequence[SynthesisJob]], object],
    first_frames: int,
    frames: int,
) -> Iterator[Event]:
    """`(row, block)` events of `jobs`' audio, decoded while `synthesize(jobs)` (one
    library generate call on `tts`, a loaded Qwen3TTSModel) runs."""
    import torch

    talker = tts.model.talker
    tokenizer = tts.model.speech_tokenizer.model
    decoder = tokenizer.decoder
    samples_per_frame = int(tokenizer.get_decode_upsample_rate())
    eos = int(tts.model.config.talker_config.codec_eos_token_id)
    events: queue.Queue[Event | BaseException | None] = queue.Queue()
    rows = [_Row(job) for job in jobs]
    stop = threading.Event()

    def flush(due: list[_Row]) -> None:
        """Decode the pending frames of `due` rows, grouped by window shape."""
        groups: dict[tuple[int, int], list[_Row]] = {}
        for row in due:
            if len(row.codes) > row.emitted:
                groups.setdefault((row.emitted, len(row.codes)), []).append(row)
        for (emitted, end), group in groups.items():
            context = min(CONTEXT_FRAMES, emitted)
            windows = torch.stack(
                [torch.stack(row.codes[emitted - context : end], dim=-1) for row in group]
            )  # (rows, 16, frames)
            with torch.inference_mode():  # the last flush runs outside the library's no_grad
                wavs = decoder(windows)[:, 0, context * samples_per_frame :]
            audio = wavs.float().cpu().numpy().astype(np.float32)
            for row, wav in zip(group, audio, strict=True):
                row.emitted = end
                events.put((rows.index(row), wav))

    def finish(row: _Row) -> None:
        flush([row])
        row.done = True
        events.put((rows.index(row), None))

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        if stop.is_set() or all(row.done or row.job.cancelled.is_set() for row in rows):
            raise _Stopped
        codes = output.hidden_states[1]  # (rows, 16): the previous frame; None at prefill
        if codes is None:
            return
        due = []
        for index, row in enumerate(rows):
            if row.done:
                continue
            if row.job.cancelled.is_set() or int(codes[index, 0]) == eos:
                finish(row)  # the library cuts the utterance at its end token too
                continue
            row.codes.append(codes[index].detach().clone())
            if len(row.codes) - row.emitted >= (frames if row.emitted else first_frames):
                due.append(row)
        flush(due)

    def run() -> None:
        handle = talker.register_forward_hook(hook)
        try:
            synthesize(jobs)
        except _Stopped:
            pass
        except BaseException as exc:
            events.put(exc)
            return
        finally:
            handle.remove()
        try:
            for row in rows:
                if not row.done:
                    finish(row)
            events.put(None)
        except BaseException as exc:
            events.put(exc)

    thread = threading.Thread(target=run, name="qwen3-stream", daemon=True)
    thread.start()
    try:
        while (item := events.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # The caller stopped reading (or we are done): stop generating, and return only
        # once the model is free, so the next batch never runs beside this one.
        stop.set()
        thread.join()
