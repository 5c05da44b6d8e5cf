"""Where every benchmark finds the shared PubMed data: $OIHWATCH_SHARED_DATA, else ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_data() -> Path:
    return Path(os.environ.get("OIHWATCH_SHARED_DATA") or REPO.parent / "shared" / "data")
