"""The lake report: one self-contained HTML page of what analysts and operators look at.

`numbers.py` reads the figures from the marts, the landing zone's watermark and the job's run
history; `charts.py` draws them as inline SVG (matplotlib); `page.py` lays them out with
`page.html` (Jinja) into a page that needs no network and no server.
"""

from extractor.report.page import write_report

__all__ = ["write_report"]
