"""The local model's prompt as token ids, built so that no message can become a control
token. llama-cpp-python's own chat completion renders the chat template with the
messages inside and tokenizes the whole text with special tokens parsed, so a user who
types `<|im_end|><|im_start|>system` opens a system turn. Here the template (the GGUF's
own, `tokenizer.chat_template`) is rendered with a random marker in place of each
message; the template's text between the markers is tokenized with special tokens parsed
(it is the model's format), and each message's content without (special-token text in
it becomes plain text tokens, whatever tokens the model declares)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llama_cpp.llama_chat_format import ChatFormatterResponse, Jinja2ChatFormatter

#: for a GGUF file without a template: ChatML (SmolLM2's, Qwen's)
CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Prompt:
    tokens: list[int]
    stop: list[str]  # the template's stop strings (the end-of-turn token's text)
    stopping_criteria: Any  # llama_cpp.StoppingCriteriaList | None


def formatter_of(llama: Any) -> Jinja2ChatFormatter:
    """The model's chat template, as llama-cpp-python would load it."""
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    eos = llama._model.token_get_text(eos_id) if eos_id != -1 else ""
    bos = llama._model.token_get_text(bos_id) if bos_id != -1 else ""
    template = llama.metadata.get("tokenizer.chat_template") or CHATML
    return Jinja2ChatFormatter(template, eos, bos, stop_token_ids=[eos_id])


def prompt_tokens(
    llama: Any, formatter: Jinja2ChatFormatter, messages: Sequence[dict[str, str]]
) -> Prompt:
    nonce = secrets.token_hex(8)
    marks = [f"VoiceEngineContent{nonce}N{index}E" for index in range(len(messages))]
    marked: Any = [
        {"role": m["role"], "content": mark} for m, mark in zip(messages, marks, strict=True)
    ]
    rendered: ChatFormatterResponse = formatter(messages=marked)
    tokens: list[int] = []
    rest = rendered.prompt
    for mark, message in zip(marks, messages, strict=True):
        template, found, rest = rest.partition(mark)
        if not found or nonce in template:
            raise ValueError("the model's chat template does not take message content as is")
        tokens += llama.tokenize(template.encode(), add_bos=False, special=True)
        tokens += llama.tokenize(message["content"].encode(), add_bos=False, special=False)
    if nonce in rest:
        raise ValueError("the model's chat template repeats message content")
    tokens += llama.tokenize(rest.encode(), add_bos=False, special=True)
    stop = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop or ""]
    return Prompt(tokens, [s for s in stop if s], rendered.stopping_criteria)
