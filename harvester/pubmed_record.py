"""One ``<PubmedArticle>`` or ``<PubmedBookArticle>`` element → ``Article``: pure mapping, no I/O.

Paths are explicit and relative to the record (``PubmedData/ArticleIdList``, never ``.//ArticleId``):
the reference list of a record carries its own ``ArticleIdList``s, and a descendant search
would take a cited paper's DOI for the record's own. Elements a later DTD adds are ignored,
because we only ever ask for the ones we know.
"""

from __future__ import annotations

from lxml import etree

from corpus.article import AbstractSection, Article, Author, Link, MeshHeading
from harvester.dates import iso_date, printed_date, sort_date

# 'Cites' links are the reference list of old records (thousands per file): they say nothing
# about the article's standing, and the raw XML keeps them for anyone who needs them.
_IGNORED_LINKS = frozenset({"Cites"})
_HISTORY_EVENTS = frozenset({"entrez", "pubmed"})


def text_of(element: etree._Element | None) -> str:
    """All text inside an element with inline markup (<i>, <sup>, MathML) dropped, whitespace normalised."""
    if element is None:
        return ""
    # Most elements are leaves; itertext() costs several times more than .text (measured in benchmarks/parse.py).
    text = "".join(element.itertext()) if len(element) else element.text
    return " ".join(text.split()) if text else ""


def article_from_element(record: etree._Element) -> Article:
    """Map a PubMed record element; ``pmid`` is '' when the record has none (the caller skips it)."""
    if record.tag == "PubmedBookArticle":
        article = _book_article(record)
    else:
        article = _journal_article(record)
    article.raw_xml = etree.tostring(record, encoding="unicode", with_tail=False)
    return article


def _journal_article(record: etree._Element) -> Article:
    citation = _child(record, "MedlineCitation")
    art = _child(citation, "Article")
    journal = _child(art, "Journal")
    pubmed_data = record.find("PubmedData")
    history = _history(pubmed_data)
    pmid_element = citation.find("PMID")
    pub_date, pub_date_sort = _pub_date(journal.find("JournalIssue/PubDate"))
    return Article(
        pmid=text_of(pmid_element),
        version=_version(pmid_element),
        title=text_of(art.find("ArticleTitle")),
        abstract_sections=_sections(art.find("Abstract")),
        authors=_authors(art.find("AuthorList")),
        journal=text_of(journal.find("Title")),
        journal_abbrev=text_of(journal.find("ISOAbbreviation")) or text_of(citation.find("MedlineJournalInfo/MedlineTA")),
        issn=text_of(journal.find("ISSN")),
        volume=text_of(journal.find("JournalIssue/Volume")),
        issue=text_of(journal.find("JournalIssue/Issue")),
        pages=_pages(art.find("Pagination")),
        pub_date=pub_date,
        pub_date_sort=pub_date_sort or _fallback_sort_date(art.find("ArticleDate"), history),
        created=_date(citation.find("DateCreated")) or _created(history),
        entrez_date=history.get("entrez", ""),
        revised=_date(citation.find("DateRevised")),
        doi=_article_id(pubmed_data, "doi") or _elocation_doi(art),
        pmcid=_article_id(pubmed_data, "pmc"),
        languages=[text_of(e) for e in art.iterfind("Language") if text_of(e)],
        vernacular_title=text_of(art.find("VernacularTitle")),
        other_abstracts=[s for other in citation.iterfind("OtherAbstract") for s in _sections(other)],
        mesh=[_mesh(h) for h in citation.iterfind("MeshHeadingList/MeshHeading")],
        keywords=_keywords(citation),
        publication_types=[text_of(e) for e in art.iterfind("PublicationTypeList/PublicationType")],
        links=_links(citation),
        status=citation.get("Status", ""),
    )


def _book_article(record: etree._Element) -> Article:
    """A PubMed Bookshelf record (GeneReviews, StatPearls ...): the book plays the journal."""
    document = _child(record, "BookDocument")
    book = _child(document, "Book")
    book_data = record.find("PubmedBookData")
    history = _history(book_data)
    pmid_element = document.find("PMID")
    pub_date, pub_date_sort = _pub_date(book.find("PubDate"))
    author_lists = {a.get("Type", "authors"): a for a in document.iterfind("AuthorList")}
    authors = _authors(author_lists.get("authors")) or _authors(book.find("AuthorList"))
    return Article(
        pmid=text_of(pmid_element),
        version=_version(pmid_element),
        title=text_of(document.find("ArticleTitle")) or text_of(book.find("BookTitle")),
        abstract_sections=_sections(document.find("Abstract")),
        authors=authors,
        journal=text_of(book.find("BookTitle")),
        volume=text_of(book.find("Volume")),
        pub_date=pub_date,
        pub_date_sort=pub_date_sort or _fallback_sort_date(None, history),
        created=_created(history),
        entrez_date=history.get("entrez", ""),
        revised=_date(document.find("DateRevised")),
        doi=_article_id(book_data, "doi") or _article_id(document, "doi") or _elocation_doi(document),
        pmcid=_article_id(book_data, "pmc"),
        languages=[text_of(e) for e in document.iterfind("Language") if text_of(e)],
        vernacular_title=text_of(document.find("VernacularTitle")),
        keywords=_keywords(document),
        publication_types=[text_of(e) for e in document.iterfind("PublicationType")],
        is_book=True,
    )


def _child(parent: etree._Element, tag: str) -> etree._Element:
    """A required child, or an empty stand-in so a skeletal record still maps (and gets skipped for no PMID)."""
    found = parent.find(tag)
    return found if found is not None else etree.Element(tag)


def _version(pmid: etree._Element | None) -> int:
    version = pmid.get("Version", "1") if pmid is not None else "1"
    return int(version) if version.isdigit() else 1


def _sections(abstract: etree._Element | None) -> list[AbstractSection]:
    """AbstractText paragraphs with Label / NlmCategory; CopyrightInformation is a sibling, so it stays out."""
    if abstract is None:
        return []
    sections = []
    for part in abstract.iterfind("AbstractText"):
        text = text_of(part)
        if text:
            sections.append(AbstractSection(text, part.get("Label", ""), part.get("NlmCategory", "")))
    return sections


def _authors(author_list: etree._Element | None) -> list[Author]:
    if author_list is None:
        return []
    authors = []
    for author in author_list.iterfind("Author"):
        # ValidYN="N" marks a name NLM printed by mistake and corrected in the same list.
        if author.get("ValidYN") == "N":
            continue
        # One pass over the children: records of big consortia list hundreds of authors.
        parts = {child.tag: child for child in author}
        fore = parts.get("ForeName")
        name = Author(
            last=text_of(parts.get("LastName")),
            fore=text_of(fore if fore is not None else parts.get("FirstName")),
            initials=text_of(parts.get("Initials")),
            collective=text_of(parts.get("CollectiveName")),
        )
        if name.last or name.fore or name.collective:
            authors.append(name)
    return authors


def _pages(pagination: etree._Element | None) -> str:
    if pagination is None:
        return ""
    medline = text_of(pagination.find("MedlinePgn"))
    if medline:
        return medline
    start, end = text_of(pagination.find("StartPage")), text_of(pagination.find("EndPage"))
    return f"{start}-{end}" if start and end and end != start else start


def _pub_date(pub_date: etree._Element | None) -> tuple[str, str]:
    """(as printed, sortable) from a PubDate: Year/Month/Day, Year/Season, or a free MedlineDate."""
    if pub_date is None:
        return "", ""
    medline_date = text_of(pub_date.find("MedlineDate"))
    if medline_date:
        return medline_date, sort_date(medline_date)
    year, month, day = (text_of(pub_date.find(t)) for t in ("Year", "Month", "Day"))
    season = text_of(pub_date.find("Season"))
    printed = printed_date(year, month, day, season)
    return printed, sort_date(printed)


def _fallback_sort_date(article_date: etree._Element | None, history: dict[str, str]) -> str:
    """A PubDate without a year: the electronic publication date, else the Entrez year."""
    electronic = _date(article_date)
    if electronic:
        return electronic
    entrez = history.get("entrez", "")
    return f"{entrez[:4]}-01-01" if entrez else ""


def _date(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return iso_date(*(text_of(element.find(t)) for t in ("Year", "Month", "Day")))


def _history(data: etree._Element | None) -> dict[str, str]:
    """The ISO dates of the History events we keep ('entrez', 'pubmed'); the raw XML keeps the rest."""
    if data is None:
        return {}
    events: dict[str, str] = {}
    for event in data.iterfind("History/PubMedPubDate"):
        status = event.get("PubStatus")
        if status in _HISTORY_EVENTS:
            date = _date(event)
            if date:
                events[status] = min(date, events.get(status, date))
    return events


def _created(history: dict[str, str]) -> str:
    """crdt for DTDs without DateCreated (2018 on).

    PubMed's Create Date is the day the citation entered PubMed. The 2018 DTD dropped
    DateCreated; what remains is the History: the 'pubmed' event is the day the record went
    into PubMed and 'entrez' the day it entered Entrez, which are the same day for records
    created since. For records added late (NCBI then backdates the Entrez date) the two can
    differ, so we take the earliest of the two, never a later one: a create-date window
    harvest must not move a record after the day it could first be found.
    """
    dates = [history[s] for s in ("pubmed", "entrez") if history.get(s)]
    return min(dates) if dates else ""


def _article_id(parent: etree._Element | None, id_type: str) -> str:
    if parent is None:
        return ""
    for article_id in parent.iterfind("ArticleIdList/ArticleId"):
        if article_id.get("IdType") == id_type:
            return text_of(article_id)
    return ""


def _elocation_doi(parent: etree._Element) -> str:
    for location in parent.iterfind("ELocationID"):
        if location.get("EIdType") == "doi" and location.get("ValidYN", "Y") == "Y":
            return text_of(location)
    return ""


def _mesh(heading: etree._Element) -> MeshHeading:
    """A heading is major when the descriptor or any qualifier is starred, as PubMed's [majr] search reads it."""
    descriptor, ui, major, qualifiers = "", "", False, []
    for child in heading:
        if child.tag == "DescriptorName":
            descriptor, ui = text_of(child), child.get("UI", "")
            major = major or child.get("MajorTopicYN") == "Y"
        elif child.tag == "QualifierName":
            starred = child.get("MajorTopicYN") == "Y"
            qualifiers.append(text_of(child) + "*" if starred else text_of(child))
            major = major or starred
    return MeshHeading(descriptor=descriptor, ui=ui, major=major, qualifiers=tuple(qualifiers))


def _keywords(parent: etree._Element) -> list[str]:
    """Author and NLM keywords from every KeywordList, in order, each once."""
    keywords = (text_of(k) for k in parent.iterfind("KeywordList/Keyword"))
    return list(dict.fromkeys(k for k in keywords if k))


def _links(citation: etree._Element) -> list[Link]:
    links = []
    for link in citation.iterfind("CommentsCorrectionsList/CommentsCorrections"):
        kind = link.get("RefType", "")
        if kind and kind not in _IGNORED_LINKS:
            links.append(Link(kind, text_of(link.find("PMID")), text_of(link.find("RefSource"))))
    return links
