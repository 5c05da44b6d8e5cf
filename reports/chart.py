"""The small trend chart at the top of a digest: papers per digest, this one highlighted.

A PNG (matplotlib's Agg backend: no display, no fonts fetched) sent as an inline attachment,
because mail clients block remote images and strip SVG; and a text equivalent, shown under the
image and in the plain-text part, since a chart nobody can see must still say what it shows.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

from reports.assembly import TrendPoint  # noqa: E402

BAR = "#9fb7cc"
THIS_WEEK = "#1f4e79"


def trend_text(trend: Sequence[TrendPoint], every_topic: bool = True) -> str:
    """The chart in words, counts of papers as whole numbers: 'New papers: 4 in this digest, 7 in the
    one before (23 Nov).', or '..., on average 6 in the 3 before (9 Nov: 5, 16 Nov: 8, 23 Nov: 6).'
    The counts are of every topic: for a reader of some topics (not ``every_topic``) the line says so,
    since it sits under a heading that counts their papers only."""
    *earlier, this = trend
    said = f"New papers{'' if every_topic else ' in all topics, not only yours'}: {this.count} in this digest"
    if not earlier:
        return f"{said}, the first."
    if len(earlier) == 1:
        return f"{said}, {earlier[0].count} in the one before ({earlier[0].label})."
    mean = int(sum(p.count for p in earlier) / len(earlier) + 0.5)  # half up: round() goes to even
    each = ", ".join(f"{p.label}: {p.count}" for p in earlier)
    return f"{said}, on average {mean} in the {len(earlier)} before ({each})."


def trend_png(trend: Sequence[TrendPoint]) -> bytes:
    """A 560x180 px bar chart (retina: drawn at 2x) of the counts, the last bar highlighted."""
    figure = Figure(figsize=(5.6, 1.8), dpi=200)
    axes = figure.add_subplot()
    labels = [p.label for p in trend]
    counts = [p.count for p in trend]
    colours = [BAR] * (len(trend) - 1) + [THIS_WEEK]
    bars = axes.bar(range(len(trend)), counts, color=colours, width=0.6)
    axes.bar_label(bars, fontsize=8, padding=2)
    axes.set_xticks(range(len(trend)), labels, fontsize=8)
    axes.set_yticks([])
    axes.set_ylim(0, max(counts + [1]) * 1.3)
    axes.set_xlim(-0.5, max(len(trend), 8) - 0.5)  # bars keep their width in the first weeks
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.set_title("New papers per digest (all topics)", fontsize=9, loc="left")
    figure.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
