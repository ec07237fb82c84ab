"""README's configuration tables, generated from the Settings classes.

`python -m voice_engine.settings_doc` rewrites the tables between the
`<!-- settings:NAME -->` and `<!-- /settings:NAME -->` markers in README.md;
tests/test_readme.py fails when README is out of date.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

README = Path(__file__).resolve().parent.parent / "README.md"

#: marker name -> "module:Settings class"
SETTINGS_CLASSES: dict[str, str] = {
    "model_server": "model_server.settings:Settings",
    "voice_worker": "voice_worker.settings:Settings",
}


def _settings_class(target: str) -> type[BaseModel]:
    module, _, name = target.partition(":")
    cls: type[BaseModel] = getattr(importlib.import_module(module), name)
    return cls


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, SecretStr):
        return "(secret)" if value.get_secret_value() else ""
    if isinstance(value, (list, dict)):
        return json.dumps(value) if value else ""
    return "" if value is None else str(value)


def rows(cls: type[BaseModel], prefix: str = "VOICE_") -> list[tuple[str, str, str]]:
    out = []
    for name, field in cls.model_fields.items():
        annotation = field.annotation
        env = f"{prefix}{name.upper()}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += rows(annotation, env + "__")
        else:
            out.append((env, _default(field), (field.description or "").replace("|", "\\|")))
    return out


def table(target: str) -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for env, default, description in rows(_settings_class(target)):
        shown = f"`{default}`" if default else ""
        lines.append(f"| `{env}` | {shown} | {description} |")
    return "\n".join(lines)


def render(readme: str) -> str:
    for name, target in SETTINGS_CLASSES.items():
        pattern = re.compile(
            rf"(<!-- settings:{name} -->\n).*?(<!-- /settings:{name} -->)", re.DOTALL
        )
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no <!-- settings:{name} --> markers")
        replacement = r"\g<1>" + table(target).replace("\\", "\\\\") + "\n" + r"\g<2>"
        readme = pattern.sub(replacement, readme)
    return readme


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else README
    path.write_text(render(path.read_text()))
