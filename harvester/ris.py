"""RIS (EndNote, Zotero, Mendeley exports, and oihwatch's own) → ``Article``, via ``rispy``.

RIS has no PMID tag. Exports of PubMed records carry it in one of three places, which we
read in this order: ``AN`` (accession number, EndNote's PubMed import), a PubMed URL in ``UR``,
or "PMID: 123" in the notes (Zotero). An entry with none of them has no identity in the
corpus and is skipped with that reason.

Entries are cut out here ('TY  - ' to 'ER  - ', so the file streams and every error has a
line) and ``rispy`` maps each one's tags. ``rispy`` alone would drop an entry the file ends
inside, or run two entries together when an 'ER' is missing; both are ``InputError`` here,
after the complete entries before them, as a cut XML file is.

A book chapter (``TY  - CHAP``) has its book's title in T2, read as the journal's, and its
editors, publisher and place in A2, PB and CY; a whole book (BOOK) is its own title.

A group author is one name, without the comma that parts a person's surname from the rest
('EUROCARE Working Group'); our export writes a group's own commas as semicolons.

RIS has one tag (``KW``) for every kind of keyword: MeSH headings and author keywords alike
(a reference manager cannot tell them apart either), and the ``oihwatch:topic:...`` tags our
export adds, which are ours to compute, not the record's, and are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TextIO

import rispy

from corpus.article import Article, Author, with_retraction
from corpus.errors import InputError
from corpus.exports import RETRACTED_TAG, TAG_PREFIX
from harvester.abstract_text import sections_from_line
from harvester.dates import date_or_year, printed_date
from harvester.records import OnSkip, Record, Skipped, author_from_name, book_fields, raise_on_skip
from harvester.text import one_line

_PUBMED_URL = re.compile(r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/)(\d+)")
_PMID_NOTE = re.compile(r"PMID:\s*(\d+)")
_TAG_LINE = re.compile(r"^([A-Z][A-Z0-9])  -")  # rispy's reading of a tag line
# RIS types of a book chapter or a whole book (EndNote's electronic and edited ones too), as the exports name them.
_BOOK_TYPES = {"CHAP": "chapter", "ECHAP": "chapter", "BOOK": "book", "EBOOK": "book", "EDBOOK": "book"}


def parse_ris(handle: TextIO, *, name: str = "<ris>", on_skip: OnSkip = raise_on_skip) -> Iterator[Record]:
    """Yield an ``Article`` per RIS entry that names a PMID; the others go to ``on_skip``."""
    parser = rispy.RisParser()
    count = 0
    for count, (line, lines) in enumerate(_entries(handle, name), start=1):
        (entry,) = parser.parse_lines(iter(lines))
        article = article_from_ris(entry)
        if article.pmid:
            yield article
        else:
            title = article.title[:60]
            on_skip(Skipped(name, f"entry {count} (line {line})" + (f" ({title!r})" if title else ""), "no PMID"))
    if not count:
        raise InputError(f"{name}: no RIS entries (expected lines like 'TY  - JOUR' ... 'ER  - ')")


def _entries(handle: TextIO, name: str) -> Iterator[tuple[int, list[str]]]:
    """(line number of its 'TY', its lines) for each entry; text between entries is ignored, as rispy does."""
    start, lines = 0, []
    for number, line in enumerate(handle, start=1):
        tag = _TAG_LINE.match(line)
        if tag and tag.group(1) == "TY":
            if start:
                raise InputError(f"{name}: line {number}: a new entry starts before the entry of line {start} ended (no 'ER' line)")
            start, lines = number, []
        if not start:
            continue
        lines.append(line.rstrip("\r\n"))
        if tag and tag.group(1) == "ER":
            yield start, lines
            start = 0
    if start:
        raise InputError(f"{name}: truncated RIS: the entry of line {start} has no closing 'ER' line before the end of the file")


def article_from_ris(entry: dict) -> Article:
    """Map one ``rispy`` entry (its long field names: 'primary_title', 'journal_name' ...)."""
    kind = _BOOK_TYPES.get(_first(entry, "type_of_reference"), "")
    title = _first(entry, "title", "primary_title")
    year = _first(entry, "year", "publication_year").split("/")[0]
    pub_date, pub_date_sort = date_or_year(_printed_date(_first(entry, "date", "publication_year")), year)
    start, end = _first(entry, "start_page"), _first(entry, "end_page")
    keywords = [one_line(k) for k in entry.get("keywords", [])]
    return Article(
        pmid=_pmid(entry),
        title=title,
        abstract_sections=sections_from_line(_first(entry, "abstract", "notes_abstract")),
        authors=[_author(one_line(a)) for a in entry.get("authors") or entry.get("first_authors") or []],
        journal=title if kind == "book" else _first(entry, "journal_name", "secondary_title", "alternate_title3"),
        journal_abbrev=_first(entry, "alternate_title1", "alternate_title2"),
        issn=_first(entry, "issn"),
        volume=_first(entry, "volume"),
        issue=_first(entry, "number"),
        pages=f"{start}-{end}" if start and end and end != start else start,
        pub_date=pub_date,
        pub_date_sort=pub_date_sort,
        doi=_first(entry, "doi").removeprefix("https://doi.org/"),
        pmcid=_pmcid(entry),
        languages=[part.strip() for part in _first(entry, "language").split(";") if part.strip()],
        keywords=list(dict.fromkeys(k for k in keywords if k and not k.startswith(TAG_PREFIX))),
        publication_types=with_retraction([t.strip() for t in _first(entry, "type_of_work").split(";") if t.strip()],
                                          RETRACTED_TAG in keywords),
        **book_fields(kind, _first(entry, "publisher"), _first(entry, "place_published"),
                      [one_line(name) for name in entry.get("secondary_authors", [])]),
    )


def _author(name: str) -> Author:
    """A personal name is 'Last, Fore' in RIS; a name without a comma that reads as a group's is a group
    author, and so is one with a semicolon, which our export writes for a group's commas (``ris_group_name``)
    and no personal name holds: its commas are given back."""
    if ";" in name and "," not in name:
        return Author(collective=name.replace(";", ","))
    return author_from_name(name)


def _printed_date(date: str) -> str:
    """RIS's DA ('YYYY/MM/DD/other', as ``exports.ris_date`` writes it) as PubMed prints a date: '1976/09/28/' →
    '1976 Sep 28', '2003///Spring' → '2003 Spring'; '' when it does not start with a year (EndNote's
    free-text 'Sep 28': PY gives the year)."""
    year, month, day, other = (date.split("/", 3) + ["", "", ""])[:4]
    if not (len(year) == 4 and year.isdigit()):
        return ""
    return " ".join(part for part in (printed_date(year, month, day), other.strip()) if part)


def _first(entry: dict, *keys: str) -> str:
    for key in keys:
        value = entry.get(key)
        if isinstance(value, list):
            value = value[0] if value else ""
        text = one_line(str(value)) if value else ""
        if text:
            return text
    return ""


def _pmcid(entry: dict) -> str:
    """C2 when it holds a PMCID (other programs put other things there)."""
    value = _first(entry, "custom2")
    return value if re.fullmatch(r"PMC\d+", value) else ""


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
