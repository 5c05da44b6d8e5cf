"""``ingest_files``: every real record lands once, a second run changes nothing, and a bad file
neither damages what is stored nor stops the files after it."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import replace
from pathlib import Path

import pytest

from corpus.exports import CSV_COLUMNS, WRITERS, iter_records
from corpus.store import Store
from harvester.files import read_records
from harvester.ingest import ingest_files

FIXTURES = Path(__file__).parent / "fixtures"
_RECORD_PMID = re.compile(rb"<(?:MedlineCitation|BookDocument)\b[^>]*>\s*<PMID[^>]*>(\d+)</PMID>")


def table_hash(store: Store) -> str:
    rows = store.db.execute("SELECT * FROM articles ORDER BY pmid").fetchall()
    return hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()


@pytest.fixture(scope="module")
def xml_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "pubmed-xml").rglob("*.xml"))


def test_every_record_once_and_a_second_run_changes_nothing(store, xml_files):
    expected = {m.decode() for path in xml_files for m in _RECORD_PMID.findall(path.read_bytes())}
    first = ingest_files(store, xml_files, batch_size=100)
    assert first.ok, first.errors
    assert store.count_articles() == len(expected) > 900
    assert {a.pmid for a in store.iter_articles()} == expected
    assert first.totals.new == len(expected) and first.totals.skipped == []
    before = table_hash(store)

    second = ingest_files(store, xml_files, batch_size=7)
    assert (second.totals.new, second.totals.updated) == (0, 0)
    assert second.totals.unchanged == second.totals.read == first.totals.read
    assert table_hash(store) == before


def test_stored_article_round_trips_with_raw_xml(store, xml_files, shared_data):
    ingest_files(store, [shared_data / "pubmed-xml" / "biopython" / "pubmed4.xml"])
    article = store.get_article("27797938")
    assert article.raw_xml.startswith("<PubmedArticle>") and article.source.endswith("pubmed4.xml")
    assert article.abstract_sections[0].label == "OBJECTIVE"


def test_bad_file_is_reported_and_later_files_still_ingested(store, tmp_path):
    good_first = FIXTURES / "markup_title.xml"
    ingest_files(store, [good_first])
    stored_before = tuple(store.db.execute("SELECT * FROM articles WHERE pmid = '99000020'").fetchone())

    data = (FIXTURES / "retraction.xml").read_bytes()
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes(data[: data.rindex(b"<PMID Version=\"1\">99000002") + 30])
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    not_gzip = tmp_path / "update.xml.gz"
    not_gzip.write_bytes(data)
    good_after = FIXTURES / "update_with_deletions.xml"

    report = ingest_files(store, [empty, not_gzip, truncated, good_after])
    assert not report.ok
    errors = {Path(f.path).name: f.error for f in report.files}
    assert errors["empty.xml"].startswith(f"{empty}: empty file")
    assert "not gzip" in errors["update.xml.gz"]
    assert re.match(rf"{re.escape(str(truncated))}: truncated or malformed XML at line \d+ after PMID 99000001", errors["truncated.xml"])
    assert errors["update_with_deletions.xml"] == ""
    assert all("\n" not in e for e in report.errors)

    # What was stored before is still there, unchanged; the truncated file's one complete
    # record is stored whole; the good file after the bad ones is ingested.
    assert store.get_article("99000020").title.startswith("Morphine & OPRM1")
    assert store.get_article("99000001").retracted
    assert store.get_article("99000002") is None
    assert store.get_article("99000010") is not None
    truncated_report = next(f for f in report.files if f.path == str(truncated))
    assert (truncated_report.read, truncated_report.new) == (1, 1)
    assert tuple(store.db.execute("SELECT * FROM articles WHERE pmid = '99000020'").fetchone()) == stored_before


def test_a_failing_batch_is_never_half_written(store, tmp_path, monkeypatch):
    ingest_files(store, [FIXTURES / "markup_title.xml"])
    before = table_hash(store)
    original = store._upsert_one
    seen = []

    def fail_on_second(article, counts):
        seen.append(article.pmid)
        if len(seen) == 2:
            raise OSError("disk full")  # stands in for a write failing mid-transaction
        original(article, counts)

    monkeypatch.setattr(store, "_upsert_one", fail_on_second)
    with pytest.raises(OSError):
        ingest_files(store, [FIXTURES / "retraction.xml"], batch_size=10)
    assert table_hash(store) == before  # the first record of the failed batch was rolled back


def test_deletions_are_applied_after_the_records_before_them(store, tmp_path):
    listed = tmp_path / "listed.xml"
    data = (FIXTURES / "update_with_deletions.xml").read_bytes()
    listed.write_bytes(data.replace(b"<PMID Version=\"2\">99000010", b"<PMID Version=\"2\">99000011"))
    report = ingest_files(store, [listed])
    assert (report.totals.new, report.totals.deleted) == (1, 1)
    assert store.count_articles() == 0 and store.count_articles(include_deleted=True) == 1


def test_mixed_formats_and_skips_are_reported(store, shared_data, tmp_path):
    csv_path = tmp_path / "screening.csv"
    csv_path.write_text("title,doi\nA paper without PMID,10.1000/x\n", encoding="utf-8")
    progress = []
    report = ingest_files(
        store,
        [
            shared_data / "medline" / "pubmed_result2.txt",
            FIXTURES / "sample.ris",
            shared_data / "cohen-2006" / "output" / "local" / "Opiods.csv",
            csv_path,
        ],
        batch_size=500,
        progress=progress.append,
    )
    assert report.ok, report.errors
    reads = [f.read for f in report.files]
    assert reads == [4, 2, 1915, 0]
    assert [str(s) for s in report.totals.skipped] == [
        f"{FIXTURES / 'sample.ris'}: entry 3 (line 28) ('A record a reference manager made without a PMID'): no PMID",
        f"{csv_path}: line 2: no PMID (DOI 10.1000/x)",
    ]
    assert store.count_articles() == report.totals.new == 4 + 2 + 1915
    assert len(progress) >= 6  # one call per committed batch (1915 records = 4 batches)


def test_a_cut_ris_file_keeps_the_entries_before_the_cut(store, tmp_path):
    path = tmp_path / "cut.ris"
    path.write_text("TY  - JOUR\nTI  - ok\nAN  - 123\nER  - \nTY  - JOUR\nTI  - cut off\n", encoding="utf-8")
    report = ingest_files(store, [path])
    assert report.errors == [f"{path}: truncated RIS: the entry of line 5 has no closing 'ER' line before the end of the file"]
    assert (report.totals.read, report.totals.new) == (1, 1)
    assert store.get_article("123").title == "ok"




def test_a_medline_file_cut_mid_line_keeps_the_records_before_the_cut_and_not_the_cut_one(store, shared_data, tmp_path):
    path = tmp_path / "cut.nbib"  # the second record, PMID 16377612, ends inside its abstract: '... genomic, compa'
    path.write_bytes((shared_data / "medline" / "pubmed_result2.txt").read_bytes()[:3000])
    report = ingest_files(store, [path])
    assert report.errors == [f"{path}: truncated MEDLINE: the file ends inside line 82, with no line break, "
                             "so record 2 (PMID 16377612) is cut off; download or export the file again"]
    assert (report.totals.read, report.totals.new) == (1, 1)
    assert [a.pmid for a in store.iter_articles()] == ["16403221"]


def test_a_whole_medline_file_without_its_final_line_break_keeps_its_last_record(shared_data, tmp_path):
    for whole in sorted((shared_data / "medline").iterdir()):  # one ends in a continuation line of SO, with CRLF
        path = tmp_path / whole.name
        path.write_bytes(whole.read_bytes().rstrip(b"\r\n"))  # as a script's "\n".join writes it
        with Store(":memory:") as store, Store(":memory:") as expected:
            report = ingest_files(store, [path])
            ingest_files(expected, [whole])
            assert report.errors == [], whole.name
            assert [replace(a, source="") for a in store.iter_articles()] == [replace(a, source="") for a in expected.iter_articles()]


def test_a_medline_file_cut_inside_the_last_field_is_still_cut(store, shared_data, tmp_path):
    data = (shared_data / "medline" / "pubmed_result2.txt").read_bytes()
    path = tmp_path / "cut.nbib"  # the last record's SO line, 'SO  - Bioinformatics. 2003 Nov 22;19(17):2308-10.', cut before '0.'
    path.write_bytes(data[: data.rindex(b"0.")])
    report = ingest_files(store, [path])
    assert report.errors == [f"{path}: truncated MEDLINE: the file ends inside line 248, with no line break, "
                             "so record 4 (PMID 14630660) is cut off; download or export the file again"]
    assert report.totals.read == 3


def test_a_medline_file_cut_at_a_line_break_is_cut_too(store, shared_data, tmp_path):
    """Cut after the last record's title: its abstract, MeSH and publication types ("Retracted Publication"
    among them) come later, and the record was stored without them, the file read as whole."""
    data = (shared_data / "medline" / "pubmed_result2.txt").read_bytes()
    path = tmp_path / "cut.nbib"
    path.write_bytes(data[: data.rindex(b"\nAB  - ") + 1])
    report = ingest_files(store, [path])
    assert report.errors == [f"{path}: truncated MEDLINE: the file ends at line 204 inside record 4 (PMID 14630660), "
                             "before its last field (SO); download or export the file again"]
    assert report.totals.read == 3


def test_a_jsonl_file_cut_mid_line_says_it_is_truncated_and_keeps_the_lines_before_the_cut(store, shared_data, tmp_path):
    cut = (shared_data / "corpus.jsonl").read_bytes()[:1_000_000]
    path = tmp_path / "cut.jsonl"
    path.write_bytes(cut)
    report = ingest_files(store, [path])
    whole_lines = cut.count(b"\n")
    assert report.errors == [f"{path}: truncated JSON Lines: line {whole_lines + 1} ends the file inside a record; "
                             "the records before it are read: export or download the whole file again"]
    assert report.totals.read == store.count_articles() == whole_lines


@pytest.mark.parametrize(
    ("last_line", "message"),
    [
        ('{"pmid": "2", "title": "x",, "abstract": "y"}', "line 2: not JSON (Expecting property name enclosed in double quotes: column 28)"),
        ('{"pmid": "2", "title": "x"}}', "line 2: not JSON (Extra data: column 28)"),
        ('{"pmid": "2", "title": "x"} x', "line 2: not JSON (Extra data: column 29)"),  # a whole record, then stray text
        ('{"pmid": "2", "doi": nul', "truncated JSON Lines: line 2 ends the file inside a record; "
                                     "the records before it are read: export or download the whole file again"),
        ('{"pmid": "2", "title": "Opioid-induced hyper', "truncated JSON Lines: line 2 ends the file inside a record; "
                                                         "the records before it are read: export or download the whole file again"),
    ],
    ids=["whole line, a mistake inside", "whole line, a mistake after", "whole record, stray text after", "cut in a literal", "cut in a string"],
)
def test_a_last_jsonl_line_without_its_line_break_is_truncated_only_where_it_ends_unfinished(store, tmp_path, last_line, message):
    path = tmp_path / "last.jsonl"
    path.write_text('{"pmid": "1", "title": "One"}\n' + last_line, encoding="utf-8")
    report = ingest_files(store, [path])
    assert report.errors == [f"{path}: {message}"]
    assert [a.pmid for a in store.iter_articles()] == ["1"]


def test_a_broken_jsonl_line_that_is_not_the_last_says_where_json_stops(store, tmp_path):
    # A missing comma: json says so in the same words from Python 3.11 on (a trailing comma's changed in 3.13).
    path = tmp_path / "broken.jsonl"
    path.write_text('{"pmid": "1", "title": "One"}\n{"pmid": "2" "title": "Two"}\n{"pmid": "3"}\n', encoding="utf-8")
    report = ingest_files(store, [path])
    assert report.errors == [f"{path}: line 2: not JSON (Expecting ',' delimiter: column 14)"]

@pytest.mark.parametrize(
    ("cut", "message"),
    [
        ("title", "line {line} (2 cells for {columns} columns) ends the file"),
        ("abstract", "the row of line {line} ends inside a quoted cell"),  # the last quoted cell
    ],
)
def test_a_csv_export_cut_mid_row_keeps_the_rows_before_the_cut(store, research_store, tmp_path, cut, message):
    pmids = [a.pmid for a in research_store.iter_articles()
             if "," in a.abstract and len(a.title) > 30 and not set(a.title) & set(',"\n')][:21]

    def exported(count: int) -> bytes:
        out = io.StringIO()
        WRITERS["csv"](iter_records(research_store, pmids[:count]), out)
        return out.getvalue().encode()

    complete, whole = exported(20), exported(21)
    assert whole.startswith(complete)
    path = tmp_path / "cut.csv"
    path.write_bytes(whole[: len(complete) + 20 if cut == "title" else whole.rindex(b'"') - 20])
    report = ingest_files(store, [path])
    assert report.errors == [f"{path}: truncated CSV: " + message.format(line=complete.count(b"\n") + 1, columns=len(CSV_COLUMNS))]
    assert (report.totals.read, report.totals.new, report.totals.skipped) == (20, 20, [])
    assert {a.pmid for a in store.iter_articles()} == set(pmids[:20])

def test_a_pmid_twice_in_one_file_merges_both_rows(store, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("pmid,title,journal,doi\n123,A title,,\n123,,Pain,10.1/x\n", encoding="utf-8")
    report = ingest_files(store, [path])
    assert (report.totals.read, report.totals.new) == (2, 1)
    article = store.get_article("123")
    assert (article.title, article.journal, article.doi) == ("A title", "Pain", "10.1/x")


def test_batch_size_must_be_positive(store):
    with pytest.raises(ValueError):
        ingest_files(store, [], batch_size=0)


def revisions_of_one_record(shared_data: Path, *revised: str) -> str:
    """A PubmedArticleSet holding copies of one real record, each with its own DateRevised and title mark."""
    text = (shared_data / "pubmed-xml" / "metapub" / "38011560.xml").read_text(encoding="utf-8")
    record = re.search(r"<PubmedArticle>.*</PubmedArticle>", text, re.S).group(0)
    stamp = re.search(r"<DateRevised>.*?</DateRevised>", record, re.S).group(0)
    copies = []
    for day in revised:
        year, month, dd = day.split("-")
        date_revised = f"<DateRevised><Year>{year}</Year><Month>{month}</Month><Day>{dd}</Day></DateRevised>"
        copies.append(record.replace(stamp, date_revised).replace("<ArticleTitle>", f"<ArticleTitle>[{day}] ", 1))
    return "<PubmedArticleSet>" + "".join(copies) + "</PubmedArticleSet>"


@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_a_pmid_twice_in_one_file_keeps_the_newer_revision_whatever_the_batch_size(store, shared_data, tmp_path, batch_size):
    path = tmp_path / "two_copies.xml"
    path.write_text(revisions_of_one_record(shared_data, "2025-06-01", "2023-01-01"), encoding="utf-8")
    assert ingest_files(store, [path], batch_size=batch_size).ok
    article = store.get_article("38011560")
    assert (article.revised, article.title[:12]) == ("2025-06-01", "[2025-06-01]")


def test_one_upsert_holding_a_pmid_twice_keeps_the_newer_revision(store, shared_data, tmp_path):
    """As an efetch batch is stored: one ``upsert_articles`` call, the copies in any order."""
    path = tmp_path / "two_copies.xml"
    path.write_text(revisions_of_one_record(shared_data, "2023-01-01", "2025-06-01", "2024-03-01"), encoding="utf-8")
    assert store.upsert_articles(read_records(path)).new == 1
    assert store.get_article("38011560").revised == "2025-06-01"


def test_a_deleted_record_comes_back_only_with_a_later_pubmed_revision(store, shared_data, tmp_path):
    baseline = shared_data / "pubmed-xml" / "metapub" / "38011560.xml"
    update = tmp_path / "update.xml"
    update.write_text("<PubmedArticleSet><DeleteCitation><PMID Version=\"1\">38011560</PMID></DeleteCitation></PubmedArticleSet>")
    copy = tmp_path / "colleague.ris"
    copy.write_text("TY  - JOUR\nTI  - Ketamine and OIH\nAN  - 38011560\nER  - \n", encoding="utf-8")
    ingest_files(store, [baseline, update])
    stored = store.get_article("38011560")

    again = ingest_files(store, [baseline, update, baseline, copy]).totals  # again, and in the wrong order
    assert (again.read, again.new, again.updated, again.unchanged) == (3, 0, 0, 3)
    assert store.count_articles() == 0 and store.get_article("38011560") == stored

    later = tmp_path / "later.xml"
    later.write_text(revisions_of_one_record(shared_data, "2099-01-01"), encoding="utf-8")
    assert ingest_files(store, [later]).totals.updated == 1
    assert [a.revised for a in store.iter_articles()] == ["2099-01-01"]
