"""Which text a voice can be asked to speak: one rule for both services.

- Control characters (Unicode category Cc other than tab, line feed and carriage
  return) and lone surrogates are rejected, naming the first one's position: they mean
  the client sent something other than text (a NUL, an escape sequence, a broken UTF-16
  pair), and no voice can say them. Format characters (zero-width joiners, direction
  marks) are text and stay.
- Text must hold something to say: at least one letter or digit in any script. Text of
  punctuation, symbols or emoji alone is rejected rather than answered with silence.
Model output is not the client's input: `strip_controls` cleans it before speaking."""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_ALLOWED_CONTROLS = frozenset("\t\n\r")
_CONTROLS = r"\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F"
#: JSON Schema patterns of the rule (ECMA-262 and Python read them alike): plain text
#: (no control character but tab, line feed, carriage return), and plain text with
#: something other than white space
PLAIN_PATTERN = rf"^[^{_CONTROLS}]*$"
NONBLANK_PATTERN = rf"^[^{_CONTROLS}]*[^\s{_CONTROLS}][^{_CONTROLS}]*$"
#: the JSON Schema `format` of text to be spoken: plain, with a letter or a digit
SPEAKABLE_FORMAT = "speakable-text"


class TextIssue(str, enum.Enum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    CONTROL_CHARACTER = "control_character"
    NOT_SPEAKABLE = "not_speakable"


class TextRejected(ValueError):
    """Why `text` cannot be spoken; `position` is the offending character's index."""

    def __init__(self, issue: TextIssue, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.issue = issue
        self.message = message
        self.position = position


def _is_invalid(char: str) -> bool:
    category = unicodedata.category(char)
    return (category == "Cc" and char not in _ALLOWED_CONTROLS) or category == "Cs"


def find_invalid_character(text: str) -> int | None:
    """Index of the first control character or lone surrogate, or None."""
    return next((i for i, char in enumerate(text) if _is_invalid(char)), None)


def has_speakable(text: str) -> bool:
    """Whether `text` holds a letter or a digit (of any script)."""
    return any(unicodedata.category(char)[0] in "LN" for char in text)


def check_characters(text: str, what: str = "text") -> None:
    """Reject control characters and lone surrogates (for any stored or spoken text)."""
    index = find_invalid_character(text)
    if index is not None:
        raise TextRejected(
            TextIssue.CONTROL_CHARACTER,
            f"{what} has a control character (U+{ord(text[index]):04X}) at position {index}; "
            "send plain text",
            index,
        )


def check_speakable(text: str, max_chars: int, what: str = "text") -> None:
    """Raise TextRejected unless `text` can be spoken: not empty, at most `max_chars`
    characters, no control character, something to say."""
    if not text.strip():
        raise TextRejected(TextIssue.EMPTY, f"{what} is empty: give the text to speak")
    if len(text) > max_chars:
        raise TextRejected(
            TextIssue.TOO_LONG, f"{what} has {len(text)} characters; at most {max_chars} allowed"
        )
    check_characters(text, what)
    if not has_speakable(text):
        raise TextRejected(
            TextIssue.NOT_SPEAKABLE,
            f"{what} has nothing to speak (no letter or digit): {text[:40]!r}",
        )


def strip_controls(text: str) -> str:
    """`text` without control characters or lone surrogates (for model output)."""
    return "".join(char for char in text if not _is_invalid(char))


def _plain(value: str) -> str:
    index = find_invalid_character(value)
    if index is not None:
        raise ValueError(
            f"control character (U+{ord(value[index]):04X}) at position {index}; send plain text"
        )
    return value


@dataclass(frozen=True)
class Pattern:
    """Adds a `pattern` to a string field's JSON Schema (its other keywords kept)."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema: dict[str, Any] = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


#: a pydantic string field that refuses control characters and lone surrogates
PlainStr = Annotated[str, AfterValidator(_plain), Pattern(PLAIN_PATTERN)]
