"""Streaming reader of PubMed XML (``PubmedArticleSet``): efetch output, web exports, baseline/update files.

A baseline file holds ~30,000 records (hundreds of MB uncompressed), so the reader never builds the
whole tree: ``lxml.etree.iterparse`` hands over one record at a time, the record is mapped to an
``Article`` and its element cleared, and earlier siblings are dropped from the root. Memory stays
flat whatever the file size.

The parser is hardened for files from anywhere: no DTD is loaded and nothing is fetched from the
network (PubMed files declare an https DTD), entities are not expanded, and ``huge_tree`` lifts
libxml2's limits on very long text nodes that real abstracts can hit.

Anything that is not a complete PubMed document is an ``InputError`` of one line naming the
source and, where known, the last good PMID and the line: a truncated file, an HTML error page,
an empty body, NCBI's ``<ERROR>`` inside a 200 response. Records yielded before the break are
complete; what the caller does with them is its decision (see ``harvester.ingest``).
"""

from __future__ import annotations

import codecs
import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from corpus.errors import InputError
from harvester.compression import open_binary
from harvester.pubmed_record import article_from_element, text_of
from harvester.records import Deletion, OnSkip, Record, Skipped, raise_on_skip

_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation", "ERROR")
_ROOT_TAGS = frozenset({"PubmedArticleSet", "PubmedBookArticleSet"})
Source = str | os.PathLike | bytes | BinaryIO


def parse_pubmed_xml(source: Source, *, name: str | None = None, on_skip: OnSkip = raise_on_skip) -> Iterator[Record]:
    """Yield an ``Article`` per record and a ``Deletion`` per ``<DeleteCitation>``, in file order.

    ``source`` is a path (gzip detected by its magic bytes), bytes, or a binary file object.
    A record without a PMID goes to ``on_skip`` (by default an ``InputError``).
    """
    if isinstance(source, (bytes, bytearray)):
        yield from _parse(io.BytesIO(source), name or "<bytes>", on_skip)
    elif isinstance(source, (str, os.PathLike)):
        with open_binary(source) as stream:
            yield from _parse(stream, name or str(Path(source)), on_skip)
    else:
        yield from _parse(source, name or str(getattr(source, "name", "<stream>")), on_skip)


def parse_pubmed_bytes(data: bytes, name: str = "<efetch response>") -> list[Record]:
    """A whole efetch response, or ``InputError`` (truncated, HTML, ``<ERROR>``, empty) so the caller retries."""
    return list(parse_pubmed_xml(data, name=name))


class _Head:
    """A pass-through reader that keeps the first bytes, to say *what* a non-PubMed input was."""

    def __init__(self, stream: BinaryIO, keep: int = 512):
        self.stream, self.keep, self.head = stream, keep, b""

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        if len(self.head) < self.keep:
            self.head += data[: self.keep - len(self.head)]
        return data


def _parse(stream: BinaryIO, name: str, on_skip: OnSkip) -> Iterator[Record]:
    head = _Head(stream)
    context = etree.iterparse(
        head,
        events=("end",),
        tag=_RECORD_TAGS,
        load_dtd=False,
        no_network=True,
        resolve_entities=False,
        huge_tree=True,
    )
    count, last_pmid = 0, ""
    try:
        for _, element in context:
            count += 1
            if element.tag == "ERROR":
                raise InputError(f"{name}: NCBI returned an error instead of records: {text_of(element)[:200]}")
            if element.tag == "DeleteCitation":
                yield Deletion(tuple(text_of(p) for p in element.iterfind("PMID") if text_of(p)))
            else:
                article = article_from_element(element)
                if article.pmid:
                    last_pmid = article.pmid
                    yield article
                else:
                    on_skip(Skipped(name, f"record {count} (line {element.sourceline})", "no PMID"))
            _release(element)
    except etree.XMLSyntaxError as exc:
        raise InputError(_syntax_message(name, head.head, count, last_pmid, exc)) from exc
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt or cut gzip stream, a failing disk
        raise InputError(f"{name}: cannot read after {count} records: {exc}") from exc
    root = context.root
    if count == 0 and (root is None or root.tag not in _ROOT_TAGS):
        tag = str(root.tag) if root is not None else ""
        if tag.lower() == "html":
            raise InputError(f"{name}: an HTML page, not PubMed XML (an error page from a server?)")
        raise InputError(f"{name}: not PubMed XML (root element <{tag}>, expected <PubmedArticleSet>)")


def _release(element: etree._Element) -> None:
    """Free a finished record and the already-finished siblings before it, so memory stays flat."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _syntax_message(name: str, head: bytes, count: int, last_pmid: str, exc: etree.XMLSyntaxError) -> str:
    start = head.removeprefix(codecs.BOM_UTF8).lstrip()[:200].lower()  # PubMed's website exports begin with one
    if not start:
        return f"{name}: empty file, no PubMed XML in it"
    if b"<html" in start or b"<!doctype html" in start:
        return f"{name}: an HTML page, not PubMed XML (an error page from a server?)"
    if not start.startswith(b"<"):
        return f"{name}: not XML (expected a PubmedArticleSet document)"
    after = f" after PMID {last_pmid}" if last_pmid else ""
    reason = " ".join(str(exc.msg).split())
    return f"{name}: truncated or malformed XML at line {exc.lineno}{after} ({count} records read): {reason}"
