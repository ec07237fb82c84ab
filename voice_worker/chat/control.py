"""Chat-template control strings, kept out of what users say.

A user's text (typed, or transcribed), and the stored history it becomes, must never
open or close a turn of the chat template: `<|im_start|>system` in a message would give
its writer the system persona's authority. An upstream server (Venice, vLLM, Ollama)
applies its own template and may parse special tokens in message content, so before a
message leaves the worker each known control string is neutralised: its angle brackets
become the look-alike ‹ › (U+2039, U+203A), so the text still reads the same to the
model and to a person, but is no token. The system persona comes only from configuration
and is left as it is. (The local model goes further: its prompt is tokenized with special
tokens parsed only in the template's own text, chat.local_prompt.)"""

from __future__ import annotations

import re

#: ChatML and Qwen (`<|im_start|>`, `<|endoftext|>`), Llama 3 (`<|eot_id|>`,
#: `<|start_header_id|>`), Phi (`<|user|>`, `<|end|>`), and every other `<|name|>`
_PIPE_TOKEN = r"<\|[A-Za-z0-9_.:\-/ ]{1,64}\|>"
#: thinking blocks (Qwen3, DeepSeek R1), Gemma's turns, Llama 2/Mistral's markers
_NAMED = [
    r"</?think>",
    r"</?start_of_turn>",
    r"</?end_of_turn>",
    r"</?s>",
    r"\[/?INST\]",
    r"<<SYS>>",
    r"<</SYS>>",
]
CONTROL = re.compile("|".join([_PIPE_TOKEN, *_NAMED]), re.IGNORECASE)
_LOOK_ALIKE = str.maketrans({"<": "\u2039", ">": "\u203a", "[": "\uff3b", "]": "\uff3d"})


def neutralize(text: str) -> str:
    """`text` with every control string made inert (a look-alike, not a token)."""
    return CONTROL.sub(lambda match: match.group(0).translate(_LOOK_ALIKE), text)
