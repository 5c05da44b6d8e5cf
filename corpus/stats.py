"""Counts and trends of the tagged corpus: articles per topic per year, and per study type.

Counting is SQL over the store; ``plot_trends`` draws the counts with matplotlib's
Agg backend (no display needed on a server), as PNG, PDF, SVG or another format of its. Records without a publication year count
under the year ``None`` ("unknown" in JSON), so every table adds up to the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from itertools import cycle, product
from typing import BinaryIO

from corpus.evidence import STUDY_TYPES, evidence_rank
from corpus.search import stored_topics
from corpus.store import Store


@dataclass
class CorpusStats:
    total: int = 0
    unclassified: int = 0
    topics: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)  # every known year with an article, ascending
    all_by_year: dict[int | None, int] = field(default_factory=dict)  # None: no publication year
    by_topic_year: dict[str, dict[int | None, int]] = field(default_factory=dict)
    by_study_type: dict[str, int] = field(default_factory=dict)  # strongest evidence first

    def to_dict(self) -> dict:
        """As JSON wants it: the unknown year under the key "unknown" (not "null")."""
        data = asdict(self)
        data["all_by_year"] = _named_unknown(self.all_by_year)
        data["by_topic_year"] = {topic: _named_unknown(counts) for topic, counts in self.by_topic_year.items()}
        return data


def _named_unknown(counts: Mapping[int | None, int]) -> dict:
    return {("unknown" if year is None else year): count for year, count in counts.items()}


def corpus_stats(
    store: Store, include_retracted: bool = False, min_relevance: float | None = None, topics: Iterable[str] = ()
) -> CorpusStats:
    """Counts over articles that are not deleted (nor retracted, unless asked), with an OIH relevance of at
    least ``min_relevance`` when given (unclassified ones then drop out); topics count when assigned.

    ``topics`` (the configured ones), every topic the stored tags name and every study type are listed
    even when none of the articles counted has them (a topic with no year, a study type with 0): the
    keys are the same whatever the filters, and a topic that nothing matches yet still has its column.
    """
    where = "a.deleted = 0" + ("" if include_retracted else " AND a.retracted = 0")
    params: list = []
    if min_relevance is not None:
        where += " AND a.pmid IN (SELECT pmid FROM classifications WHERE relevance >= ?)"
        params.append(min_relevance)
    stats = CorpusStats()
    stats.total = store.db.execute(f"SELECT COUNT(*) FROM articles a WHERE {where}", params).fetchone()[0]
    # Known years ascending, the unknown year (NULL) last.
    for year, count in store.db.execute(
        f"SELECT a.year, COUNT(*) FROM articles a WHERE {where} GROUP BY a.year ORDER BY a.year IS NULL, a.year", params
    ):
        stats.all_by_year[year] = count
    stats.years = [year for year in stats.all_by_year if year is not None]
    for topic, year, count in store.db.execute(
        f"SELECT t.topic, a.year, COUNT(*) FROM tags t JOIN articles a ON a.pmid = t.pmid "
        f"WHERE {where} AND t.assigned = 1 GROUP BY t.topic, a.year ORDER BY t.topic, a.year IS NULL, a.year",
        params,
    ):
        stats.by_topic_year.setdefault(topic, {})[year] = count
    stats.topics = sorted({*topics, *stored_topics(store)})
    stats.by_topic_year = {topic: stats.by_topic_year.get(topic, {}) for topic in stats.topics}
    kinds = store.db.execute(
        f"SELECT c.study_type, COUNT(*) FROM classifications c JOIN articles a ON a.pmid = c.pmid WHERE {where} GROUP BY c.study_type",
        params,
    ).fetchall()
    counts = {**dict.fromkeys(STUDY_TYPES, 0), **dict(kinds)}
    stats.by_study_type = dict(sorted(counts.items(), key=lambda kn: evidence_rank(kn[0])))
    stats.unclassified = stats.total - sum(stats.by_study_type.values())
    return stats


# matplotlib's output formats that are not a picture a reader opens: raw pixel buffers, and PGF
# (LaTeX code, which needs a TeX installation to draw).
_NOT_PICTURES = frozenset({"pgf", "raw", "rgba"})


def _line_looks() -> Iterator[dict]:
    """A look for each topic's line, none alike for 200 topics: matplotlib's 10 colours drawn solid, then
    dashed, dotted and dash-dotted, then all of those again with another marker. Its colour cycle alone
    repeats from the 11th topic, and two topics of one colour cannot be told apart in the legend."""
    colours = [f"C{n}" for n in range(10)]
    for marker, style, colour in product(".osD^", ("-", "--", ":", "-."), colours):
        yield {"color": colour, "linestyle": style, "marker": marker}


def plot_formats() -> list[str]:
    """The formats ``plot_trends`` can write, named as file extensions: matplotlib's (png, pdf, svg, eps...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return sorted(set(FigureCanvasBase.get_supported_filetypes()) - _NOT_PICTURES)


def plot_trends(stats: CorpusStats, stream: BinaryIO, labels: Mapping[str, str] | None = None, fmt: str = "png") -> None:
    """A chart written to ``stream`` in ``fmt`` (one of ``plot_formats``): a line per topic (assigned) on the
    left axis, all articles as grey bars on the right. A stream, so the caller decides where it goes and how
    it replaces a file.

    The total dwarfs every topic, so it gets its own axis instead of flattening the lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    labels = labels or {}
    figure, axes = pyplot.subplots(figsize=(9, 4.5), dpi=120)
    try:
        years = list(range(stats.years[0], stats.years[-1] + 1)) if stats.years else []  # a gap is zero, not a line across it
        total_axes = axes.twinx()
        total_axes.bar(years, [stats.all_by_year.get(y, 0) for y in years], color="0.88", width=0.8)
        total_axes.set_ylabel("all articles (grey bars)", color="0.45")
        axes.set_zorder(total_axes.get_zorder() + 1)
        axes.patch.set_visible(False)
        lines = [axes.plot(years, [stats.by_topic_year[topic].get(y, 0) for y in years], linewidth=1.8, **look)[0]
                 for topic, look in zip(stats.topics, cycle(_line_looks()))]
        axes.set_xlabel("publication year")
        axes.set_ylabel("articles with the topic")
        axes.set_title("Articles per topic per year")
        axes.grid(True, alpha=0.3)
        for counts in (axes, total_axes):  # counts start at 0 and come whole: no 0.25 on either axis
            counts.set_ylim(bottom=0)
            counts.yaxis.set_major_locator(MaxNLocator(integer=True))
        if stats.topics:
            _legend_as_written(axes, lines, [labels.get(topic, topic) for topic in stats.topics])
        figure.tight_layout()
        figure.savefig(stream, format=fmt)
    finally:
        pyplot.close(figure)


def _legend_as_written(axes, lines: list, names: list[str]) -> None:
    """A legend giving each line's name as written. Names are free text: matplotlib would read text
    between two '$' as mathematics ('Cost in $US and $EUR' lost its '$' and spaces, '$_$' raised a
    parse error) and leave out a label beginning with '_' when it gathers the labels itself."""
    legend = axes.legend(lines, names, frameon=False, fontsize="small")
    for text in legend.get_texts():
        text.set_parse_math(False)
