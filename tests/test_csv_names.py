"""Personal names as the file readers take them apart: our exports' 'Last, Fore', read back."""

from __future__ import annotations

import io

import pytest

from corpus.article import Article
from corpus.exports import article_record, write_csv, write_jsonl
from harvester.csv_table import parse_csv
from harvester.files import read_records
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
