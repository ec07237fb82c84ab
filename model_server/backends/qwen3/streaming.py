"""Audio while the model is still generating: decode codec frames in windows.

`qwen-tts` returns audio only when generation ends. Each decoding step of the talker,
though, returns the 16 codes of the previous frame in its output
(`Qwen3TTSTalkerForConditionalGeneration.forward`: `hidden_states=(..., codec_ids)`,
https://github.com/QwenLM/Qwen3-TTS/blob/main/qwen_tts/core/models/modeling_qwen3_tts.py),
so a forward hook on the talker sees every frame as it is made. The speech tokenizer's
decoder is causal (causal convolutions, causal sliding-window attention), so decoding
frames [start - context, end) and dropping the context's samples gives the samples the
whole utterance would have, up to the left context the library's own `chunked_decode`
uses (25 frames). The first block comes after `first_frames` frames (4 = 320 ms of
audio), then one every `frames`.

Generation runs on a helper thread; this generator yields blocks as the hook queues
them. The library still decodes the whole utterance at the end (its return value,
unused here): a few percent of the work, the price of not re-implementing its prompt
building.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from model_server.backends.base import FloatArray, SynthesisJob

#: Left context when decoding a window, in frames (as `chunked_decode`'s default).
CONTEXT_FRAMES = 25


class _Stopped(Exception):
    """Raised inside generate (from the hook) to abandon a cancelled stream."""


def stream_windows(
    tts: Any,
    job: SynthesisJob,
    synthesize: Callable[[SynthesisJob], object],
    first_frames: int,
    frames: int,
) -> Iterator[FloatArray]:
    """Blocks of `job`'s audio, decoded while `synthesize(job)` (one library generate
    call on `tts`, a loaded Qwen3TTSModel) runs."""
    talker = tts.model.talker
    tokenizer = tts.model.speech_tokenizer.model
    decoder = tokenizer.decoder
    samples_per_frame = int(tokenizer.get_decode_upsample_rate())
    eos = int(tts.model.config.talker_config.codec_eos_token_id)
    blocks: queue.Queue[FloatArray | BaseException | None] = queue.Queue()
    codes: list[Any] = []
    emitted = 0
    ended = False
    stop = threading.Event()

    def flush(final: bool) -> None:
        nonlocal emitted
        pending = len(codes) - emitted
        if pending <= 0 or (not final and pending < (frames if emitted else first_frames)):
            return
        import torch

        context = min(CONTEXT_FRAMES, emitted)
        window = torch.stack(codes[emitted - context :], dim=-1).unsqueeze(0)  # (1, 16, T)
        with torch.inference_mode():  # the last flush runs outside the library's no_grad
            wav = decoder(window)[0, 0, context * samples_per_frame :]
        blocks.put(wav.float().cpu().numpy().astype(np.float32))
        emitted = len(codes)

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        nonlocal ended
        if stop.is_set() or job.cancelled.is_set():
            raise _Stopped
        frame = output.hidden_states[1]  # codes of the previous frame; None at prefill
        if frame is None or ended:
            return
        if int(frame[0, 0]) == eos:
            ended = True  # the library cuts the utterance here too
            return
        codes.append(frame[0].detach().clone())
        flush(final=False)

    def run() -> None:
        handle = talker.register_forward_hook(hook)
        try:
            synthesize(job)
            flush(final=True)
            blocks.put(None)
        except _Stopped:
            blocks.put(None)
        except BaseException as exc:
            blocks.put(exc)
        finally:
            handle.remove()

    thread = threading.Thread(target=run, name="qwen3-stream", daemon=True)
    thread.start()
    try:
        while (item := blocks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # The caller stopped reading (or we are done): stop generating, and return only
        # once the model is free, so the next batch never runs beside this one.
        stop.set()
        thread.join()
