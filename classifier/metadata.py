"""The saved model's metadata file, ``model.json``, read as JSON, and the check that the model it
describes fits this oihwatch, scikit-learn and these topic rules: what the digest's relevance
threshold and ``status`` need, without unpickling the model or importing scikit-learn (a second
of every command's start). Writing the model, and loading it: ``classifier.persistence``.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from corpus.errors import ClassifierError

FORMAT = 1  # of the saved model; bump when its layout changes
META_FILE = "model.json"
# The model file of metadata written before it named one.
UNNAMED_MODEL_FILE = "model.joblib"


def sklearn_version() -> str:
    """scikit-learn's version without importing it; training records the same string, so the two always compare."""
    try:
        return version("scikit-learn")
    except PackageNotFoundError:  # a build without package metadata: ask the module itself
        import sklearn

        return sklearn.__version__


def model_path(directory: Path, meta: dict) -> Path:
    """The model file ``meta`` describes."""
    return directory / meta.get("model_file", UNNAMED_MODEL_FILE)


def read_meta(directory: Path, require_file: bool = True) -> dict:
    """The saved model's metadata; an error unless the model file it names is there too (unless not
    ``require_file``: a loader that opens the file finds out itself, and can read again)."""
    path = directory / META_FILE
    if not path.exists():
        raise ClassifierError(f"no trained model in {directory}; run 'oihwatch train' first")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClassifierError(f"cannot read {path} ({exc}); run 'oihwatch train' to rebuild the model") from None
    if require_file and not model_path(directory, meta).is_file():
        raise ClassifierError(f"no usable model in {directory}: {model_path(directory, meta).name} is missing; run 'oihwatch train'")
    return meta


def check_meta(meta: dict, directory: Path, app_version: str, settings: dict) -> None:
    """Raise unless these library versions and topic rules made the model ``meta`` describes."""
    made = (meta.get("format"), meta.get("sklearn"), meta.get("oihwatch"))
    here = (FORMAT, sklearn_version(), app_version)
    if made != here:
        raise ClassifierError(
            f"the model in {directory} was made by oihwatch {made[2]} with scikit-learn {made[1]} (model format {made[0]}); "
            f"this is oihwatch {here[2]} with scikit-learn {here[1]} (model format {here[0]}): run 'oihwatch train'"
        )
    if trained_for(meta) != settings:
        raise ClassifierError(f"the topics or their rules changed since the model in {directory} was trained; run 'oihwatch train'")


def trained_for(meta: dict) -> dict:
    """The topic and relevance rules the model ``meta`` describes was trained for, in the shape of
    ``classifier.topics.rules_fingerprint``: tags it made fit these, and no others."""
    trained = meta.get("settings", {})
    return {"topics": trained.get("topics"), "relevance": trained.get("relevance")}
