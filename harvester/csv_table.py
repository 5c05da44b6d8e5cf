"""CSV (one row per record) → ``Article``: ASReview-style files and oihwatch's own ``export --format csv``.

ASReview files carry title, abstract, pmid/doi, keywords, authors, year; our export adds
journal, volume, issue, pages, pmcid, mesh, publication_types, language, and (in its last
columns, absent from older exports) journal_abbrev, the printed pub_date, which gives the
full date where the year alone would give January 1st, and collective_authors, which tells the
group authors among the authors (in a file without it, a name without a comma that reads as a
group's is one: ``records.is_group_name``), then for a PubMed Bookshelf record its reference_type
(chapter or book), publisher, place and editors. Lists are joined by '; ' and a
structured abstract is written as 'LABEL: text' lines. A cell of ours that a spreadsheet
would run as a formula ('=...', '-...', '@...') starts with a quote, taken off again here
(``exports.from_spreadsheet_text``). Headers are matched
case-insensitively, and the PMID column may be spelled as the tools that write these files
spell it (``pmid``, ``pubmedID`` in the Cohen/SYNERGY files, ``pubmed_id``). Other columns
(screening labels, record ids, and the tags and scores our export writes) are ignored.

Names: our export writes a person 'Last, Fore' (the Cohen 'local' files too). A file without a
'mesh' column (not ours) may write them without the comma: the ASReview 'online' files put the
forenames first ('Vincent Bonhomme', 'Pierre Yves Dewandre', 'S Iu Zemskaia', 'Ø Røsjø'). There a
name of two or more words, not a group's, is forenames and a surname: the last word with the
particles right before it ('Chiara Di Schino', 'J de J Mari'), never the first word; a name in
MEDLINE order ('Kellstein DE': one to three capitals last, after a word that is not an initial)
is surname first already. Read so, all but 113 of the 16,789 personal names of the four 'online'
files' 4,490 records are the names the 'local' files give them; the rest are mostly surnames of
two words ('Pilar Tejada González', read 'González, Pilar Tejada'). Our own export writes a
comma-less name only for a person PubMed gave a surname alone: it stays whole.

MeSH in a 'keywords' column: a file without a 'mesh' column may list a record's MeSH headings
under 'keywords' (the Cohen/ASReview files: 'Adolescent; Analgesia, Epidural; ...'), and read as
author keywords they would escape ``[mh]`` search, MeSH topic rules and the exports' ``mesh``. Its
first non-empty keywords cell decides, for the whole file as it streams past: when it names a MeSH
check tag (``_CHECK_TAGS``: 'Humans', 'Female', 'Aged', 'Rats' ..., which NLM's indexers add to
nearly every record and no author gives as a keyword), the column is read as MeSH headings. In the
four Cohen 'local' files every first cell does, and 4,480 of their 4,490 records get MeSH (the other
10 have no keywords). A file with a 'mesh' column (our own export) keeps its keywords as keywords.

Identity: the corpus is keyed by PMID. A row without one is skipped, with the reason (and its
DOI when it has one, so the user can look the PMID up): inventing a key from a DOI would
create a second record for the same paper the day a harvest brings it with its PMID.

A row with more or fewer cells than the header has would put values under the wrong columns, or
none: it is skipped the same way, with its line. A last row cut short, or ending inside a quoted
cell, is a truncated file: an ``InputError`` after the rows before it, as a cut XML file is.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from corpus.article import Article, Author, MeshHeading, with_retraction
from corpus.errors import InputError
from corpus.exports import from_spreadsheet_text
from harvester.abstract_text import sections_from_lines
from harvester.dates import date_or_year
from harvester.records import (
    OnSkip, Record, Skipped, author_from_name, book_fields, is_group_name, is_initials, raise_on_skip,
)
from harvester.text import one_line

# Words of a surname written before its last word, in any case: 'Chiara Di Schino', 'M de la Nuez', 'R de los Mozos'.
_PARTICLES = frozenset("de di da del della van von der den du la le los dos ten ter".split())
_PMID_COLUMNS = ("pmid", "pubmedid", "pubmed_id", "pubmed id")


def parse_csv(handle: TextIO, *, name: str = "<csv>", on_skip: OnSkip = raise_on_skip) -> Iterator[Record]:
    """Yield an ``Article`` per row with a PMID; rows without one, or not one cell per column, go to ``on_skip``.

    No title column is an ``InputError``, and so is a last row cut short (a truncated file), after the rows before it.
    """
    rows = _rows(handle, name)
    _, header = next(rows, (0, []))
    header = [h.strip().lower() for h in header]
    if "title" not in header:
        raise InputError(f"{name}: CSV has no 'title' column (columns: {', '.join(header) or 'none'})")
    columns = _Columns(pmid=next((c for c in _PMID_COLUMNS if c in header), None), ours="mesh" in header)
    short = None  # a row with too few cells is a bad row, unless the file ends with it: then the file was cut
    for line, row in rows:
        if short:
            on_skip(short)
            short = None
        if len(row) != len(header):
            wrong = Skipped(name, f"line {line} ({len(row)} cells for {len(header)} columns)", "not one cell per column")
            if len(row) < len(header):
                short = wrong
            else:
                on_skip(wrong)
            continue
        values = dict(zip(header, [from_spreadsheet_text(cell) for cell in row] if columns.ours else row))
        article = article_from_row(values, columns)
        if article.pmid:
            yield article
        else:
            doi = _cell(values, "doi")
            reason = f"no PMID (DOI {doi})" if doi else "no PMID"
            on_skip(Skipped(name, f"line {line}", reason))
    if short:
        raise InputError(f"{name}: truncated CSV: {short.record} ends the file")


_LONGEST_CELL = 64 * 1024 * 1024  # a consortium's author list passes csv's default limit of 128 KiB


def _rows(handle: TextIO, name: str) -> Iterator[tuple[int, list[str]]]:
    """(line it starts on, cells) for each row that is not blank; a cell may hold line breaks inside quotes."""
    csv.field_size_limit(max(csv.field_size_limit(), _LONGEST_CELL))
    reader = csv.reader(handle, strict=True)  # strict: a file ending inside a quoted cell is an error, not a short cell
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        if str(exc) == "unexpected end of data":  # strict mode's words for a file that ends inside quotes
            raise InputError(f"{name}: truncated CSV: the row of line {start} ends inside a quoted cell") from exc
        raise InputError(f"{name}: line {reader.line_num}: malformed CSV: {exc}") from exc


# MeSH check tags (NLM's list of headings indexers consider for every article): the mark of a MeSH list.
_CHECK_TAGS = frozenset((
    "Humans", "Animals", "Male", "Female", "Pregnancy", "Infant, Newborn", "Infant", "Child, Preschool", "Child",
    "Adolescent", "Young Adult", "Adult", "Middle Aged", "Aged", "Aged, 80 and over", "Rats", "Mice", "Cricetinae",
    "Guinea Pigs", "Rabbits", "Cats", "Dogs", "Swine", "Sheep", "Cattle", "Horses", "Haplorhini", "Chick Embryo",
))  # fmt: skip


@dataclass
class _Columns:
    """How a file's cells are read: from its header, and (for 'keywords') its first keywords cell."""

    pmid: str | None  # the PMID column's name, if it has one
    ours: bool  # a 'mesh' column: oihwatch's own export
    keywords_are_mesh: bool | None = None  # None until a non-empty keywords cell decides it

    def read_as_mesh(self, keywords: str) -> bool:
        """Whether the file's keywords are MeSH headings: decided once, by its first non-empty keywords cell."""
        if self.keywords_are_mesh is None and keywords.strip():
            self.keywords_are_mesh = not self.ours and not _CHECK_TAGS.isdisjoint(_parts(keywords))
        return bool(self.keywords_are_mesh)


def article_from_row(values: dict[str, str], columns: _Columns) -> Article:
    """One row (lower-cased headers → cells); ``pmid`` is '' when the row has no usable PMID."""
    pmid = values.get(columns.pmid, "").strip() if columns.pmid else ""
    if pmid.endswith(".0"):  # spreadsheets turn PMIDs into floats
        pmid = pmid[:-2]
    pub_date, pub_date_sort = date_or_year(_cell(values, "pub_date"), values.get("year", ""))
    keywords = _split(values.get("keywords", ""))
    if columns.read_as_mesh(values.get("keywords", "")):
        mesh, keywords = keywords, []
    else:
        mesh = _split(values.get("mesh", ""))
    return Article(
        pmid=pmid if pmid.isdigit() else "",
        title=_cell(values, "title"),
        abstract_sections=sections_from_lines(values.get("abstract", "")),
        authors=_authors(values, forename_first=not columns.ours),
        journal=_cell(values, "journal"),
        journal_abbrev=_cell(values, "journal_abbrev"),
        volume=_cell(values, "volume"),
        issue=_cell(values, "issue"),
        pages=_cell(values, "pages"),
        pub_date=pub_date,
        pub_date_sort=pub_date_sort,
        doi=_cell(values, "doi").removeprefix("https://doi.org/"),
        pmcid=_cell(values, "pmcid"),
        languages=_split(values.get("language", "")),
        mesh=[MeshHeading(term) for term in mesh],
        keywords=keywords,
        publication_types=with_retraction(_split(values.get("publication_types", "")), _cell(values, "retracted") == "True"),
        **book_fields(_cell(values, "reference_type"), _cell(values, "publisher"), _cell(values, "place"), _parts(values.get("editors", ""))),
    )


def _authors(values: dict[str, str], forename_first: bool) -> list[Author]:
    """The 'authors' cell; a name also in 'collective_authors' (our export's column) is a group author."""
    groups = set(_parts(values.get("collective_authors", "")))
    names = _parts(values.get("authors", ""))
    return [Author(collective=name) if name in groups else _author(name, forename_first) for name in names]


def _author(name: str, forename_first: bool) -> Author:
    """'Carr, A S' (our export, the Cohen files), or 'A S Carr' (ASReview's online files, ``forename_first``) →
    ``Author``; a group's name ('Nasal Diamorphine Trial Group', ``is_group_name``) → a collective author, before
    its first word could be read as a forename ('A Study Group')."""
    if is_group_name(name):
        return Author(collective=name)
    return author_from_name(_surname_first(name) if forename_first and "," not in name else name)


def _surname_first(name: str) -> str:
    """'Pierre Yves Dewandre' → 'Dewandre, Pierre Yves', 'Chiara Di Schino' → 'Di Schino, Chiara' (the last word and
    the particles before it, never the first word); 'Kellstein DE', in MEDLINE order, → 'Kellstein, DE'."""
    words = name.split()
    if len(words) < 2:
        return name
    if is_initials(words[-1]) and not _is_initial(words[0]):
        return f"{' '.join(words[:-1])}, {words[-1]}"
    start = len(words) - 1
    while start > 1 and words[start - 1].lower() in _PARTICLES:
        start -= 1
    return f"{' '.join(words[start:])}, {' '.join(words[:start])}"


def _is_initial(word: str) -> bool:
    """'A', 'A.', 'Ø': one capital, the shape of a forename's initial, never of a surname."""
    return len(word.rstrip(".")) == 1 and word[0].isupper()


def _cell(values: dict[str, str], column: str) -> str:
    return one_line(values.get(column, ""))


def _parts(cell: str) -> list[str]:
    """'Adolescent; Analgesia, Epidural; ...' → items (';' separates; ',' belongs to MeSH and author names)."""
    return [part for part in map(one_line, cell.split(";")) if part]


def _split(cell: str) -> list[str]:
    """``_parts`` without repeats (two authors may share a name; a keyword is listed once)."""
    return list(dict.fromkeys(_parts(cell)))
