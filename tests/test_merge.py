"""``merge``: a partial file's record over the stored copy keeps what the file does not carry, and
PubMed's own record wins over a reference manager's or a spreadsheet's copy."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from corpus.article import AbstractSection, Article, Author, MeshHeading
from corpus.exports import WRITERS, article_record, iter_records
from corpus.store import Store
from harvester.files import read_records
from harvester.ingest import ingest_files
from harvester.merge import is_bare, merge
from reports.gather import first_seen_between

STRUCTURED = [AbstractSection("Ketamine 0.5 mg/kg.", "METHODS", "METHODS"), AbstractSection("Less pain.", "CONCLUSIONS", "CONCLUSIONS")]


def stored(**changes) -> Article:
    """A record as a JSON Lines or CSV file left it in the store (no NLM marks)."""
    article = Article(
        pmid="123",
        title="Ketamine for opioid-induced hyperalgesia",
        abstract_sections=STRUCTURED,
        authors=[Author("Angst", "Martin S", "MS"), Author(collective="OIH Study Group")],
        journal="Anesthesiology",
        journal_abbrev="Anesthesiology",
        pages="1123-9",
        pub_date="2003 Spring",
        pub_date_sort="2003-03-01",
        doi="10.1/x",
        mesh=[MeshHeading("Ketamine", "D007649", True, ("therapeutic use*",)), MeshHeading("Humans", "D006801")],
        keywords=["hyperalgesia"],
        publication_types=["Randomized Controlled Trial"],
        source="old.jsonl",
    )
    return replace(article, **changes)


def from_file(**fields) -> Article:
    return Article(pmid="123", source="new.csv", **fields)


def test_a_file_without_a_field_keeps_the_stored_one():
    merged = merge(stored(), from_file(title="Ketamine for opioid-induced hyperalgesia"))
    assert merged == stored(source="new.csv")


def test_what_the_file_says_in_its_poorer_form_keeps_the_stored_value():
    as_exported = from_file(
        abstract_sections=[AbstractSection("METHODS: Ketamine 0.5 mg/kg. CONCLUSIONS: Less pain.")],  # one line, as in RIS
        authors=[Author("Angst", "Martin S", "MS"), Author("OIH Study Group")],  # the group name read as a surname
        pages="1123-1129",
        pub_date="2003",
        pub_date_sort="2003-01-01",
        mesh=[MeshHeading("Ketamine"), MeshHeading("Humans")],  # names only
        keywords=["hyperalgesia"],
    )
    assert merge(stored(), as_exported) == stored(source="new.csv")


def test_mesh_among_the_keywords_of_a_file_without_mesh_is_read_as_the_headings():
    ris = from_file(keywords=["Ketamine", "Humans", "hyperalgesia"])
    assert merge(stored(), ris).keywords == ["hyperalgesia"]
    both = stored(keywords=["Ketamine", "hyperalgesia"])  # a stored keyword that is also a heading stays one
    assert merge(both, ris).keywords == ["Ketamine", "hyperalgesia"]
    assert merge(stored(), from_file(keywords=["Ketamine"], mesh=[MeshHeading("Ketamine")])).keywords == ["Ketamine"]


def test_a_file_updates_what_another_file_stored():
    merged = merge(stored(), from_file(title="Ketamine for OIH: corrected", pub_date="2004", pub_date_sort="2004-01-01"))
    assert (merged.title, merged.pub_date, merged.pub_date_sort) == ("Ketamine for OIH: corrected", "2004", "2004-01-01")
    assert merged.abstract_sections == STRUCTURED and merged.mesh == stored().mesh


def test_changed_lists_keep_the_stored_item_of_each_name_they_still_have():
    merged = merge(stored(), from_file(mesh=[MeshHeading("Ketamine"), MeshHeading("Pain")], authors=[Author("OIH Study Group")]))
    assert merged.mesh == [stored().mesh[0], MeshHeading("Pain")]
    assert merged.authors == [Author(collective="OIH Study Group")]


def test_headings_with_flags_and_qualifiers_enrich_the_same_names_and_names_alone_strip_nothing():
    names_only = stored(mesh=[MeshHeading("Ketamine"), MeshHeading("Humans")])
    detailed = from_file(mesh=stored().mesh)  # a JSON Lines export's mesh_headings
    assert merge(names_only, detailed).mesh == stored().mesh
    assert merge(stored(), from_file(mesh=[MeshHeading("Ketamine"), MeshHeading("Humans")])).mesh == stored().mesh
    assert merge(stored(), detailed) == stored(source="new.csv")
    no_longer_major = from_file(mesh=[MeshHeading("Ketamine", "D007649", False, ("adverse effects",)), MeshHeading("Humans")])
    assert merge(stored(), no_longer_major).mesh == [no_longer_major.mesh[0], stored().mesh[1]]
    medline = stored(created="2003-02-01", status="MEDLINE", mesh=[MeshHeading("Ketamine", "", True, ("therapeutic use*",)), MeshHeading("Humans")])
    over_medline = merge(medline, from_file(mesh=[MeshHeading("Ketamine", "D007649", False), MeshHeading("Humans", "D006801")]))
    assert over_medline.mesh == [MeshHeading("Ketamine", "D007649", True, ("therapeutic use*",)), MeshHeading("Humans", "D006801")]
    added = merge(names_only, from_file(mesh=[*stored().mesh, MeshHeading("Pain", "D010146")]))
    assert added.mesh == [*stored().mesh, MeshHeading("Pain", "D010146")]


def one_line(shared_data: Path, pmid: str, path: Path) -> Path:
    with open(shared_data / "corpus.jsonl", encoding="utf-8") as corpus:
        path.write_text(next(line for line in corpus if json.loads(line)["pmid"] == pmid), encoding="utf-8")
    return path


def test_a_jsonl_export_with_mesh_flags_updates_a_record_stored_with_names_only(shared_data, tmp_path):
    pmid = "38011560"  # in corpus.jsonl with MeSH names only, in PubMed XML with flags and qualifiers
    with Store(tmp_path / "xml.db") as store:
        ingest_files(store, [shared_data / "pubmed-xml" / "metapub" / f"{pmid}.xml"])
        from_xml = next(store.iter_articles([pmid]))
        with open(tmp_path / "export.jsonl", "w", encoding="utf-8") as out:
            WRITERS["jsonl"](iter_records(store, [pmid]), out)
    assert any(m.qualifiers for m in from_xml.mesh) and any(m.major for m in from_xml.mesh)
    plain = one_line(shared_data, pmid, tmp_path / "corpus.jsonl")
    with Store(tmp_path / "fresh.db") as store:
        ingest_files(store, [tmp_path / "export.jsonl"])
        assert next(store.iter_articles([pmid])).mesh == from_xml.mesh
    with Store(tmp_path / "merged.db") as store:
        ingest_files(store, [plain])
        assert [m.descriptor for m in next(store.iter_articles([pmid])).mesh] == from_xml.mesh_terms
        assert not any(m.ui or m.major or m.qualifiers for m in next(store.iter_articles([pmid])).mesh)
        richer = ingest_files(store, [tmp_path / "export.jsonl"]).totals
        assert (richer.updated, richer.unchanged) == (1, 0)
        assert next(store.iter_articles([pmid])).mesh == from_xml.mesh
        for again in (tmp_path / "export.jsonl", plain):  # the same file, then the poorer one: nothing changes
            before = store.db.execute("SELECT data, fingerprint, last_updated FROM articles WHERE pmid = ?", (pmid,)).fetchone()
            report = ingest_files(store, [again]).totals
            assert (report.updated, report.unchanged) == (0, 1)
            assert tuple(store.db.execute("SELECT data, fingerprint, last_updated FROM articles WHERE pmid = ?", (pmid,)).fetchone()) == tuple(before)
        assert next(store.iter_articles([pmid])).mesh == from_xml.mesh


def test_over_a_record_pubmed_wrote_a_file_only_fills_the_gaps():
    medline = stored(created="2003-02-01", status="MEDLINE", doi="", source="export.nbib")
    truncated = from_file(abstract_sections=[AbstractSection("Ketamine 0.5 mg/kg ...")], title="Ketamine for OIH", doi="10.1/x")
    merged = merge(medline, truncated)
    assert (merged.title, merged.abstract_sections, merged.doi) == (medline.title, STRUCTURED, "10.1/x")


def test_pubmed_text_updates_a_file_copy_and_a_file_never_changes_a_pubmed_xml_record():
    revised = from_file(title="Ketamine and OIH", created="2003-02-01", status="MEDLINE")
    merged = merge(stored(), revised)
    assert (merged.title, merged.status, merged.mesh) == ("Ketamine and OIH", "MEDLINE", stored().mesh)
    xml = stored(raw_xml="<PubmedArticle/>", source="pubmed.xml")
    assert merge(xml, from_file(title="Something else", volume="9")) is xml


def cohen_row(shared_data: Path, pmid: str, path: Path) -> Path:
    """The row of one PMID of the Cohen opioid CSV (ASReview's online file), under its header, as a file."""
    with open(shared_data / "cohen-2006" / "output" / "online" / "Opiods.csv", encoding="utf-8", newline="") as cohen:
        rows = csv.reader(cohen)
        header = next(rows)
        row = next(row for row in rows if row[1] == pmid)
    with open(path, "w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, row])
    return path


def test_a_file_that_knows_a_group_author_makes_the_person_stored_of_that_name_a_group(shared_data, tmp_path):
    """A corpus an older CSV ingest built holds the Cohen files' group names as persons surnamed with the whole name."""
    cohen = cohen_row(shared_data, "11157525", tmp_path / "cohen.csv")
    (article,) = read_records(cohen)
    group = Author(collective="Nasal Diamorphine Trial Group")
    assert article.authors[-1] == group and not any(a.collective for a in article.authors[:-1])
    as_person = replace(article, authors=[*article.authors[:-1], Author(last=group.collective)], source="old.csv")
    merged_medline = replace(as_person, created="2001-01-25", status="MEDLINE")  # then a MEDLINE file merged over it
    for form in ("csv", "ris"):  # our CSV names its groups in collective_authors; RIS goes by the name
        with open(tmp_path / f"export.{form}", "w", encoding="utf-8") as out:
            WRITERS[form]([article_record(article)], out)
    for path in (cohen, tmp_path / "export.csv", tmp_path / "export.ris"):
        for old in (as_person, merged_medline):
            with Store(":memory:") as store:
                store.upsert_articles([old])
                assert ingest_files(store, [path]).totals.updated == 1, path.name
                assert store.get_article("11157525").authors == article.authors, path.name
    assert merge(article, as_person).authors == article.authors  # a file that reads the name as a person's says less
    xml = replace(as_person, raw_xml="<PubmedArticle/>")
    assert merge(xml, article) is xml


def test_only_a_pmid_is_bare():
    assert is_bare(from_file()) and is_bare(Article("123", source="a.ris"))
    assert not is_bare(from_file(volume="3"))


def test_pubmeds_record_over_a_copy_without_a_create_date_is_first_seen_when_it_comes():
    """A digest takes records first seen in its week that PubMed created in it; a RIS copy stored a week before
    PubMed's record arrived could not tell its create date then, and must not make the paper miss every digest."""
    now = [datetime(2026, 11, 10, 8, 0, tzinfo=timezone.utc)]
    with Store(clock=lambda: now[0]) as store:
        store.upsert_articles([from_file(title="Ketamine for OIH")])
        store.upsert_articles([from_file(title="Ketamine for OIH", volume="9")])  # another file: still no create date
        now[0] = datetime(2026, 11, 17, 8, 0, tzinfo=timezone.utc)
        assert store.upsert_articles([stored(created="2026-11-09", raw_xml="<PubmedArticle/>")]).updated == 1
        assert first_seen_between(store, "2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00", "2026-11-09") == ["123"]
        now[0] = datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc)
        store.upsert_articles([stored(created="2026-11-09", raw_xml="<PubmedArticle/>", revised="2026-11-20")])
        assert store.db.execute("SELECT first_seen FROM articles").fetchone()[0] == "2026-11-17T08:00:00+00:00"
