"""The report's charts: matplotlib bar charts as SVG text to put inline in the page.

Text stays text (`svg.fonttype: none`), so the page can be searched and read by a screen
reader; the fixed hash salt makes the same figures give the same SVG.
"""

from __future__ import annotations

import io

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

_BAR = "#3b6ea5"


def bar_chart(bars: list[tuple[str, int]], *, horizontal: bool = False) -> str:
    """A labelled bar chart of (label, count) pairs, as an <svg> element."""
    labels = [label for label, _ in bars] or ["(none)"]
    counts = [count for _, count in bars] or [0]
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "dicom-lake",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        height = max(2.4, 0.3 * len(labels) + 1) if horizontal else 2.8
        figure = Figure(figsize=(6.4, height), layout="constrained")
        axes = figure.subplots()
        drawn = (
            axes.barh(labels, counts, color=_BAR)
            if horizontal
            else axes.bar(labels, counts, color=_BAR)
        )
        if horizontal:
            axes.invert_yaxis()  # the largest first, at the top
        else:
            axes.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0)
        axes.bar_label(drawn, padding=2)
        # counts: whole numbers on the axis
        (axes.xaxis if horizontal else axes.yaxis).set_major_locator(MaxNLocator(integer=True))
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # no XML prolog inside HTML
