"""A model file damaged in place, as a failing disk or a stray write leaves it: 8 bytes of its
coefficients overwritten (with the largest float64), so it still unpickles, into a model that
scores wrongly."""

from __future__ import annotations

from pathlib import Path

import joblib

LARGEST_FLOAT64 = b"\xff\xff\xff\xff\xff\xff\xef\x7f"


def overwrite_coefficients(path: Path) -> None:
    """Overwrite 8 bytes inside the coefficients of the model saved in ``path``."""
    coefficients = joblib.load(path).coef.tobytes(order="A")
    content = bytearray(path.read_bytes())
    at = content.find(coefficients[:64]) + len(coefficients) // 2 // 8 * 8
    assert at > len(coefficients) // 2, "the coefficients' bytes are not in the file"
    content[at:at + 8] = LARGEST_FLOAT64
    path.write_bytes(content)
