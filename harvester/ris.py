"""RIS (EndNote, Zotero, Mendeley exports) → ``Article``, via ``rispy``.

RIS has no PMID tag. Exports of PubMed records carry it in one of three places, which we
read in this order: ``AN`` (accession number, EndNote's PubMed import), a PubMed URL in ``UR``,
or "PMID: 123" in the notes (Zotero). An entry with none of them has no identity in the
corpus and is skipped with that reason.

``rispy`` reads a whole file into a list; RIS exports are reference-manager sized (thousands
of entries at most), unlike PubMed XML baseline files, so that is acceptable here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TextIO

import rispy

from corpus.article import AbstractSection, Article
from corpus.errors import InputError
from harvester.dates import sort_date
from harvester.records import OnSkip, Record, Skipped, author_from_name, raise_on_skip

_PUBMED_URL = re.compile(r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/)(\d+)")
_PMID_NOTE = re.compile(r"PMID:\s*(\d+)")


def parse_ris(handle: TextIO, *, name: str = "<ris>", on_skip: OnSkip = raise_on_skip) -> Iterator[Record]:
    """Yield an ``Article`` per RIS entry that names a PMID; the others go to ``on_skip``."""
    entries = rispy.load(handle)
    if not entries:  # rispy reads anything without complaint; no 'TY  -' line means no entries
        raise InputError(f"{name}: no RIS entries (expected lines like 'TY  - JOUR' ... 'ER  - ')")
    for number, entry in enumerate(entries, start=1):
        article = article_from_ris(entry)
        if article.pmid:
            yield article
        else:
            title = article.title[:60]
            on_skip(Skipped(name, f"entry {number}" + (f" ({title!r})" if title else ""), "no PMID"))


def article_from_ris(entry: dict) -> Article:
    """Map one ``rispy`` entry (its long field names: 'primary_title', 'journal_name' ...)."""
    year = _first(entry, "year", "publication_year").split("/")[0]
    start, end = _first(entry, "start_page"), _first(entry, "end_page")
    abstract = _first(entry, "abstract", "notes_abstract")
    return Article(
        pmid=_pmid(entry),
        title=_first(entry, "title", "primary_title"),
        abstract_sections=[AbstractSection(abstract)] if abstract else [],
        authors=[author_from_name(a) for a in entry.get("authors") or entry.get("first_authors") or []],
        journal=_first(entry, "journal_name", "secondary_title", "alternate_title3"),
        journal_abbrev=_first(entry, "alternate_title1", "alternate_title2"),
        issn=_first(entry, "issn"),
        volume=_first(entry, "volume"),
        issue=_first(entry, "number"),
        pages=f"{start}-{end}" if start and end and end != start else start,
        pub_date=year,
        pub_date_sort=sort_date(year),
        doi=_first(entry, "doi").removeprefix("https://doi.org/"),
        languages=[_first(entry, "language")] if _first(entry, "language") else [],
        keywords=list(dict.fromkeys(" ".join(k.split()) for k in entry.get("keywords", []) if k.strip())),
    )


def _first(entry: dict, *keys: str) -> str:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, list):
            value = value[0] if value else ""
        if value and str(value).strip():
            return " ".join(str(value).split())
    return ""


def _pmid(entry: dict) -> str:
    accession = _first(entry, "accession_number")
    if accession.isdigit():
        return accession
    for url in entry.get("urls", []):
        match = _PUBMED_URL.search(url)
        if match:
            return match.group(1)
    notes = entry.get("notes", [])
    for note in [notes] if isinstance(notes, str) else notes:
        match = _PMID_NOTE.search(note)
        if match:
            return match.group(1)
    return ""
