"""Where sessions are stored (VOICE_DATABASE__*), nested in the worker's Settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

DEFAULT_FILE = "voice-chat.db"


class DatabaseSettings(BaseModel):
    """The session store, chosen by one URL (VOICE_DATABASE__URL)."""

    url: str = Field(
        "",
        description=(
            "sqlite:///path/file.db or postgresql://user@host:5432/db "
            "(empty: a SQLite file in the data directory)."
        ),
    )
    pool_size: int = Field(5, ge=1, description="Connections kept open (PostgreSQL).")
    echo: bool = Field(False, description="Log every SQL statement (debugging).")
    tts_models_sync_seconds: float = Field(
        60.0, ge=0, description="Re-read the model server's models this often (0: at start only)."
    )

    def resolved_url(self, data_dir: Path) -> str:
        return self.url or f"sqlite:///{Path(data_dir).expanduser().resolve() / DEFAULT_FILE}"
