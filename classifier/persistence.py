"""Saving and loading a trained model, with the metadata that makes it auditable.

``model.json`` (readable: version, training-data hash, settings, library versions,
metrics) sits beside ``model.joblib``. The JSON is checked before anything is
unpickled, so a model made by another scikit-learn or oihwatch version, or for
other topic rules, is a clear error telling to retrain, never a silent mismatch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import sklearn

from classifier.model import OihModel
from classifier.training import FORMAT
from corpus.errors import ClassifierError

MODEL_FILE, META_FILE = "model.joblib", "model.json"


def save_model(model: OihModel, directory: Path) -> Path:
    """Write both files, then move both into place; returns the metadata path.

    Nothing is replaced until both are written and on disk, so a full disk or a crash
    leaves the previous model and its metadata as they were (and no temporary files).
    """
    writers = {MODEL_FILE: lambda p: joblib.dump(model, p),
               META_FILE: lambda p: p.write_text(json.dumps(model.meta, indent=2, default=str), encoding="utf-8")}
    temporary = {name: directory / f".{name}.tmp" for name in writers}
    name = MODEL_FILE
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, write in writers.items():
            write(temporary[name])
            with open(temporary[name], "rb") as handle:
                os.fsync(handle.fileno())
        for name, path in temporary.items():
            os.replace(path, directory / name)
    except OSError as exc:
        for path in temporary.values():
            path.unlink(missing_ok=True)
        raise ClassifierError(
            f"cannot save {directory / name}: {exc.strerror or exc}; the previous model is kept. "
            "Free some space (or fix the folder's permissions), then run 'oihwatch train'"
        ) from None
    return directory / META_FILE


def read_meta(directory: Path) -> dict:
    path = directory / META_FILE
    if not path.exists() or not (directory / MODEL_FILE).exists():
        raise ClassifierError(f"no trained model in {directory}; run 'oihwatch train' first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClassifierError(f"cannot read {path} ({exc}); run 'oihwatch train' to rebuild the model") from None


def load_model(directory: Path, app_version: str, settings: dict) -> OihModel:
    """The saved model, if it was made by these library versions for these topic rules."""
    meta = read_meta(directory)
    made = (meta.get("format"), meta.get("sklearn"), meta.get("oihwatch"))
    here = (FORMAT, sklearn.__version__, app_version)
    if made != here:
        raise ClassifierError(
            f"the model in {directory} was made by oihwatch {made[2]} with scikit-learn {made[1]} (format {made[0]}); "
            f"this is oihwatch {here[2]} with scikit-learn {here[1]}: run 'oihwatch train'"
        )
    trained_for = {"topics": meta["settings"]["topics"], "relevance": meta["settings"]["relevance"]}
    if trained_for != settings:
        raise ClassifierError(f"the topics or their rules changed since the model in {directory} was trained; run 'oihwatch train'")
    try:
        model = joblib.load(directory / MODEL_FILE)
    except Exception as exc:  # unpickling can fail in many ways; each means the same thing to the user
        raise ClassifierError(f"cannot load {directory / MODEL_FILE} ({type(exc).__name__}); run 'oihwatch train'") from None
    if not isinstance(model, OihModel):
        raise ClassifierError(f"{directory / MODEL_FILE} is not an oihwatch model; run 'oihwatch train'")
    return model
