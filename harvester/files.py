"""One entry point for every input file: ``read_records(path)`` picks the reader.

The content decides first, then the name: a file whose first non-blank byte is '<' is PubMed
XML whatever it is called (gzip is detected by its magic bytes, see ``compression``), a file
starting with 'PMID-' is MEDLINE, 'TY  -' is RIS; otherwise the extension (.nbib/.txt, .ris,
.csv). Every failure is one ``InputError`` line that names the file.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from corpus.article import Article
from corpus.errors import InputError
from harvester.compression import open_binary
from harvester.csv_table import parse_csv
from harvester.jsonl import parse_jsonl
from harvester.medline import parse_medline
from harvester.pubmed_xml import parse_pubmed_xml
from harvester.records import OnSkip, Record, raise_on_skip
from harvester.ris import parse_ris

_MEDLINE_START = re.compile(rb"^\s*PMID- ", re.MULTILINE)
_RIS_START = re.compile(rb"^\s*TY  - ")
FORMATS = "PubMed XML (.xml, .xml.gz), MEDLINE (.nbib, .txt), RIS (.ris), CSV (.csv) or oihwatch JSON Lines (.jsonl)"


def read_records(path: str | Path, on_skip: OnSkip = raise_on_skip, name: str | None = None) -> Iterator[Record]:
    """Stream the records of one file. ``name`` is how people know it (default its path: stdin's temp
    copy is 'stdin'): each article's ``source``, and the file every message names."""
    path = Path(path)
    name = name or str(path)
    with contextlib.ExitStack() as opened:
        stream = opened.enter_context(open_binary(path))
        try:
            head = _peek(stream, name)
            if not head.strip():
                raise InputError(f"{name}: empty file, no records in it")
            for record in _reader(opened, stream, head, path, name, on_skip):
                if isinstance(record, Article):
                    record.source = name
                yield record
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: not UTF-8 text (at byte {exc.start} of a block); save it as UTF-8") from exc
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputError(f"{name}: cannot read (corrupt gzip?): {exc}") from exc


def _reader(
    opened: contextlib.ExitStack, stream: BinaryIO, head: bytes, path: Path, name: str, on_skip: OnSkip
) -> Iterator[Record]:
    start = head.removeprefix(codecs.BOM_UTF8).lstrip()
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if start.startswith(b"<") or suffix == ".xml":
        return parse_pubmed_xml(stream, name=name, on_skip=on_skip)
    if _MEDLINE_START.match(start) or suffix in {".nbib", ".txt", ".medline"}:
        if not _MEDLINE_START.search(head):  # Bio.Medline reads any text as PMID-less records
            raise InputError(f"{name}: not MEDLINE text (no 'PMID- ' line at the start); expected {FORMATS}")
        return parse_medline(opened.enter_context(_text(stream)), name=name, on_skip=on_skip)
    if _RIS_START.match(start) or suffix == ".ris":
        return parse_ris(opened.enter_context(_text(stream)), name=name, on_skip=on_skip)
    if suffix == ".csv":
        return parse_csv(opened.enter_context(_text(stream, newline="")), name=name, on_skip=on_skip)
    if start.startswith(b"{") or suffix in {".jsonl", ".ndjson"}:
        return parse_jsonl(opened.enter_context(_text(stream)), name=name, on_skip=on_skip)
    raise InputError(f"{name}: cannot tell the format; expected {FORMATS}")


def _peek(stream: BinaryIO, name: str) -> bytes:
    """The first bytes without consuming them (both plain and gzip streams are buffered)."""
    try:
        return stream.peek(4096)[:4096]  # type: ignore[attr-defined]
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{name}: cannot read (corrupt gzip?): {exc}") from exc


def _text(stream: BinaryIO, newline: str | None = None) -> io.TextIOWrapper:
    # utf-8-sig: exports saved by Excel or Windows tools begin with a byte-order mark.
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline=newline)
