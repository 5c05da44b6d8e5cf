"""Opening an input file as bytes, gunzipping it when its first bytes say gzip.

The name does not decide: baseline files are ``.xml.gz``, but a browser may save an
efetch response gunzipped under the same name, and a ``.gz`` that is not gzip is a broken
download the user must hear about.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO

from corpus.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


def open_binary(path: str | Path) -> BinaryIO:
    """The file's content as a binary stream (decompressed if gzip); ``InputError`` if unreadable."""
    path = Path(path)
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    magic = stream.read(2)
    stream.seek(0)
    if magic == GZIP_MAGIC:
        stream.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if path.suffix.lower() in {".gz", ".gzip"}:
        stream.close()
        raise InputError(f"{path}: named .gz but is not gzip data; re-download it or rename it")
    return stream
