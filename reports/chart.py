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


def trend_text(trend: Sequence[TrendPoint]) -> str:
    """'New papers per digest (all topics): 2026-W45 3, 2026-W46 5, 2026-W47 (this one) 4.'"""
    if not trend:
        return "No digests yet."
    parts = [f"{p.label} {p.count}" for p in trend[:-1]]
    parts.append(f"{trend[-1].label} (this one) {trend[-1].count}")
    average = ""
    if len(trend) > 1:
        mean = sum(p.count for p in trend[:-1]) / (len(trend) - 1)
        average = f" Average of the earlier {len(trend) - 1}: {mean:.1f}."
    return "New papers per digest (all topics): " + ", ".join(parts) + "." + average


def trend_png(trend: Sequence[TrendPoint]) -> bytes:
    """A 560x180 px bar chart (retina: drawn at 2x) of the counts, the last bar highlighted."""
    figure = Figure(figsize=(5.6, 1.8), dpi=200)
    axes = figure.add_subplot()
    labels = [p.label.split("-")[-1] for p in trend]  # 'W48' is enough on a small chart
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
