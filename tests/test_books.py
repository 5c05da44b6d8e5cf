"""PubMed Bookshelf records (GeneReviews, PDQ, the Assay Guidance Manual): read with their book's publisher,
place, editors and the chapter's own date, and exported as book chapters, not journal articles."""

from __future__ import annotations

import io
from pathlib import Path

import bibtexparser
import pytest
import rispy
from bibtexparser.bparser import BibTexParser
from bibtexparser.customization import convert_to_unicode

from corpus.article import Article, Author, Book, content_json
from corpus.exports import WRITERS, article_record, write_bibtex, write_ris
from corpus.store import Store
from harvester.ingest import ingest_files
from harvester.pubmed_xml import parse_pubmed_xml
from test_ingest_exports import two_digit_day

GENEREVIEWS = Path("pubmed-xml") / "metapub" / "sample_article_20301577.xml"
PDQ = Path("pubmed-xml") / "exports" / "solitude6060+Fulltext_search__data__pubmed_result.xml"
EDITORS = ["Adam, Margaret P", "Feldman, Jerry", "Mirzaa, Ghayda M", "Pagon, Roberta A", "Wallace, Stephanie E", "Amemiya, Anne"]


def books(path: Path) -> list[Article]:
    return [a for a in parse_pubmed_xml(path) if isinstance(a, Article) and a.is_book]


@pytest.fixture
def chapter(shared_data: Path) -> dict:
    (article,) = books(shared_data / GENEREVIEWS)
    return article_record(article)


def read_bibtex(text: str) -> list[dict]:
    parser = BibTexParser(common_strings=True)
    parser.customization = convert_to_unicode
    return bibtexparser.loads(text, parser).entries


def test_a_chapter_is_read_with_its_book_and_its_own_date(shared_data: Path) -> None:
    (article,) = books(shared_data / GENEREVIEWS)
    assert (article.title, article.journal) == ("CACNA1C-Related Disorders", "GeneReviews®")
    assert article.book.publisher == "University of Washington, Seattle" and article.book.place == "Seattle (WA)"
    assert [(e.last, e.fore, e.initials) for e in article.book.editors[:2]] == [("Adam", "Margaret P", "MP"), ("Feldman", "Jerry", "J")]
    assert len(article.book.editors) == 6 and [a.last for a in article.authors] == ["Napolitano", "Priori"]
    assert (article.pub_date, article.year) == ("2006 Feb 15", 2006)  # contributed 2006; GeneReviews began in 1993
    pdq = {a.pmid: a for a in books(shared_data / PDQ)}["29337475"]
    assert (pdq.pub_date, pdq.book) == ("2018 Sep 14", Book("National Cancer Institute (US)", "Bethesda (MD)"))
    assert Article.from_dict(article.to_dict()) == article


def test_a_chapter_goes_to_ris_as_a_chapter(chapter: dict) -> None:
    out = io.StringIO()
    write_ris([chapter], out)
    (entry,) = rispy.loads(out.getvalue())
    assert entry["type_of_reference"] == "CHAP"
    assert (entry["title"], entry["secondary_title"]) == ("CACNA1C-Related Disorders", "GeneReviews®")
    assert "journal_name" not in entry
    assert entry["secondary_authors"] == EDITORS and entry["authors"] == ["Napolitano, Carlo", "Priori, Silvia G"]
    assert (entry["publisher"], entry["place_published"]) == ("University of Washington, Seattle", "Seattle (WA)")
    assert (entry["year"], entry["date"]) == ("2006", "2006/02/15/")


def test_a_chapter_goes_to_bibtex_as_incollection(chapter: dict) -> None:
    out = io.StringIO()
    write_bibtex([chapter], out)
    (entry,) = read_bibtex(out.getvalue())
    assert entry["ENTRYTYPE"] == "incollection" and "journal" not in entry
    assert (entry["booktitle"], entry["year"]) == ("GeneReviews®", "2006")
    assert entry["editor"] == " and ".join(EDITORS)
    assert (entry["publisher"], entry["address"]) == ("University of Washington, Seattle", "Seattle (WA)")


def test_a_whole_book_is_a_book() -> None:
    title = "Assay Guidance Manual"
    record = article_record(Article(pmid="1", title=title, journal=title, pub_date="2004", pub_date_sort="2004-01-01", is_book=True,
                                    book=Book("Eli Lilly & Company", "Bethesda (MD)", (Author("Markossian", "Sarine", "S"),))))
    assert record["reference_type"] == "book"
    ris, bib = io.StringIO(), io.StringIO()
    write_ris([record], ris)
    write_bibtex([record], bib)
    (entry,) = rispy.loads(ris.getvalue())
    assert (entry["type_of_reference"], entry["title"], entry["secondary_authors"]) == ("BOOK", title, ["Markossian, Sarine"])
    assert "secondary_title" not in entry and "journal_name" not in entry
    (bib_entry,) = read_bibtex(bib.getvalue())
    assert (bib_entry["ENTRYTYPE"], bib_entry["title"], bib_entry["publisher"]) == ("book", title, "Eli Lilly & Company")
    assert "booktitle" not in bib_entry and "journal" not in bib_entry


@pytest.mark.parametrize("form", ["jsonl", "csv", "ris"])
def test_books_come_back_from_each_export_as_books(store: Store, form: str, shared_data: Path, tmp_path: Path) -> None:
    originals = books(shared_data / GENEREVIEWS) + books(shared_data / PDQ)
    path = tmp_path / f"books.{form}"
    with open(path, "w", encoding="utf-8") as out:
        WRITERS[form]([article_record(a) for a in originals], out)
    assert ingest_files(store, [path]).ok
    for original in originals:
        copy = store.get_article(original.pmid)
        assert (copy.is_book, copy.book, copy.title, copy.journal) == (True, original.book, original.title, original.journal)
        printed = two_digit_day(original.pub_date) if form == "ris" else original.pub_date
        assert (copy.pub_date, copy.pub_date_sort) == (printed, original.pub_date_sort)


def test_a_journal_article_keeps_the_content_it_had_before_books_had_fields(shared_data: Path) -> None:
    """No 'book' in a journal article's content: its fingerprint stays what the store holds, so an unchanged
    record is not taken for a revised one and classified again."""
    (article,) = parse_pubmed_xml(shared_data / "pubmed-xml" / "metapub" / "38011560.xml")
    assert article.book is None and '"book"' not in content_json(article.to_dict())
