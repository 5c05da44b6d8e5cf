"""The classifier's hyperparameters: ``hyperparameters.toml`` beside this module (the note there says
how each value was chosen), read without importing scikit-learn."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from corpus.errors import ClassifierError


def load_hyperparameters(path: Path | None = None) -> dict:
    """The shipped ``hyperparameters.toml``, or another file with the same sections."""
    try:
        if path is None:
            text = resources.files("classifier").joinpath("hyperparameters.toml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ClassifierError(f"cannot read classifier hyperparameters {path or 'hyperparameters.toml'}: {exc}") from None
    missing = {"features", "model", "relevance"} - set(data)
    if missing:
        raise ClassifierError(f"classifier hyperparameters lack the section [{sorted(missing)[0]}]; start from classifier/hyperparameters.toml")
    return data
