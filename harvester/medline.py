"""MEDLINE text (PubMed's "Send to → Citation manager" ``.nbib``, or ``rettype=medline``) → ``Article``.

``Bio.Medline`` splits the tagged lines into a dict per record (continuation lines joined,
repeated tags as lists); this module only maps the tags. MEDLINE text puts a structured
abstract on one line with its labels inline; they are split into sections again.

A PubMed Bookshelf record (a GeneReviews or StatPearls chapter) has a book title (BTI) where a
journal article has JT, and the book's publisher (PB), place (PL, which for a journal is its
country), editors (FED with ED, as FAU with AU) and the chapter's contribution date (CTDT); its
revision date is DRDT where an article's is LR. They fill the fields ``pubmed_record`` reads
from a ``<PubmedBookArticle>``, so a chapter from a ``.nbib`` file is cited and exported as one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TextIO

from Bio import Medline

from corpus.article import AbstractSection, Article, Author, Book, Link, MeshHeading
from corpus.errors import InputError
from harvester.abstract_text import sections_from_line
from harvester.dates import printed_date, sort_date
from harvester.records import OnSkip, Record, Skipped, raise_on_skip
from harvester.text import one_line

# MEDLINE tags of the comment/correction links → the XML RefType names the rest of oihwatch uses.
_LINK_TAGS = {
    "CON": "CommentOn",
    "CIN": "CommentIn",
    "EIN": "ErratumIn",
    "EFR": "ErratumFor",
    "CRI": "CorrectedandRepublishedIn",
    "CRF": "CorrectedandRepublishedFrom",
    "PRIN": "PartialRetractionIn",
    "PROF": "PartialRetractionOf",
    "RPI": "RepublishedIn",
    "RPF": "RepublishedFrom",
    "RIN": "RetractionIn",
    "RRI": "RetractedandRepublishedIn",
    "RRF": "RetractedandRepublishedFrom",
    "ROF": "RetractionOf",
    "UIN": "UpdateIn",
    "UOF": "UpdateOf",
    "SPIN": "SummaryForPatientsIn",
    "ORI": "OriginalReportIn",
    "ECI": "ExpressionOfConcernIn",
    "ECF": "ExpressionOfConcernFor",
}
_PMID_IN_LINK = re.compile(r"PMID:\s*(\d+)")
_DOI = re.compile(r"^(\S+)\s*\[doi\]$")
_CONTINUATION = " " * 6  # the indent of a field's further lines, as ``Bio.Medline`` reads them
_LAST_TAG = "SO"  # the field PubMed writes last in a journal article's record, ending it with a full stop
_BOOK_TAGS = frozenset({"BTI", "PB", "CTDT", "DRDT"})  # a Bookshelf chapter's, near its start


def parse_medline(handle: TextIO, *, name: str = "<medline>", on_skip: OnSkip = raise_on_skip) -> Iterator[Record]:
    """Yield an ``Article`` per MEDLINE record; a record without PMID goes to ``on_skip``.

    MEDLINE has no end-of-record mark, so a file cut in transit shows only in its last line, which
    has no line break: the record it ends is not read, and an ``InputError`` says so after the
    records before it, as for a RIS entry without its 'ER' line. A whole file may lack its final line
    break too (a script's ``"\\n".join``, some editors): its last line is then the end of the SO field
    (the citation: 'Bioinformatics. 2003 Nov 22;19(17):2308-10.'), which PubMed writes last in every
    record and closes with a full stop, so a last line of SO ending in '.' ends a whole record. A cut
    goes unnoticed only right after one of SO's few full stops, and loses nothing this module reads:
    SO repeats the journal, date, volume, issue, pages and DOI that their own fields give. A file cut
    at a line break instead ends in a record without SO; in PubMed's output (an earlier record has SO,
    or this one PubMed's OWN) that record is cut too: its abstract, MeSH and publication types
    ("Retracted Publication" among them) come after its title. A Bookshelf chapter (its book tags come
    early) is left out of that rule: its last field is not known here."""
    lines, whole = _Lines(handle), False
    for number, record in enumerate(Medline.parse(lines), start=1):
        pmid = f" (PMID {record['PMID']})" if record.get("PMID") else ""
        if lines.cut:
            raise InputError(f"{name}: truncated MEDLINE: the file ends inside line {lines.count}, with no line break, "
                             f"so record {number}{pmid} is cut off; download or export the file again")
        if lines.ended and _LAST_TAG not in record and (whole or "OWN" in record) and not _BOOK_TAGS & record.keys():
            raise InputError(f"{name}: truncated MEDLINE: the file ends at line {lines.count} inside record {number}{pmid}, "
                             f"before its last field ({_LAST_TAG}); download or export the file again")
        whole = whole or _LAST_TAG in record
        article = article_from_medline(record)
        if article.pmid:
            yield article
        else:
            on_skip(Skipped(name, f"record {number}", "no PMID"))


class _Lines:
    """The lines of a text handle, counted, with the ``tag`` of the field the last one read belongs to (a
    continuation line, indented six spaces, to the field before)."""

    def __init__(self, handle: TextIO):
        self.handle, self.count, self.tag, self.line, self.ended = handle, 0, "", "", False

    def __iter__(self) -> Iterator[str]:
        for line in self.handle:
            self.count += 1
            if not line.startswith(_CONTINUATION):
                self.tag = line[:4].rstrip()
            self.line = line
            yield line
        self.ended = True  # a record read now was not closed by a blank line: the file's last

    @property
    def cut(self) -> bool:
        """Whether the last line read ends without a line break (only a file's last can) elsewhere than at
        the end of a record: after its last field, SO, and the full stop that closes it."""
        return not self.line.endswith("\n") and not (self.tag == _LAST_TAG and self.line.rstrip().endswith("."))


def article_from_medline(record: dict) -> Article:
    """Map one ``Bio.Medline`` record (tag → str or list of str)."""
    printed = _printed_date(record)
    return Article(
        pmid=_one(record, "PMID"),
        title=_one(record, "TI") or _one(record, "BTI"),  # a whole book's title is its book title
        abstract_sections=sections_from_line(_one(record, "AB")),
        authors=_authors(record),
        journal=_one(record, "JT") or _one(record, "BTI"),
        journal_abbrev=_one(record, "TA"),
        issn=_issn(record),
        volume=_one(record, "VI"),
        issue=_one(record, "IP"),
        pages=_one(record, "PG"),
        pub_date=printed,
        pub_date_sort=sort_date(printed),
        created=_date(_one(record, "CRDT")) or _date(_one(record, "DA")),
        entrez_date=_date(_one(record, "EDAT")),
        revised=_date(_one(record, "LR")) or _date(_one(record, "DRDT")),
        doi=_doi(record),
        pmcid=_one(record, "PMC"),
        languages=_many(record, "LA"),
        vernacular_title=_one(record, "TT"),
        other_abstracts=[AbstractSection(text) for text in _many(record, "OAB")],
        mesh=[_mesh(term) for term in _many(record, "MH")],
        keywords=list(dict.fromkeys(_many(record, "OT"))),
        publication_types=_many(record, "PT"),
        links=[_link(kind, text) for tag, kind in _LINK_TAGS.items() for text in _many(record, tag)],
        status=_one(record, "STAT"),
        **_book(record),
    )


def _many(record: dict, tag: str) -> list[str]:
    value = record.get(tag, [])
    values = [value] if isinstance(value, str) else value
    return [text for text in map(one_line, values) if text]


def _one(record: dict, tag: str) -> str:
    values = _many(record, tag)
    return values[0] if values else ""


def _printed_date(record: dict) -> str:
    """DP; a book chapter's date is the day it was contributed (CTDT), not the date of its book (DP: the year
    GeneReviews began), as ``pubmed_record`` reads a chapter. The day is printed as the XML gives it ('2018 Sep 5')."""
    contributed = _date(_one(record, "CTDT")) if _one(record, "BTI") and _one(record, "TI") else ""
    if not contributed:
        return _one(record, "DP")
    year, month, day = contributed.split("-")
    return printed_date(year, month, str(int(day)))


def _authors(record: dict) -> list[Author]:
    """The persons of FAU and AU; CN are group authors (listed after)."""
    return _people(record, "FAU", "AU") + [Author(collective=group) for group in _many(record, "CN")]


def _people(record: dict, full_tag: str, short_tag: str) -> list[Author]:
    """FAU ('Mangalam, Harry') with AU ('Mangalam H') for initials, or a book's FED with ED.
    Records before 2002 carry only AU, whose last word is the initials."""
    full, short = _many(record, full_tag), _many(record, short_tag)
    people = []
    for index, name in enumerate(full or short):
        initials = short[index].rpartition(" ")[2] if index < len(short) and " " in short[index] else ""
        if full:
            last, _, fore = name.partition(",")
            people.append(Author(last=last.strip(), fore=fore.strip(), initials=initials))
        else:
            people.append(Author(last=name.rpartition(" ")[0].strip() if initials else name, initials=initials))
    return people


def _book(record: dict) -> dict:
    """A Bookshelf record's ``is_book`` and ``book`` (publisher, place, editors; None when it names none of them);
    nothing for a journal article, whose PL is its journal's country, not a place of publication."""
    if not _one(record, "BTI"):
        return {}
    return {"is_book": True, "book": Book.named(_one(record, "PB"), _one(record, "PL"), _people(record, "FED", "ED"))}


def _issn(record: dict) -> str:
    """'1467-5463 (Print)' → '1467-5463'; the first listed, as in the XML."""
    first = _one(record, "IS")
    return first.split(" ")[0] if first else ""


def _doi(record: dict) -> str:
    for value in _many(record, "LID") + _many(record, "AID"):
        match = _DOI.match(value)
        if match:
            return match.group(1)
    return ""


def _date(value: str) -> str:
    """'2002/09/17 10:00' or '20041117' → '2002-09-17'."""
    digits = value.split(" ")[0].replace("/", "")
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return ""


def _mesh(term: str) -> MeshHeading:
    """'*Analgesics, Opioid/administration & dosage/*adverse effects' → descriptor, major flag, 'adverse effects*'."""
    descriptor, *qualifiers = term.split("/")
    starred = tuple(q.lstrip("*") + ("*" if q.startswith("*") else "") for q in qualifiers)
    major = descriptor.startswith("*") or any(q.endswith("*") for q in starred)
    return MeshHeading(descriptor=descriptor.lstrip("*"), major=major, qualifiers=starred)


def _link(kind: str, text: str) -> Link:
    match = _PMID_IN_LINK.search(text)
    source = text[: match.start()].strip() if match else text
    return Link(kind, match.group(1) if match else "", source)
