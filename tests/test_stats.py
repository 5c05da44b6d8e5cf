"""``oihwatch stats``: counts per topic per year and per study type, and the trend plot."""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import sqlite3
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from corpus.evidence import STUDY_TYPES
from corpus.stats import CorpusStats, corpus_stats, plot_formats, plot_trends
from corpus.store import Store
from oihwatch.cli import cli
from research_corpus import copy_store


def test_counts_agree_with_the_tags(research_store_path: Path) -> None:
    with Store(research_store_path) as store:
        stats = corpus_stats(store)
        ketamine = store.db.execute(
            "SELECT COUNT(*) FROM tags t JOIN articles a ON a.pmid = t.pmid "
            "WHERE t.topic = 'ketamine' AND t.assigned = 1 AND a.retracted = 0 AND a.year IS NOT NULL"
        ).fetchone()[0]
        assert sum(stats.by_topic_year["ketamine"].get(y, 0) for y in stats.years) == ketamine
        assert stats.total == store.count_articles() - 1  # the retracted copy
        assert stats.unclassified + sum(stats.by_study_type.values()) == stats.total
        assert list(stats.by_study_type)[0] in {"meta_analysis", "systematic_review", "rct"}  # strongest first
        assert corpus_stats(store, include_retracted=True).total == store.count_articles()


def test_every_count_adds_up_with_an_unknown_year(research_store_path: Path) -> None:
    with Store(research_store_path) as store:
        stats = corpus_stats(store)
        undated = store.db.execute("SELECT COUNT(*) FROM articles WHERE year IS NULL AND retracted = 0").fetchone()[0]
        assert undated and stats.all_by_year[None] == undated and None not in stats.years
        assert sum(stats.all_by_year.values()) == stats.total
        assigned = store.db.execute(
            "SELECT COUNT(*) FROM tags t JOIN articles a ON a.pmid = t.pmid WHERE t.topic = 'ketamine' AND t.assigned = 1 AND a.retracted = 0"
        ).fetchone()[0]
        assert sum(stats.by_topic_year["ketamine"].values()) == assigned
        data = stats.to_dict()
        assert data["all_by_year"]["unknown"] == undated and "null" not in json.dumps(data)


def test_relevance_floor(research_store_path: Path) -> None:
    with Store(research_store_path) as store:
        relevant = corpus_stats(store, min_relevance=0.5)
        expected = store.db.execute(
            "SELECT COUNT(*) FROM classifications c JOIN articles a ON a.pmid = c.pmid WHERE c.relevance >= 0.5 AND a.retracted = 0"
        ).fetchone()[0]
        assert relevant.total == expected == sum(relevant.by_study_type.values())
        assert relevant.total < corpus_stats(store).total


def test_stats_command_table_json_and_plot(tmp_path: Path, research_cli) -> None:
    plot = tmp_path / "trend.png"
    table = research_cli("stats", "--plot", str(plot))
    assert table.exit_code == 0, table.output
    assert "Articles per topic per year" in table.stdout and "Randomised controlled trial" in table.stdout
    assert plot.read_bytes().startswith(b"\x89PNG") and plot.stat().st_size > 10_000
    total_row = next(line for line in table.stdout.splitlines() if "total" in line)
    rows = [line for line in table.stdout.split("Articles per study type")[0].splitlines() if line.startswith("│")]
    year_rows = [r for r in rows if "total" not in r]
    assert any("unknown year" in r for r in year_rows)
    assert sum(int(r.split("│")[2]) for r in year_rows) == int(total_row.split("│")[2])
    as_json = research_cli("stats", "--json")
    data = json.loads(as_json.stdout)
    assert set(data["topics"]) == {"genetics", "ketamine", "non_opioid", "tapering"}
    assert sum(data["all_by_year"].values()) == data["total"]
    relevant = json.loads(research_cli("stats", "--json", "--relevant").stdout)
    assert 0 < relevant["total"] < data["total"]


def test_the_plot_counts_whole_articles_and_needs_no_topic(monkeypatch) -> None:
    """A small corpus drew 0.25, 1.25 ... on its axes; one with no tags warned about an empty legend."""
    ticks, bottoms = [], []
    save = Figure.savefig

    def looking(figure, *args, **kwargs):
        ticks.extend(tick for axes in figure.axes for tick in axes.get_yticks())
        bottoms.extend(axes.get_ylim()[0] for axes in figure.axes)
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", looking)
    few = CorpusStats(total=3, topics=["ketamine"], years=[2024, 2025], all_by_year={2024: 1, 2025: 2},
                      by_topic_year={"ketamine": {2024: 1, 2025: 1}})
    untagged = CorpusStats(total=1, years=[2025], all_by_year={2025: 1})
    for stats in (few, untagged):
        out = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            plot_trends(stats, out)
        assert out.getvalue().startswith(b"\x89PNG")
    assert ticks and all(float(tick).is_integer() for tick in ticks)
    assert bottoms and set(bottoms) == {0}  # counts start at zero on both axes


def test_the_plot_draws_a_year_without_articles_as_zero(monkeypatch) -> None:
    """A line straight from 1967 to 1993 hides 25 years without a paper."""
    drawn = []
    save = Figure.savefig

    def looking(figure, *args, **kwargs):
        drawn.extend((list(line.get_xdata()), list(line.get_ydata())) for axes in figure.axes for line in axes.get_lines())
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", looking)
    gap = CorpusStats(total=2, topics=["ketamine"], years=[2020, 2023], all_by_year={2020: 1, 2023: 1},
                      by_topic_year={"ketamine": {2020: 1, 2023: 1}})
    plot_trends(gap, io.BytesIO())
    assert drawn == [([2020, 2021, 2022, 2023], [1, 0, 0, 1])]


def test_every_topic_of_the_plot_has_a_look_of_its_own(tmp_path: Path, research_store_path: Path, monkeypatch) -> None:
    """matplotlib's colour cycle repeats from the 11th topic: two of 14 topics shared a colour, with no other difference."""
    looks = []
    save = Figure.savefig

    def looking(figure, *args, **kwargs):
        looks.extend((line.get_color(), line.get_linestyle(), line.get_marker()) for axes in figure.axes for line in axes.get_lines())
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", looking)
    database = copy_store(research_store_path, tmp_path / "corpus.db")
    with contextlib.closing(sqlite3.connect(database)) as copy, copy:  # closed, and committed first
        pmids = [row[0] for row in copy.execute("SELECT pmid FROM articles WHERE deleted = 0 AND year IS NOT NULL LIMIT 30")]
        copy.executemany("INSERT OR REPLACE INTO tags (pmid, topic, score, assigned, source, updated) VALUES (?, ?, 0.9, 1, 'rule', '')",
                         [(pmid, f"topic {n:02}") for n in range(30) for pmid in pmids[n:]])
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{database}"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(config), "stats", "--plot", str(tmp_path / "trend.png")])
    assert result.exit_code == 0, result.output
    assert len(looks) >= 30 and len(set(looks)) == len(looks)


@pytest.mark.parametrize(("name", "magic"), [
    ("trend.pdf", b"%PDF-"), ("trend.svg", b"<?xml"), ("Trend.PNG", b"\x89PNG"), ("trend.eps", b"%!PS-Adobe"), ("trend.jpg", b"\xff\xd8\xff"),
])  # fmt: skip
def test_the_plot_is_in_the_format_its_extension_names(tmp_path: Path, research_cli, name: str, magic: bytes) -> None:
    plot = tmp_path / name
    result = research_cli("stats", "--plot", str(plot))
    assert result.exit_code == 0, result.output
    assert plot.read_bytes().startswith(magic)


@pytest.mark.parametrize(("name", "has"), [("trend", "no extension to name a format"), ("trend.docx", "the extension .docx, not a format it can draw")])
def test_a_plot_file_of_no_format_it_can_draw_is_a_usage_error_before_any_work(tmp_path: Path, research_cli, name: str, has: str) -> None:
    plot = tmp_path / name
    result = research_cli("stats", "--plot", str(plot))
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--plot': {plot} has {has}; end it in one of " in result.stderr
    assert all(f".{extension}" in result.stderr for extension in ("pdf", "png", "svg", "eps"))
    assert result.stdout == "" and not plot.exists() and not list(tmp_path.glob("*.part"))


def test_the_formats_offered_are_pictures_matplotlib_writes() -> None:
    formats = plot_formats()
    assert {"png", "pdf", "svg", "eps"} <= set(formats)
    assert not {"pgf", "raw", "rgba"} & set(formats)


def test_every_configured_topic_and_every_study_type_is_listed_whatever_the_filters(tmp_path: Path, research_store_path: Path) -> None:
    """A script reading by_topic_year['genetics'] or by_study_type['meta_analysis'] finds them under any filter,
    at 0 when nothing counted has them, and a configured topic nothing is tagged with yet has its column."""
    config = tmp_path / "config.toml"
    topics = "".join(f'[topics.{name}]\nlabel = "{name}"\nkeywords = ["{name}"]\n' for name in ("genetics", "ketamine", "hypnosis"))
    config.write_text(f'[database]\npath = "{research_store_path}"\n[ncbi]\nemail = "t@example.org"\n{topics}', encoding="utf-8")
    runs = {}
    for floor in ([], ["--relevant"], ["--min-relevance", "1"]):
        result = CliRunner().invoke(cli, ["-c", str(config), "stats", "--json", *floor])
        assert result.exit_code == 0, result.output
        runs[" ".join(floor)] = json.loads(result.stdout)
    expected = ["genetics", "hypnosis", "ketamine", "non_opioid", "tapering"]  # configured, and named by stored tags
    for data in runs.values():
        assert data["topics"] == list(data["by_topic_year"]) == expected
        assert list(data["by_study_type"]) == list(STUDY_TYPES)
    assert runs[""]["by_topic_year"]["hypnosis"] == {} and runs["--min-relevance 1"]["by_topic_year"]["genetics"] == {}
    assert runs["--min-relevance 1"]["by_study_type"]["meta_analysis"] == 0 < runs[""]["by_study_type"]["meta_analysis"]
    table = CliRunner().invoke(cli, ["-c", str(config), "stats", "--min-relevance", "1"], env={"COLUMNS": None})
    header = next(line for line in table.stdout.splitlines() if line.startswith("┃ year "))
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == ["year", "all", *expected]
    assert "│ Meta-analysis " in table.stdout


LABELS = {"ketamine": "Ketamine (cost in $_$)", "tapering": "Opioid cost ($US) and savings ($EUR)",
          "genetics": "_genes $$", "non_opioid": r"a \$ b"}


def test_topic_labels_are_drawn_as_written_whatever_dollars_or_underscores_they_hold(tmp_path: Path, research_store_path: Path) -> None:
    """Labels are free text, but matplotlib reads text between two '$' as mathematics: '$_$' ended in a
    parse-error traceback, '($US) and ($EUR)' lost its '$' and spaces, and a label beginning with '_' was
    left out of the legend. The SVG keeps its text as text, so the legend can be read back."""
    import matplotlib

    config = tmp_path / "config.toml"
    topics = "".join(f'[topics.{name}]\nlabel = {json.dumps(label)}\nkeywords = ["{name}"]\n' for name, label in LABELS.items())
    config.write_text(f'[database]\npath = "{research_store_path}"\n[ncbi]\nemail = "t@example.org"\n{topics}', encoding="utf-8")
    plot = tmp_path / "trend.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        result = CliRunner().invoke(cli, ["-c", str(config), "stats", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    drawn = re.findall(r"<text [^>]*>([^<]*)</text>", plot.read_text(encoding="utf-8"))
    assert set(LABELS.values()) <= {html.unescape(text) for text in drawn}
