"""Personal names as the file readers take them apart: ASReview's forename-first names, and our exports'
'Last, Fore' read back."""

from __future__ import annotations

import io

import pytest

from corpus.article import Article
from corpus.exports import article_record, author_name, write_csv, write_jsonl
from harvester.csv_table import parse_csv
from harvester.files import read_records
from harvester.ingest import ingest_files
from harvester.jsonl import parse_jsonl
from harvester.records import author_from_name


@pytest.mark.parametrize(
    ("name", "fore", "initials"),
    [
        ("Gade, LH", "LH", "LH"),  # PubMed gave initials only; our export writes them where the forename goes
        ("Tan, XM", "XM", "XM"),
        ("Tan, Xing-mei", "Xing-mei", "XM"),  # NLM's initials for it: each part of the name, in capitals
        ("Carr, A S", "A S", "AS"),
        ("Mangalam, Harry J.", "Harry J.", "HJ"),
        ("Røsjø, Ø", "Ø", "Ø"),
        ("Mari, J de J", "J de J", "JdJ"),
    ],
)
def test_initials_of_a_name_written_last_comma_fore(name, fore, initials):
    author = author_from_name(name)
    assert (author.last, author.fore, author.initials) == (name.partition(",")[0], fore, initials)


@pytest.mark.parametrize("write, parse", [(write_csv, parse_csv), (write_jsonl, parse_jsonl)])
def test_our_export_read_back_keeps_pubmeds_initials(shared_data, write, parse):
    folder = shared_data / "pubmed-xml" / "exports"
    stored = {a.pmid: a for name in ("filiperigueiro+ArticleSearch__pubmed_result.xml", "mokztk+pubmed-parser__CPFE.xml")
              for a in read_records(folder / name) if isinstance(a, Article)}
    out = io.StringIO()
    write((article_record(article) for article in stored.values()), out)
    read = {a.pmid: a for a in parse(io.StringIO(out.getvalue()))}
    assert [a.display for a in read["26555421"].authors] == ["Tan XM", "Hu HF", "Chen SQ"]
    assert [a.display for a in read["10807180"].authors][:2] == ["Gade LH", "Memmler H"]
    pairs = [(old, new) for pmid, article in stored.items() for old, new in zip(article.authors, read[pmid].authors)]
    # A forename NLM shortened ('Cornelis E C A', initials 'CE') gives more initials; none may lose one or change
    # case, but for NLM's transliterated digraphs, which read as a two-letter name would ('Yu' gives 'Y').
    lost = {(old.fore, old.initials, new.initials) for old, new in pairs if not new.initials.startswith(old.initials)}
    assert len(pairs) > 1000 and lost == {("Iu I", "IuI", "II"), ("Susan Dj", "SDj", "SD")}


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("Vincent Bonhomme", "Bonhomme, Vincent"),
        ("Pierre Yves Dewandre", "Dewandre, Pierre Yves"),
        ("Evan D Kharasch", "Kharasch, Evan D"),
        ("Chiara Di Schino", "Di Schino, Chiara"),  # a particle before the last word belongs to the surname
        ("M de la Nuez", "de la Nuez, M"),
        ("Sarah De la Rue", "De la Rue, Sarah"),
        ("S Iu Zemskaia", "Zemskaia, S Iu"),
        ("J de J Mari", "Mari, J de J"),  # 'J' is no particle: the surname stops there
        ("Ø Røsjø", "Røsjø, Ø"),
        ("A S Carr", "Carr, A S"),
        ("F C NG", "NG, F C"),  # capitals last, after an initial: a surname still
        ("Kellstein DE", "Kellstein, DE"),  # MEDLINE order: the surname first already
        ("van der Heijde D", "van der Heijde, D"),
        ("Carr, A S", "Carr, A S"),
        ("Nasal Diamorphine Trial Group", "Nasal Diamorphine Trial Group"),
    ],
)
def test_a_name_without_a_comma_is_forenames_then_surname(written, read):
    (article,) = parse_csv(io.StringIO(f'pmid,title,authors\n1,Opioids,"{written}"\n'))
    assert [author_name(author) for author in article.authors] == [read]


def test_our_exports_name_without_a_comma_is_a_surname_alone():
    (article,) = parse_csv(io.StringIO('pmid,title,authors,mesh\n1,Opioids,"Van Hecken; Carr, A S",Humans\n'))
    assert [(a.last, a.fore) for a in article.authors] == [("Van Hecken", ""), ("Carr", "A S")]


def cohen(shared_data, folder: str, name: str = "*.csv") -> dict[str, Article]:
    return {a.pmid: a for path in sorted((shared_data / "cohen-2006" / "output" / folder).glob(name)) for a in read_records(path)}


def test_the_online_cohen_files_names_are_the_local_files_names(shared_data):
    local, online = cohen(shared_data, "local"), cohen(shared_data, "online")
    assert [author_name(a) for a in online["11773815"].authors] == [author_name(a) for a in local["11773815"].authors]
    differ = [(pmid, author_name(author)) for pmid, article in online.items() for author in article.authors
              if not author.collective and author_name(author) not in {author_name(a) for a in local[pmid].authors}]
    # What is left: surnames of two words without a particle ('Pilar Tejada González', 'W D Ngan Kee').
    assert len(differ) == 113 and ("12049701", "González, Pilar Tejada") in differ


def test_the_online_cohen_file_ingested_after_the_local_one_keeps_its_names(store, shared_data):
    folder = shared_data / "cohen-2006" / "output"
    ingest_files(store, [folder / "local" / "Opiods.csv"])
    before = {a.pmid: [author_name(x) for x in a.authors if not x.collective] for a in store.iter_articles()}
    ingest_files(store, [folder / "online" / "Opiods.csv"])
    after = {a.pmid: [author_name(x) for x in a.authors if not x.collective] for a in store.iter_articles()}
    changed = [pmid for pmid in before if before[pmid] != after[pmid]]
    assert len(before) == 1915 and len(changed) == 38  # each for a surname of two words, as above
    assert after["11773815"][:3] == ["Bonhomme, Vincent", "Doll, Anne", "Dewandre, Pierre Yves"]
