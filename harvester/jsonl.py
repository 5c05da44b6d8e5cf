"""JSON Lines (one record per line) → ``Article``: oihwatch's own ``export --format jsonl``.

Everything the export writes about the record is read back: authors (with
``collective_authors`` marking group names), journal and its abbreviation, the printed
date (else the year), volume, issue, pages, DOI, PMCID, language, MeSH headings, keywords,
publication types, the vernacular title and other-language abstracts, and a book chapter's
publisher, place and editors. The abstract comes from ``abstract_sections`` (each section's
label, NLM category and text: the key finding goes by the category) when they say what the
``abstract`` lines say, whitespace aside; else, in older exports and where someone edited the
``abstract`` by hand, those ``LABEL: text`` lines become sections again, without categories.
MeSH comes from ``mesh_headings`` (with major-topic flags, UI and qualifiers) when a line has
it, else from the plain list of names in ``mesh``, which older exports and other corpora hold.
``notices`` become the paper's links to them again (only the kinds the digest warns of,
``WARNING_LINKS``), so a store built from the export warns of errata, expressions of concern
and retractions as ours does. Our tags, scores and key finding are the classifier's to
compute, not the record's, and are ignored. The same reader takes the normalised corpora
researchers pass around in that shape (``publication_types`` may be called ``pubtypes``;
missing fields may be null).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TextIO

from corpus.article import WARNING_LINKS, AbstractSection, Article, Author, Link, MeshHeading, sections_text, with_retraction
from corpus.errors import InputError
from harvester.abstract_text import sections_from_lines
from harvester.dates import date_or_year
from harvester.records import OnSkip, Record, Skipped, author_from_name, book_fields, raise_on_skip
from harvester.text import one_line, without_controls

# What ends a JSON token: whitespace, structure, a string's quote. A whole line ends in '}', so its
# mistakes have one of these after them; the end of a line cut off does not.
_TOKEN_BOUNDARY = re.compile(r'[\s{}\[\],:"]')


def parse_jsonl(handle: TextIO, *, name: str = "<jsonl>", on_skip: OnSkip = raise_on_skip) -> Iterator[Record]:
    """Yield an ``Article`` per line with a PMID; a line that is not a JSON object is an ``InputError``."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(_not_json(name, number, line, exc)) from None
        if not isinstance(data, dict):
            raise InputError(f"{name}: line {number}: expected a JSON object per line")
        pmid = str(data.get("pmid") or "").strip()
        if not pmid.isdigit():
            on_skip(Skipped(name, f"line {number}", "no PMID"))
            continue
        yield article_from_json(pmid, data)


def _not_json(name: str, number: int, line: str, exc: json.JSONDecodeError) -> str:
    """What is wrong with a line JSON cannot read. Only a file's last line can lack its line break: when
    JSON also ran out of text there, the file was cut off inside that record, as a download or copy that
    stopped early leaves it; a whole line with a mistake in it is not JSON, wherever it stands."""
    if not line.endswith("\n") and _ran_out(line.rstrip(), exc):
        return (f"{name}: truncated JSON Lines: line {number} ends the file inside a record; "
                "the records before it are read: export or download the whole file again")
    return f"{name}: line {number}: not JSON ({exc.msg}: column {exc.colno})"  # some of json's messages end awaiting a position ('... starting at')


def _ran_out(text: str, exc: json.JSONDecodeError) -> bool:
    """Whether JSON failed on ``text`` for want of more: in a string left open at its end (the error
    names where the string starts), or with nothing but the unfinished last token after the error (a
    'nul', a '1.', a '\\u00e' that the end cuts short), the end itself among them. Never after a whole
    value ('Extra data': the record ended, and something follows it)."""
    if exc.msg.startswith("Extra data"):
        return False
    return exc.msg.startswith("Unterminated string") or not _TOKEN_BOUNDARY.search(text, exc.pos)


def article_from_json(pmid: str, data: dict) -> Article:
    pub_date, pub_date_sort = date_or_year(_text(data.get("pub_date")), str(data.get("year") or ""))
    groups = set(_strings(data.get("collective_authors")))
    language = data.get("language")
    return Article(
        pmid=pmid,
        title=_text(data.get("title")),
        abstract_sections=_abstract(data),
        authors=[Author(collective=a) if a in groups else author_from_name(a) for a in _strings(data.get("authors"))],
        journal=_text(data.get("journal")),
        journal_abbrev=_text(data.get("journal_abbrev")),
        volume=_text(data.get("volume")),
        issue=_text(data.get("issue")),
        pages=_text(data.get("pages")),
        pub_date=pub_date,
        pub_date_sort=pub_date_sort,
        doi=_text(data.get("doi")),
        pmcid=_text(data.get("pmcid")),
        languages=_strings(language) if isinstance(language, list) else _strings(_text(language).split(";")),
        vernacular_title=_text(data.get("vernacular_title")),
        other_abstracts=_sections(data.get("other_abstracts")),
        mesh=_mesh(data),
        keywords=_strings(data.get("keywords")),
        publication_types=with_retraction(_strings(data.get("publication_types", data.get("pubtypes"))), data.get("retracted") is True),
        links=_notices(data.get("notices")),
        **book_fields(_text(data.get("reference_type")), _text(data.get("publisher")), _text(data.get("place")), _strings(data.get("editors"))),
    )


def _abstract(data: dict) -> list[AbstractSection]:
    """``abstract_sections`` when they say what the ``abstract`` lines say, whitespace aside; else those lines'
    sections: an abstract edited by hand, where the sections were left as exported, is what the person meant."""
    lines = str(data.get("abstract") or "")
    sections = _sections(data.get("abstract_sections"))
    if sections and _text(sections_text(sections)) == _text(lines):
        return sections
    return sections_from_lines(lines)


def _sections(value: object) -> list[AbstractSection]:
    """``{"label", "category", "text"}`` objects as sections, the text as written; one without text is left out,
    as the XML reader leaves out an empty paragraph."""
    return [AbstractSection(without_controls(str(s["text"])).strip(), _text(s.get("label")), _text(s.get("category")))
            for s in _objects(value, "text")]


def _notices(value: object) -> list[Link]:
    """``{"kind", "pmid", "source"}`` objects as the paper's links to its notices; a kind the digest does not warn
    of (not in ``WARNING_LINKS``) is no notice and is left out."""
    links = [Link(_text(n["kind"]), _text(n.get("pmid")), _text(n.get("source"))) for n in _objects(value, "kind")]
    return [link for link in links if link.kind in WARNING_LINKS]


def _mesh(data: dict) -> list[MeshHeading]:
    """``mesh_headings`` with their flags when the line has them, else the names of the plain ``mesh`` list."""
    headings = _objects(data.get("mesh_headings"), "descriptor")
    if not headings:
        return [MeshHeading(term) for term in _strings(data.get("mesh"))]
    return [MeshHeading(_text(h["descriptor"]), _text(h.get("ui")), h.get("major") is True, _qualifiers(h.get("qualifiers"))) for h in headings]


def _qualifiers(value: object) -> tuple[str, ...]:
    """``{"name", "major"}`` objects as the model holds qualifiers: 'name', or 'name*' when major."""
    return tuple(_text(q["name"]) + ("*" if q.get("major") is True else "") for q in _objects(value, "name"))


def _objects(value: object, key: str) -> list[dict]:
    """The objects of a JSON list that have ``key``; anything else is left out, as ``_strings`` leaves out empty items."""
    return [item for item in value if isinstance(item, dict) and _text(item.get(key))] if isinstance(value, list) else []


def _text(value: object) -> str:
    return one_line(str(value)) if value else ""


def _strings(value: object) -> list[str]:
    return [text for text in map(_text, value) if text] if isinstance(value, list) else []
