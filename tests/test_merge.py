"""``merge``: a partial file's record over the stored copy keeps what the file does not carry, and
PubMed's own record wins over a reference manager's or a spreadsheet's copy."""

from __future__ import annotations

from dataclasses import replace

from corpus.article import AbstractSection, Article, Author, MeshHeading
from harvester.merge import is_bare, merge

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


def test_only_a_pmid_is_bare():
    assert is_bare(from_file()) and is_bare(Article("123", source="a.ris"))
    assert not is_bare(from_file(volume="3"))
