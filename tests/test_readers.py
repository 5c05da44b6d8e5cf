"""MEDLINE, RIS and CSV readers, and ``read_records``' choice of reader and its one-line errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from corpus.article import AbstractSection, Article, Book, MeshHeading
from corpus.errors import InputError
from corpus.exports import article_record, author_name
from harvester.abstract_text import sections_from_line, sections_from_lines
from harvester.dates import sort_date
from harvester.files import read_records
from harvester.records import Deletion

FIXTURES = Path(__file__).parent / "fixtures"


def articles(path: Path, **kwargs) -> list[Article]:
    return [r for r in read_records(path, **kwargs) if isinstance(r, Article)]


# -- MEDLINE -------------------------------------------------------------------------------


def test_medline_files_all_load(shared_data):
    counts = {p.name: len(articles(p)) for p in sorted((shared_data / "medline").iterdir())}
    for path in (shared_data / "medline").iterdir():
        assert counts[path.name] == path.read_text(encoding="utf-8").count("\nPMID- ") + path.read_text(
            encoding="utf-8"
        ).startswith("PMID- ")
    assert sum(counts.values()) == 13


def test_medline_fields(shared_data):
    (article,) = articles(shared_data / "medline" / "pubmed_result1.txt")
    assert (article.pmid, article.title) == ("12230038", "The Bio* toolkits--a brief overview.")
    assert article.abstract.startswith("Bioinformatics research is often difficult") and "  " not in article.abstract
    assert (article.authors[0].last, article.authors[0].fore, article.authors[0].initials) == ("Mangalam", "Harry", "H")
    assert (article.journal, article.journal_abbrev, article.issn) == ("Briefings in bioinformatics", "Brief Bioinform", "1467-5463")
    assert (article.volume, article.issue, article.pages) == ("3", "3", "296-302")
    assert (article.pub_date, article.pub_date_sort) == ("2002 Sep", "2002-09-01")
    assert (article.created, article.entrez_date, article.revised) == ("2002-09-16", "2002-09-17", "2004-11-17")
    mesh = {m.descriptor: m for m in article.mesh}
    assert mesh["Computational Biology"].major and not mesh["Humans"].major
    assert article.publication_types == ["Journal Article"] and article.languages == ["eng"]
    assert article.source.endswith("pubmed_result1.txt")


def test_medline_doi_pmc_keywords_and_major_qualifiers(shared_data):
    records = {a.pmid: a for a in articles(shared_data / "medline" / "dreamytang__Pubmed_Author_Ranking__pubmed_result.txt")}
    first = records["30038950"]
    assert (first.doi, first.pmcid) == ("10.1177/2333721418778199", "PMC6050798")
    assert "traditional Chinese medicine" in first.keywords
    assert (first.pub_date, first.pub_date_sort, first.created) == ("2018 Jan-Dec", "2018-01-01", "2018-07-25")
    (hifu,) = articles(shared_data / "medline" / "pubmed_result3.txt")
    heading = next(m for m in hifu.mesh if m.descriptor == "High-Intensity Focused Ultrasound Ablation")
    assert heading.qualifiers == ("adverse effects", "instrumentation", "methods*") and heading.major


# The GeneReviews chapter of pubmed-xml/metapub/sample_article_20301577.xml as PubMed prints it in MEDLINE text
# (the abstract, copyright line, affiliations and most keywords left out).
CHAPTER_NBIB = """\
PMID- 20301577
STAT- Publisher
DRDT- 20241219
CTDT- 20060215
PB  - University of Washington, Seattle
DP  - 1993
TI  - CACNA1C-Related Disorders
BTI - GeneReviews®
FED - Adam, Margaret P
ED  - Adam MP
FED - Feldman, Jerry
ED  - Feldman J
FED - Mirzaa, Ghayda M
ED  - Mirzaa GM
FED - Pagon, Roberta A
ED  - Pagon RA
FED - Wallace, Stephanie E
ED  - Wallace SE
FED - Amemiya, Anne
ED  - Amemiya A
FAU - Napolitano, Carlo
AU  - Napolitano C
FAU - Priori, Silvia G
AU  - Priori SG
LA  - eng
PT  - Review
PL  - Seattle (WA)
OTO - NLM
OT  - Timothy Syndrome
OT  - CACNA1C
EDAT- 2024/12/19 00:00
MHDA- 2024/12/19 00:00
CRDT- 2024/12/19 00:00
AID - NBK1403 [bookaccession]
"""


def test_a_medline_book_chapter_reads_as_its_pubmed_xml_does(shared_data, tmp_path):
    path = tmp_path / "chapter.nbib"
    path.write_text(CHAPTER_NBIB, encoding="utf-8")
    (chapter,) = articles(path)
    (xml,) = articles(shared_data / "pubmed-xml" / "metapub" / "sample_article_20301577.xml")
    assert (chapter.title, chapter.journal, chapter.is_book, chapter.book) == (xml.title, xml.journal, True, xml.book)
    assert chapter.book == Book("University of Washington, Seattle", "Seattle (WA)", xml.book.editors) and len(xml.book.editors) == 6
    assert chapter.authors == xml.authors
    dates = ("pub_date", "pub_date_sort", "created", "entrez_date", "revised")
    assert [getattr(chapter, d) for d in dates] == [getattr(xml, d) for d in dates] == ["2006 Feb 15", "2006-02-15", *["2024-12-19"] * 3]
    record = article_record(chapter)
    assert (record["reference_type"], record["publisher"], record["editors"][0]) == ("chapter", "University of Washington, Seattle", "Adam, Margaret P")
    journal = articles(shared_data / "medline" / "pubmed_result1.txt")[0]  # its PL, 'England', is the journal's country
    assert (journal.is_book, journal.book, article_record(journal)["reference_type"]) == (False, None, "article")


def test_medline_whole_book_and_a_chapter_contributed_on_a_single_digit_day(tmp_path):
    path = tmp_path / "books.nbib"
    path.write_text("PMID- 1\nDP  - 2004\nBTI - Assay Guidance Manual\nPB  - Eli Lilly & Company\nPL  - Bethesda (MD)\n\n"
                    "PMID- 2\nCTDT- 20180905\nDP  - 2002\nTI  - A summary\nBTI - PDQ Cancer Information Summaries\n", encoding="utf-8")
    book, chapter = articles(path)
    assert (book.title, book.journal, book.pub_date, book.book) == ("Assay Guidance Manual",) * 2 + ("2004", Book("Eli Lilly & Company", "Bethesda (MD)"))
    assert article_record(book)["reference_type"] == "book"
    assert (chapter.pub_date, chapter.pub_date_sort, chapter.book) == ("2018 Sep 5", "2018-09-05", None)  # as the XML prints Day 5


def test_medline_links_and_missing_pmid(tmp_path):
    path = tmp_path / "export.nbib"
    path.write_text(
        "PMID- 99000001\nTI  - Retracted trial.\nPT  - Retracted Publication\n"
        "RIN - Pain Med. 2024 May;25(5):400. PMID: 99000002\nDP  - 1998 Dec-1999 Jan\n\n"
        "TI  - A record with no PMID line\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"export.nbib: record 2: no PMID"):
        list(read_records(path))
    skipped = []
    (article,) = articles(path, on_skip=skipped.append)
    assert article.retracted and article.links[0].pmid == "99000002"
    assert (article.pub_date, article.pub_date_sort) == ("1998 Dec-1999 Jan", "1998-12-01")
    assert [str(s) for s in skipped] == [f"{path}: record 2: no PMID"]


def test_medline_authors_before_2002_have_only_au_lines(tmp_path):
    path = tmp_path / "old.nbib"
    path.write_text("PMID- 10321245\nTI  - Mechanisms of hyperalgesia.\nAU  - Mao J\nAU  - van der Berg JM\n"
                    "AU  - Price DD\nCN  - Pain Study Group\n", encoding="utf-8")
    (article,) = articles(path)
    assert [(a.last, a.fore, a.initials, a.collective) for a in article.authors] == [
        ("Mao", "", "J", ""), ("van der Berg", "", "JM", ""), ("Price", "", "DD", ""), ("", "", "", "Pain Study Group")]


def test_medline_structured_abstract_gets_its_sections(shared_data):
    (article,) = articles(shared_data / "medline" / "pubmed_result3.txt")
    assert [s.label for s in article.abstract_sections] == ["PURPOSE", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert article.abstract_sections[0].text.startswith("High-intensity focused ultrasound is a promising")
    unstructured = {a.pmid: a for a in articles(shared_data / "medline" / "pubmed_result2.txt")}["14630660"]
    assert [s.label for s in unstructured.abstract_sections] == [""]


# -- RIS -----------------------------------------------------------------------------------


def test_ris_fixture():
    skipped = []
    first, second = articles(FIXTURES / "sample.ris", on_skip=skipped.append)
    assert (first.pmid, first.doi, first.pages, first.volume, first.issue) == (
        "16508405", "10.1097/00000542-200603000-00025", "570-587", "104", "3"
    )
    assert (first.authors[0].last, first.authors[0].fore, first.authors[0].initials) == ("Angst", "Martin S.", "MS")
    assert (first.pub_date_sort, first.journal, first.keywords) == ("2006-01-01", "Anesthesiology", ["Hyperalgesia", "Analgesics, Opioid"])
    assert first.abstract.startswith("Opioids are the cornerstone")
    assert (second.pmid, second.pub_date) == ("18287823", "2008")  # PMID from the PubMed URL
    assert len(skipped) == 1 and "no PMID" in str(skipped[0]) and "entry 3" in str(skipped[0])


def test_ris_drops_our_tags_and_reads_languages_and_sections(tmp_path):
    path = tmp_path / "export.ris"
    path.write_text(
        "TY  - JOUR\nAN  - 123\nTI  - Ketamine\nKW  - oihwatch:topic:ketamine\nKW  - oihwatch:study:rct\n"
        "KW  - Ketamine\nKW  - oihwatch:retracted\nLA  - eng; spa\n"
        "AB  - BACKGROUND: Pain (n = 3). METHODS: A trial. CONCLUSIONS: Less pain.\nER  - \n",
        encoding="utf-8",
    )
    (article,) = articles(path)
    assert (article.keywords, article.languages) == (["Ketamine"], ["eng", "spa"])
    assert [(s.label, s.text) for s in article.abstract_sections] == [
        ("BACKGROUND", "Pain (n = 3)."), ("METHODS", "A trial."), ("CONCLUSIONS", "Less pain.")
    ]


def test_ris_group_authors_stay_groups(tmp_path):
    path = tmp_path / "groups.ris"
    path.write_text("TY  - JOUR\nAN  - 15923571\nAU  - Gatta, Gemma\nAU  - EUROCARE Working Group\n"
                    "AU  - Tumour and Angiogenesis Research Group\nAU  - CSD of Epidemiology Biostatistics; AIEOP\n"
                    "AU  - EMBRACE\nAU  - Basappa\nER  - \n", encoding="utf-8")
    (article,) = articles(path)
    assert [(a.last, a.fore, a.collective) for a in article.authors] == [
        ("Gatta", "Gemma", ""), ("", "", "EUROCARE Working Group"), ("", "", "Tumour and Angiogenesis Research Group"),
        ("", "", "CSD of Epidemiology Biostatistics, AIEOP"),  # our export's ';' for a group's comma, given back
        ("", "", "EMBRACE"), ("Basappa", "", ""),  # a name in capitals is a group's acronym; a single surname a person
    ]


def test_ris_date_gives_the_date_as_printed(tmp_path):
    path = tmp_path / "dates.ris"
    entries = [("PY  - 1976\nDA  - 1976/09/28/", "1976 Sep 28", "1976-09-28"),  # our export, Zotero's
               ("PY  - 2003\nDA  - 2003///Spring", "2003 Spring", "2003-03-01"),
               ("PY  - 1998\nDA  - 1998///Dec-1999 Jan", "1998 Dec-1999 Jan", "1998-12-01"),
               ("PY  - 2006\nDA  - 2006/01//", "2006 Jan", "2006-01-01"),
               ("Y1  - 2008/04/07/", "2008 Apr 07", "2008-04-07"),
               ("PY  - 2010\nDA  - Sep 28", "2010", "2010-01-01")]  # EndNote's free-text date: the year
    path.write_text("".join(f"TY  - JOUR\nAN  - {n}\n{tags}\nER  - \n" for n, (tags, _, _) in enumerate(entries, start=1)),
                    encoding="utf-8")
    assert [(a.pub_date, a.pub_date_sort) for a in articles(path)] == [(printed, iso) for _, printed, iso in entries]


def test_ris_c2_is_a_pmcid_only_when_it_looks_like_one(tmp_path):
    path = tmp_path / "export.ris"
    path.write_text("TY  - JOUR\nAN  - 1\nC2  - PMC123456\nER  - \nTY  - JOUR\nAN  - 2\nC2  - 2019/03/01\nER  - \n",
                    encoding="utf-8")
    assert [a.pmcid for a in articles(path)] == ["PMC123456", ""]


@pytest.mark.parametrize(
    ("text", "message", "complete"),
    [
        ("TY  - JOUR\nAN  - 1\nER  - \nTY  - JOUR\nAN  - 2\nTI  - cut", r"truncated RIS: the entry of line 4 has no closing 'ER' line", ["1"]),
        ("TY  - JOUR\nAN  - 1\nTY  - JOUR\nAN  - 2\nER  - \n", r"line 3: a new entry starts before the entry of line 1 ended", []),
    ],
)
def test_ris_entry_without_its_end_is_an_error_naming_the_line(tmp_path, text, message, complete):
    path = tmp_path / "cut.ris"
    path.write_text(text, encoding="utf-8")
    read = []
    with pytest.raises(InputError, match=message) as error:
        read.extend(read_records(path))
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)
    assert [a.pmid for a in read] == complete  # the entries before the broken one are read


def test_ris_without_entries_is_an_error(tmp_path):
    path = tmp_path / "notes.ris"
    path.write_text("just some notes\n", encoding="utf-8")
    with pytest.raises(InputError, match="notes.ris: no RIS entries"):
        list(read_records(path))


# -- CSV -----------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["local", "online"])
def test_cohen_opioid_csv_loads_as_it_is(shared_data, folder):
    records = articles(shared_data / "cohen-2006" / "output" / folder / "Opiods.csv")
    assert len(records) == 1915 and len({r.pmid for r in records}) == 1915
    first = records[0]
    assert first.pmid == "10021952" and first.title.startswith("Bupivacaine 0.125% produces motor block")
    assert all(r.pmid.isdigit() for r in records)


def test_cohen_csv_fields(shared_data):
    first = articles(shared_data / "cohen-2006" / "output" / "local" / "Opiods.csv")[0]
    assert {"Fentanyl", "Analgesia, Epidural"} <= set(first.mesh_terms) and first.keywords == []
    assert first.authors and first.authors[0].last
    online = articles(shared_data / "cohen-2006" / "output" / "online" / "Opiods.csv")[0]
    assert online.year and online.pub_date_sort == f"{online.year}-01-01"


def test_every_cohen_csv_loads(shared_data):
    paths = sorted((shared_data / "cohen-2006" / "output").glob("*/*.csv"))
    assert sum(len(articles(p)) for p in paths) == 2 * 4622


def test_the_cohen_csvs_keywords_are_their_mesh_headings(shared_data):
    # The 'keywords' column of the local files is each record's MeSH list; the 10 rows without one have none.
    records = [a for path in sorted((shared_data / "cohen-2006" / "output" / "local").glob("*.csv")) for a in articles(path)]
    assert (len(records), sum(1 for a in records if a.mesh), sum(1 for a in records if a.keywords)) == (4622, 4612, 0)
    opioids = [a for a in records if "Analgesics, Opioid" in a.mesh_terms and a.source.endswith("Opiods.csv")]
    assert len(opioids) == 1339 and opioids[0].pmid == "10021952"  # as many as the file's rows that name it


def test_csv_keywords_are_mesh_when_the_first_keywords_cell_holds_a_check_tag(tmp_path):
    path = tmp_path / "asreview.csv"
    path.write_text(
        "pmid,title,keywords\n"
        "1,No keywords,\n"
        '2,Indexed,"Analgesics, Opioid; Hyperalgesia; Humans"\n'
        '3,No check tag,"Ketamine; Receptors, N-Methyl-D-Aspartate"\n',
        encoding="utf-8",
    )
    assert [(a.mesh_terms, a.keywords) for a in articles(path)] == [
        ([], []), (["Analgesics, Opioid", "Hyperalgesia", "Humans"], []), (["Ketamine", "Receptors, N-Methyl-D-Aspartate"], [])]


def test_csv_keywords_stay_keywords_without_a_check_tag_first_or_beside_a_mesh_column(tmp_path):
    authors = tmp_path / "keywords.csv"
    authors.write_text("pmid,title,keywords\n1,Tapering,opioid tapering; OIH\n2,Later,Humans; Male\n", encoding="utf-8")
    assert [(a.mesh_terms, a.keywords) for a in articles(authors)] == [([], ["opioid tapering", "OIH"]), ([], ["Humans", "Male"])]
    ours = tmp_path / "export.csv"
    ours.write_text("pmid,title,mesh,keywords\n1,Tapering,Hyperalgesia,Humans; OIH\n", encoding="utf-8")
    assert [(a.mesh_terms, a.keywords) for a in articles(ours)] == [(["Hyperalgesia"], ["Humans", "OIH"])]


def test_csv_headers_case_insensitive_and_rows_without_pmid_are_skipped(tmp_path):
    path = tmp_path / "screening.csv"
    path.write_text(
        "\ufeffTitle,Abstract,PMID,DOI,Year,Authors\n"
        "Opioid tapering,Tapered.,123,,2020,\"Smith, J A; Doe, Jane\"\n"
        "No identity,Text.,,10.1000/xyz,2021,\n"
        "Float id,Text.,456.0,,2019,\n",
        encoding="utf-8",
    )
    skipped = []
    first, second = articles(path, on_skip=skipped.append)
    assert (first.pmid, first.title, first.pub_date_sort) == ("123", "Opioid tapering", "2020-01-01")
    assert [(a.last, a.initials) for a in first.authors] == [("Smith", "JA"), ("Doe", "J")]
    assert second.pmid == "456"
    assert [str(s) for s in skipped] == [f"{path}: line 3: no PMID (DOI 10.1000/xyz)"]


def test_csv_as_our_export_writes_it(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "pmid,title,authors,journal,year,volume,issue,pages,doi,pmcid,topics,mesh,keywords,publication_types,language,abstract\n"
        '7,Ketamine,"Smith, J; OIH Group; Smith, J",Pain,2019,12,3,1123-9,10.1/x,PMC1,ketamine,'
        '"Ketamine; Analgesics, Opioid",OIH,Randomized Controlled Trial,eng; spa,"RESULTS: Less\u00a0pain.\nCONCLUSIONS: Use it."\n',
        encoding="utf-8",
    )
    (article,) = articles(path)
    assert [(author.last, author.collective) for author in article.authors] == [("Smith", ""), ("", "OIH Group"), ("Smith", "")]
    assert (article.volume, article.issue, article.pages, article.pmcid) == ("12", "3", "1123-9", "PMC1")
    assert (article.mesh_terms, article.keywords) == (["Ketamine", "Analgesics, Opioid"], ["OIH"])
    assert (article.publication_types, article.languages) == (["Randomized Controlled Trial"], ["eng", "spa"])
    assert article.abstract_sections == [AbstractSection("Less\u00a0pain.", "RESULTS"), AbstractSection("Use it.", "CONCLUSIONS")]


def test_csv_cell_longer_than_the_csv_module_default_is_read(tmp_path):
    # A consortium paper's author list in our own CSV export: 10,000 authors, over csv's 131,072-character cell limit.
    names = "; ".join(f"Author{index:05d}, A" for index in range(10000))
    path = tmp_path / "consortium.csv"
    path.write_text(f'pmid,title,authors\n1,GWAS of opioid response,"{names}"\n', encoding="utf-8")
    (article,) = articles(path)
    assert len(names) > 131_072 and len(article.authors) == 10000


def test_csv_names_written_initials_first(shared_data):
    first = articles(shared_data / "cohen-2006" / "output" / "online" / "Opiods.csv")[0]
    assert [(a.last, a.initials) for a in first.authors[:2]] == [("Carr", "AS"), ("Fear", "DW")]


def test_group_authors_of_the_cohen_csvs_are_groups_and_their_people_stay_people(shared_data):
    groups, people = {}, {}
    for path in sorted((shared_data / "cohen-2006" / "output").glob("*/*.csv")):
        for article in articles(path):
            for author in article.authors:
                if author.collective:
                    groups.setdefault(author.collective, article.pmid)
                else:
                    people[author_name(author)] = article.pmid
    assert len(groups) == 50  # each one read and checked: every one names a group
    assert {"Nasal Diamorphine Trial Group", "Americal Pain Society", "AAFP", "Neuropathic pain study group",
            "Quality Standards Subcommittee of the American Academy of Neurology"} <= set(groups)
    assert groups["Nasal Diamorphine Trial Group"] == "11157525"
    assert people["Gruppo, R"] == "11060540"  # 'R Gruppo' in the online file: a Dr Gruppo, not a group
    assert "Kendall, J M" in people


def test_a_csv_names_its_group_authors_in_collective_authors(tmp_path):
    group = "Task and Finish Group for Urinalysis (TFG-U), European Federation of Clinical Chemistry (EFLM)"
    path = tmp_path / "export.csv"
    path.write_text(f'pmid,title,authors,collective_authors\n1,Urinalysis,"Oyaert, Matthijs; {group}; HEBON","{group}"\n',
                    encoding="utf-8")
    (article,) = articles(path)
    assert [(a.last, a.fore, a.collective) for a in article.authors] == [("Oyaert", "Matthijs", ""), ("", "", group), ("", "", "HEBON")]


def test_csv_without_title_column_names_the_file(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("pmid,label\n1,0\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"labels.csv: CSV has no 'title' column") as error:
        list(read_records(path))
    assert "\n" not in str(error.value)



def test_csv_rows_not_one_cell_per_column_are_skipped_with_their_line(tmp_path):
    path = tmp_path / "screening.csv"
    path.write_text(
        "pmid,title,journal,abstract\n"
        '1,First,Pain,"Two\nlines, quoted."\n'
        "2,Short row\n"
        "3,Long row,Pain,Text.,extra\n"
        "4,Last,Pain,Text.\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"screening.csv: line 4 \(2 cells for 4 columns\): not one cell per column"):
        list(read_records(path))
    skipped = []
    assert [(a.pmid, a.abstract) for a in articles(path, on_skip=skipped.append)] == [("1", "Two\nlines, quoted."), ("4", "Text.")]
    assert [str(s) for s in skipped] == [
        f"{path}: line 4 (2 cells for 4 columns): not one cell per column",
        f"{path}: line 5 (5 cells for 4 columns): not one cell per column",
    ]


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        ("3,Cut,Pa", r"truncated CSV: line 4 \(3 cells for 4 columns\) ends the file"),
        ('3,Cut,Pain,"Half an abs', r"truncated CSV: the row of line 4 ends inside a quoted cell"),
        ('3,Cut,Pain,"Half\nan abs', r"truncated CSV: the row of line 4 ends inside a quoted cell"),
    ],
)
def test_a_csv_cut_mid_row_is_an_error_after_the_rows_before_it(tmp_path, cut, message):
    path = tmp_path / "cut.csv"
    path.write_text(f'pmid,title,journal,abstract\n1,One,Pain,"A, b."\n2,Two,Pain,Text.\n{cut}', encoding="utf-8")
    read = []
    with pytest.raises(InputError, match=message) as error:
        read.extend(read_records(path, on_skip=pytest.fail))
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)
    assert [a.pmid for a in read] == ["1", "2"]


# -- JSON Lines and flattened abstracts ------------------------------------------------------


def test_jsonl_as_our_export_writes_it(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text(
        '{"pmid": "7", "title": "Ketamine", "authors": ["Smith, J", "OIH Group"], "collective_authors": ["OIH Group"],'
        ' "journal": "Pain", "journal_abbrev": "Pain", "year": 2003, "pub_date": "2003 Spring", "pmcid": "PMC1",'
        ' "language": ["eng", "spa"], "topics": ["ketamine"], "abstract": "METHODS: A trial.\\nCONCLUSIONS: Less pain."}\n',
        encoding="utf-8",
    )
    (article,) = articles(path)
    assert [(a.last, a.collective) for a in article.authors] == [("Smith", ""), ("", "OIH Group")]
    assert (article.journal_abbrev, article.pub_date, article.pub_date_sort) == ("Pain", "2003 Spring", "2003-03-01")
    assert (article.pmcid, article.languages) == ("PMC1", ["eng", "spa"])
    assert [s.label for s in article.abstract_sections] == ["METHODS", "CONCLUSIONS"]


def test_jsonl_mesh_headings_keep_their_flags_and_a_plain_mesh_list_still_reads(tmp_path):
    path = tmp_path / "export.jsonl"
    headings = [{"descriptor": "Ketamine", "ui": "D007649", "major": True,
                 "qualifiers": [{"name": "therapeutic use", "major": True}, {"name": "adverse effects", "major": False}, "junk"]}]
    lines = [
        {"pmid": "7", "title": "Ours", "mesh": ["Ketamine"], "mesh_headings": headings},
        {"pmid": "8", "title": "corpus.jsonl's shape", "mesh": ["Ketamine", "Humans"]},
        {"pmid": "9", "title": "Not a list of headings", "mesh": ["Humans"], "mesh_headings": 5},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    ours, plain, odd = articles(path)
    assert ours.mesh == [MeshHeading("Ketamine", "D007649", True, ("therapeutic use*", "adverse effects"))]
    assert plain.mesh == [MeshHeading("Ketamine"), MeshHeading("Humans")]
    assert odd.mesh == [MeshHeading("Humans")]


def test_flattened_abstracts_back_into_sections():
    assert sections_from_lines("SUMMARY: x  y\nplain line\n\n") == [AbstractSection("x  y", "SUMMARY"), AbstractSection("plain line")]
    assert sections_from_line("Pain in the USA. RESULTS: none") == [AbstractSection("Pain in the USA. RESULTS: none")]
    assert sections_from_line("AIM: x (p < 0.05). DESIGN, SETTING, AND PARTICIPANTS: y HIV: z") == [
        AbstractSection("x (p < 0.05).", "AIM"), AbstractSection("y HIV: z", "DESIGN, SETTING, AND PARTICIPANTS")
    ]
    assert sections_from_line("  ") == []


# -- format detection and bad files ---------------------------------------------------------


def test_gzip_detected_by_content_not_name(tmp_path):
    data = (FIXTURES / "update_with_deletions.xml").read_bytes()
    disguised = tmp_path / "records.xml"  # gzip data without .gz
    disguised.write_bytes(gzip.compress(data))
    records = list(read_records(disguised))
    assert [type(r) for r in records] == [Article, Deletion]


def test_xml_content_wins_over_a_txt_name(tmp_path):
    path = tmp_path / "efetch.txt"
    path.write_bytes((FIXTURES / "retraction.xml").read_bytes())
    assert [a.pmid for a in articles(path)] == ["99000001", "99000002"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.xml", b"", "empty file"),
        ("blank.csv", b"\n\n", "empty file"),
        ("notes.xml", b"these are not records\n", "not XML"),
        ("page.xml", b"<!DOCTYPE html>\n<html><head><title>502</title></head></html>", "HTML page"),
        ("cut.xml", None, r"truncated or malformed XML at line \d+ after PMID 99000001"),
        ("fake.xml.gz", b"<PubmedArticleSet></PubmedArticleSet>", "named .gz but is not gzip"),
        ("broken.xml.gz", gzip.compress(b"<PubmedArticleSet>" + b"<x/>" * 5000)[:60], "cannot read"),
        ("latin1.nbib", "PMID- 1\nTI  - Caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("data.bin", b"\x00\x01\x02", "cannot tell the format"),
        ("notes.txt", b"Dear colleague,\nhere are the papers.\n", "not MEDLINE text"),
        ("no-pmid.xml", b"<PubmedArticleSet><PubmedArticle><MedlineCitation/></PubmedArticle></PubmedArticleSet>", "record 1 .*no PMID"),
    ],
)
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, name, content, message):
    if content is None:
        data = (FIXTURES / "retraction.xml").read_bytes()
        content = data[: data.rindex(b"<PMID Version=\"1\">99000002") + 30]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        list(read_records(path))
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot open"):
        list(read_records(tmp_path / "nowhere.xml"))


@pytest.mark.parametrize(
    ("printed", "iso"),
    [
        ("2023 Dec 05", "2023-12-05"),
        ("2003 Spring", "2003-03-01"),
        ("2000 Winter", "2000-01-01"),
        ("1998 Dec-1999 Jan", "1998-12-01"),
        ("2001 Jan 4-10", "2001-01-04"),
        ("1999-2000", "1999-01-01"),
        ("2018 Jan-Dec", "2018-01-01"),
        ("Fall 2004", "2004-01-01"),
        ("undated", ""),
    ],
)
def test_sort_date_is_the_earliest_day_the_printed_date_allows(printed, iso):
    assert sort_date(printed) == iso
