"""Saving and loading a trained model, with the metadata that makes it auditable.

``model.json`` (readable: version, training-data hash, settings, library versions,
metrics, thresholds) names the model file it describes, ``model-<hash>.joblib``, beside it.
A save puts the new model file in place under its own name, then replaces ``model.json`` in
one step, so the metadata read without unpickling (the digest's relevance threshold, for one)
always belongs to the model that is loaded, whenever a save is cut short. The JSON is checked
before anything is unpickled, so a model made by another scikit-learn or oihwatch version, or
for other topic rules, is a clear error telling to retrain, never a silent mismatch; and so is
the model file's content against the hash in its name, so a damaged file is never used.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
from pathlib import Path
from typing import BinaryIO

import joblib

from classifier.metadata import META_FILE, UNNAMED_MODEL_FILE, check_meta, model_path, read_meta
from classifier.model import OihModel
from corpus.errors import ClassifierError

# The name save_model gives a model file: the start of its SHA-256.
_HASHED_NAME = re.compile(r"model-([0-9a-f]{16})\.joblib")


def save_model(model: OihModel, directory: Path) -> Path:
    """Write the model file, then the metadata naming it; returns the metadata path.

    Nothing the metadata names is replaced, so a full disk or a crash leaves the previous model
    and its metadata as they were (and no temporary files); the error says it is kept only when
    there is one. Model files no longer named are removed once the new metadata is in place.
    """
    staged, staged_meta = directory / f".{UNNAMED_MODEL_FILE}.tmp", directory / f".{META_FILE}.tmp"
    saving = f"the model in {directory}"
    if directory.exists() and not directory.is_dir():
        raise ClassifierError(f"cannot save {saving}: it is a file, not a folder; set classifier.model_dir to a folder")
    kept = "; the previous model is kept" if (directory / META_FILE).is_file() else ""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, staged)
        _fsync(staged)
        with open(staged, "rb") as written:
            name = f"model-{_digest(written)}.joblib"
        os.replace(staged, directory / name)
        _fsync(directory)  # the model file is there before any metadata names it
        saving = str(directory / META_FILE)
        staged_meta.write_text(json.dumps({**model.meta, "model_file": name}, indent=2, default=str), encoding="utf-8")
        _fsync(staged_meta)
        os.replace(staged_meta, directory / META_FILE)
    except OSError as exc:
        for temporary in (staged, staged_meta):
            with contextlib.suppress(OSError):  # a folder that could not be made has nothing to clean up
                temporary.unlink(missing_ok=True)
        raise ClassifierError(f"cannot save {saving}: {exc.strerror or exc}{kept}. {_fix_for(exc, directory)}, "
                              "then run 'oihwatch train'") from None
    for old in [*directory.glob("model-*.joblib"), directory / UNNAMED_MODEL_FILE]:
        if old.name != name:
            with contextlib.suppress(OSError):  # left for the next save to remove: no metadata names it
                old.unlink(missing_ok=True)
    return directory / META_FILE


def _fsync(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _fix_for(exc: OSError, directory: Path) -> str:
    """What lets a failed save succeed: a folder one 'sudo oihwatch train' left to root needs its owner
    back, which free space would not give."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"Make {directory} writable for the user running oihwatch (after a run with sudo: sudo chown -R $USER {directory})"
    return "Free some space (or fix the folder's permissions)"


def _digest(handle: BinaryIO) -> str:
    """The start of the SHA-256 of the file open in ``handle``: a model file's name tells its content."""
    return hashlib.file_digest(handle, "sha256").hexdigest()[:16]


def load_model(directory: Path, app_version: str, settings: dict) -> OihModel:
    """The saved model, if it was made by these library versions for these topic rules.

    Commands that only read (``explain``) take no lock, so a ``train`` may replace the model
    between the metadata and the file it names: the file then is gone, and the new metadata
    is read once more.
    """
    for attempt in range(2):
        meta = read_meta(directory, require_file=False)
        check_meta(meta, directory, app_version, settings)
        path = model_path(directory, meta)
        try:
            handle = open(path, "rb")  # once open, a save removing the file cannot take it away
        except FileNotFoundError:
            if attempt:
                raise ClassifierError(f"no usable model in {directory}: {path.name} is missing; run 'oihwatch train'") from None
            continue
        with handle:
            return _unpickle(handle, path)


def _unpickle(handle: BinaryIO, path: Path) -> OihModel:
    """The model in ``handle``, open on ``path``, once its bytes match the SHA-256 its name carries.

    Bytes overwritten inside the arrays still unpickle, into a model that tags some records
    wrongly or fails deep in scikit-learn at classify, where nothing says that retraining
    cures it. Hashing the 0.9 MB file costs under 1 ms beside the 40-90 ms of unpickling it
    (measured on a model trained on 4,073 records of the shared corpus). ``model.joblib``,
    named by metadata written before model files carried their hash, is unpickled unchecked.
    """
    named = _HASHED_NAME.fullmatch(path.name)
    if named and _digest(handle) != named[1]:
        raise ClassifierError(f"cannot load {path} (damaged: its content does not match the SHA-256 in its name); run 'oihwatch train'")
    handle.seek(0)
    try:
        model = joblib.load(handle)
    except Exception as exc:  # unpickling can fail in many ways; each means the same thing to the user
        raise ClassifierError(f"cannot load {path} ({type(exc).__name__}); run 'oihwatch train'") from None
    if not isinstance(model, OihModel):
        raise ClassifierError(f"{path} is not an oihwatch model; run 'oihwatch train'")
    return model
