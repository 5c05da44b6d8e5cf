"""Where every benchmark finds the shared PubMed data: $OIHWATCH_SHARED_DATA, else ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_data() -> Path:
    """The folder; a benchmark without it stops with one line saying where it looked and what to set."""
    folder = Path(os.environ.get("OIHWATCH_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not folder.is_dir():
        raise SystemExit(f"real PubMed data not found at {folder}; set OIHWATCH_SHARED_DATA to the folder")
    return folder
