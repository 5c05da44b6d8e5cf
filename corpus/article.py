"""The article model: one PubMed record as every part of oihwatch sees it.

Readers (PubMed XML, MEDLINE, RIS, CSV) produce ``Article`` objects; the store
keeps them; the classifier and reports read them. Fields follow PubMed's own
names where a researcher would cite or filter on them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from urllib.parse import quote

# A notice's link to the paper it concerns -> the link NLM gives that paper back. The two sides
# arrive apart (a new notice by create date, the revised original by a later sweep, or never).
# The names are PubMed XML's CommentsCorrections RefType values; a partial retraction has none in
# the XML DTD (pubmed_250101), and these are the names harvester.medline gives MEDLINE's PROF / PRIN.
NOTICE_LINKS = {
    "RetractionOf": "RetractionIn",
    "PartialRetractionOf": "PartialRetractionIn",
    "ErratumFor": "ErratumIn",
    "CorrectedandRepublishedFrom": "CorrectedandRepublishedIn",  # the corrected version, a paper of its own
    "RetractedandRepublishedFrom": "RetractedandRepublishedIn",  # the version that replaced a retracted one, likewise
    "ExpressionOfConcernFor": "ExpressionOfConcernIn",
}
# CommentsCorrections RefType values that tell a reader an article's standing changed.
RETRACTION_LINK = "RetractionIn"  # from the notice: the article's 'retracted' mark says all it says
RETRACTED_LINKS = frozenset({RETRACTION_LINK, "RetractedandRepublishedIn"})
WARNING_LINKS = frozenset(NOTICE_LINKS.values())
# A reader's words for each of WARNING_LINKS, as the digest's warnings and the exports' notes say them
# (``notice_words``); a retraction notice's are RETRACTED_WORDS, what the digest says of a retracted paper.
RETRACTED_WORDS = "Retracted"
NOTICE_WORDS = {
    "PartialRetractionIn": "Partially retracted",
    "ErratumIn": "Erratum published",
    "CorrectedandRepublishedIn": "Corrected and republished",
    "RetractedandRepublishedIn": "Retracted and replaced",
    "ExpressionOfConcernIn": "Expression of concern",
}
RETRACTED_PUBLICATION_TYPE = "Retracted Publication"
# Notices are news about another paper, never a paper to list.
NOTICE_PUBLICATION_TYPES = frozenset({"Retraction of Publication", "Published Erratum", "Expression of Concern"})
# The months as PubMed prints a date ('2023 Dec 05', ``Article.pub_date``): the readers that spell
# such a date out and the RIS writer that numbers its parts (DA) share them.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Author:
    """A personal author, or a collective (group) author when ``collective`` is set."""

    last: str = ""
    fore: str = ""
    initials: str = ""
    collective: str = ""

    @property
    def display(self) -> str:
        """'Krystal JH' style, as PubMed prints author lists."""
        if self.collective:
            return self.collective
        return f"{self.last} {self.initials}".strip() or self.fore


@dataclass(frozen=True)
class Book:
    """What a PubMed Bookshelf record (a GeneReviews chapter, a StatPearls one) says of its book besides the
    title, which ``Article.journal`` holds: what a reference manager's chapter or book entry cites."""

    publisher: str = ""
    place: str = ""  # of publication: 'Seattle (WA)'
    editors: tuple[Author, ...] = ()

    @classmethod
    def named(cls, publisher: str, place: str, editors: Iterable[Author]) -> Book | None:
        """The book, or None when the record names no publisher, place or editor (an empty book says nothing)."""
        editors = tuple(editors)
        return cls(publisher, place, editors) if publisher or place or editors else None


@dataclass(frozen=True)
class AbstractSection:
    """One paragraph of an abstract; ``label`` and ``category`` are empty when unstructured."""

    text: str
    label: str = ""
    category: str = ""


@dataclass(frozen=True)
class MeshHeading:
    """A MeSH descriptor with its major-topic flag and qualifiers ('name*' marks a major qualifier)."""

    descriptor: str
    ui: str = ""
    major: bool = False
    qualifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Link:
    """A CommentsCorrections link, e.g. ``Link('RetractionIn', '12345')``."""

    kind: str
    pmid: str = ""
    source: str = ""


@dataclass
class Article:
    """One PubMed record. ``pmid`` is the identity; everything else may be revised."""

    pmid: str
    title: str = ""
    abstract_sections: list[AbstractSection] = field(default_factory=list)
    authors: list[Author] = field(default_factory=list)
    journal: str = ""
    journal_abbrev: str = ""
    issn: str = ""
    volume: str = ""
    issue: str = ""
    pages: str = ""
    pub_date: str = ""  # as printed, e.g. "2003 Spring" or "1998 Dec-1999 Jan"
    pub_date_sort: str = ""  # ISO "YYYY-MM-DD", earliest day the printed date allows
    created: str = ""  # ISO date NLM created the record (crdt)
    entrez_date: str = ""  # ISO Entrez date (edat): the History "pubmed" event, backdated for late records
    revised: str = ""  # ISO DateRevised, used to tell a newer version of a record
    doi: str = ""
    pmcid: str = ""
    languages: list[str] = field(default_factory=list)
    vernacular_title: str = ""
    other_abstracts: list[AbstractSection] = field(default_factory=list)
    mesh: list[MeshHeading] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    publication_types: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    status: str = ""  # MedlineCitation/@Status: MEDLINE, In-Process, Publisher, ...
    version: int = 1
    is_book: bool = False
    book: Book | None = None  # a Bookshelf record's publisher, place and editors, when it names them
    source: str = ""  # where it came from: a file name, or "eutils"
    raw_xml: str = ""  # the record's own XML, so a parser fix can re-derive fields

    @property
    def abstract(self) -> str:
        """The abstract as text, keeping the labels of a structured abstract."""
        return sections_text(self.abstract_sections)

    @property
    def year(self) -> int | None:
        return int(self.pub_date_sort[:4]) if self.pub_date_sort[:4].isdigit() else None

    @property
    def retracted(self) -> bool:
        return RETRACTED_PUBLICATION_TYPE in self.publication_types or any(
            link.kind in RETRACTED_LINKS for link in self.links
        )

    @property
    def is_notice(self) -> bool:
        """A retraction, erratum or expression-of-concern notice rather than a paper."""
        return not NOTICE_PUBLICATION_TYPES.isdisjoint(self.publication_types)

    def concerned(self) -> list[tuple[str, Link]]:
        """(PMID, link it gets back) for each paper this notice retracts, corrects or raises concern
        about, or this corrected version republishes."""
        return [(link.pmid, Link(NOTICE_LINKS[link.kind], self.pmid)) for link in self.links if link.kind in NOTICE_LINKS and link.pmid]

    @property
    def mesh_terms(self) -> list[str]:
        return [m.descriptor for m in self.mesh]

    @property
    def pubmed_url(self) -> str:
        """The record's PubMed page (digest links, exports)."""
        return f"https://pubmed.ncbi.nlm.nih.gov/{self.pmid}/"

    def fingerprint(self) -> str:
        """A hash of the content (not of where it came from), to tell a revised record."""
        return content_fingerprint(content_json(self.to_dict()))

    def to_dict(self) -> dict:
        """Plain data for JSON; written out by hand because ``dataclasses.asdict`` deep-copies
        and was most of the cost of storing a harvested batch."""
        data = dict(vars(self))
        for name in ("abstract_sections", "other_abstracts", "authors", "links"):
            data[name] = [dict(vars(item)) for item in data[name]]
        data["mesh"] = [{**vars(m), "qualifiers": list(m.qualifiers)} for m in self.mesh]
        data["languages"] = list(self.languages)
        data["keywords"] = list(self.keywords)
        data["publication_types"] = list(self.publication_types)
        if self.book is not None:
            data["book"] = {**vars(self.book), "editors": [dict(vars(e)) for e in self.book.editors]}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Article:
        """Inverse of ``to_dict``; unknown keys are ignored so old rows still load."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["abstract_sections"] = [AbstractSection(**s) for s in data.get("abstract_sections", [])]
        kwargs["other_abstracts"] = [AbstractSection(**s) for s in data.get("other_abstracts", [])]
        kwargs["authors"] = [Author(**a) for a in data.get("authors", [])]
        kwargs["mesh"] = [
            MeshHeading(**{**m, "qualifiers": tuple(m.get("qualifiers", ()))}) for m in data.get("mesh", [])
        ]
        kwargs["links"] = [Link(**link) for link in data.get("links", [])]
        book = data.get("book")
        kwargs["book"] = Book(**{**book, "editors": tuple(Author(**e) for e in book.get("editors", []))}) if book else None
        return cls(**kwargs)


def content_json(data: dict) -> str:
    """``Article.to_dict()`` output as canonical JSON, leaving out where the record came from, and an optional
    field a record lacks (None: the ``book`` of a journal article), so adding one leaves the fingerprints of
    the records stored before as they were: an unchanged record is not taken for a revised one."""
    return json.dumps({k: v for k, v in data.items() if k not in ("source", "raw_xml") and v is not None}, sort_keys=True)


def content_fingerprint(content: str) -> str:
    """A short hash of ``content_json`` output."""
    return hashlib.sha256(content.encode()).hexdigest()[:16]


# What RFC 3986 allows as is in a URL path; everything else in a DOI is percent-encoded. Old Wiley
# DOIs hold '<' and '>' (10.1002/(sici)...78:4<852::aid-cncr23>3.0.co;2-t), and a DOI may hold '#' or '?'.
_PATH_SAFE = "/:@!$&'()*+,;="


def doi_url(doi: str) -> str:
    """The doi.org link of ``doi`` ('' for none), percent-encoded so that it survives as a link in text
    and HTML: the digest's and the web view's links."""
    return f"https://doi.org/{quote(doi, safe=_PATH_SAFE)}" if doi else ""


def with_retraction(publication_types: list[str], retracted: bool) -> list[str]:
    """The publication types of a record an export marks retracted (its ``retracted`` field or tag),
    so a colleague's store built from our export flags it too, though NLM's type is not there yet."""
    if retracted and RETRACTED_PUBLICATION_TYPE not in publication_types:
        return [*publication_types, RETRACTED_PUBLICATION_TYPE]
    return publication_types


def notice_words(kind: str, pmid: str = "", source: str = "") -> str:
    """A notice as a reader's words: 'Erratum published (PMID 35767954)'. Most older links name no PMID,
    only where the notice was printed, which then stands in its place ('Erratum published (Clin
    Rheumatol. 2007 Apr;26(4):617)'): a researcher can still find it."""
    what = RETRACTED_WORDS if kind == RETRACTION_LINK else NOTICE_WORDS.get(kind, kind)
    where = f"PMID {pmid}" if pmid else source
    return f"{what} ({where})" if where else what


def sections_text(sections: Iterable[AbstractSection]) -> str:
    """Abstract sections as text, one per line, each labelled part as 'LABEL: text'."""
    return "\n".join(f"{s.label}: {s.text}" if s.label else s.text for s in sections)
