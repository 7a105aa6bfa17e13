"""The report page: the figures and charts laid out by page.html, written whole into the lake."""

from __future__ import annotations

from datetime import datetime
from numbers import Number
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from extractor.build.freshness import write_whole
from extractor.lake import Lake
from extractor.report.charts import bar_chart
from extractor.report.numbers import Figures, Table, read_figures

_RUN_COLUMNS = [
    "finished_at",
    "command",
    "outcome",
    "exit_code",
    "landed",
    "total_s",
    "watermark_after",
]


def write_report(lake_dir: Path, also: Path | None = None) -> Path:
    """Write `<lake>/report.html` (and a copy at `also`, when given); returns the lake's copy."""
    lake = Lake(Path(lake_dir))
    html = render(lake, read_figures(lake))
    written = [lake.report, *([also] if also is not None else [])]
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, html)
    return lake.report


def render(lake: Lake, figures: Figures) -> str:
    environment = Environment(
        loader=PackageLoader("extractor.report", "."), autoescape=select_autoescape(["html"])
    )
    template = environment.get_template("page.html")
    charts = {
        "by_modality": bar_chart(figures.by_modality, horizontal=True),
        "by_month": bar_chart(figures.by_month),
    }
    return template.render(
        lake_name=lake.root.name,
        lake_path=str(lake.root.resolve()),
        figures=figures,
        charts=charts,
        runs=_runs_table(figures.runs),
        table=_html_table,
    )


def _runs_table(runs: list[dict[str, Any]]) -> Table:
    rows = []
    for run in runs:
        after = run.get("watermark_after") or {}
        rows.append(
            (
                run.get("finished_at"),
                run.get("command"),
                run.get("outcome"),
                run.get("exit_code", 0),
                run.get("landed"),
                (run.get("durations_s") or {}).get("total"),
                after.get("sequence") if isinstance(after, dict) else None,
            )
        )
    return Table(_RUN_COLUMNS, rows)


def _html_table(table: Table, name: str) -> Markup:
    """A sortable table (the page's script sorts by each cell's data-sort)."""
    if not table.rows:
        return Markup('<p class="empty" data-table="{}">None.</p>').format(name)
    head = "".join(f"<th>{escape(column)}</th>" for column in table.columns)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in table.rows)
    return Markup(
        f'<table class="sortable" data-table="{escape(name)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _cell(value: object) -> str:
    if value is None:
        return '<td data-sort=""></td>'
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:%M:%S")
    text = escape(str(value))
    if isinstance(value, Number) and not isinstance(value, bool):
        return f'<td class="number" data-sort="{text}">{text}</td>'
    return f'<td data-sort="{text}">{text}</td>'
