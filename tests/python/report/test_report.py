"""The lake report as a person sees it: the demo prints its path, the page opens offline in
Debian's headless Chromium without console errors, its charts are drawn, its numbers are the
marts', its tables sort; and each run's closing record is kept for it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extractor.lake import Lake

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (make browser installs them)",
)


def dicom_lake(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "extractor", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )


def query(lake: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(Lake(lake).warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_the_demo_ends_by_printing_the_report_path(demo) -> None:
    # the demo lake the whole suite shares (conftest.py)
    last = demo["stdout"].strip().splitlines()[-1]
    assert last == f"report          {Lake(demo['lake']).report.resolve()}"
    assert Lake(demo["lake"]).report.is_file()


def test_the_page_needs_no_network(demo) -> None:
    html = Lake(demo["lake"]).report.read_text()
    assert re.findall(r"""(?:src|href)\s*=\s*["']?[a-z]+:""", html, flags=re.I) == []
    assert "<link" not in html and "@import" not in html
    assert html.count("<svg") == 2


def test_each_run_keeps_its_closing_record(demo, tmp_path) -> None:
    (record,) = [json.loads(path.read_text()) for path in Lake(demo["lake"]).runs.glob("*.json")]
    assert record["command"] == "demo" and record["outcome"] == "ok"
    assert record["landed"] == record["entries_read"] > 0
    assert record["watermark_before"] is None and record["watermark_after"]["sequence"] > 0
    assert record["durations_s"]["total"] > 0 and record["finished_at"] >= record["started_at"]
    # a failed run is kept too, with its exit code and error
    failed = dicom_lake("build", "--lake", str(tmp_path))
    assert failed.returncode == 6
    (kept,) = [json.loads(path.read_text()) for path in Lake(tmp_path).runs.glob("*.json")]
    assert kept["outcome"] == "build_failure" and kept["exit_code"] == 6
    assert "holds no Parquet file" in kept["error"]


def test_the_report_command_writes_the_page_where_asked(demo, tmp_path) -> None:
    finished = dicom_lake(
        "report", "--lake", str(demo["lake"]), "--output", str(tmp_path / "r.html")
    )
    assert finished.returncode == 0, finished.stderr
    assert "dicom-lake report" in (tmp_path / "r.html").read_text()
    missing = dicom_lake("report", "--lake", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "build the lake first" in missing.stderr


@pytest.fixture(scope="module")
def browser(demo) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.get(Lake(demo["lake"]).report.resolve().as_uri())
        yield driver
    finally:
        driver.quit()


@needs_chromium
def test_the_page_loads_without_console_errors(browser) -> None:
    assert browser.title.startswith("dicom-lake report")
    problems = [
        entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")
    ]
    assert problems == []
    headings = [element.text for element in browser.find_elements("css selector", "h2")]
    assert headings == ["The archive at a glance", "Freshness", "Data quality"]


@needs_chromium
def test_the_charts_are_drawn(browser) -> None:
    for name in ("by_modality", "by_month"):
        svg = browser.find_element("css selector", f'figure[data-chart="{name}"] svg')
        size = svg.size
        assert size["width"] > 200 and size["height"] > 100, name
        bars = svg.find_elements("css selector", "g[id^='patch'] path")
        values = json.loads(
            browser.find_element("css selector", f'figure[data-chart="{name}"]').get_attribute(
                "data-values"
            )
        )
        assert len(bars) >= len(values) > 0, name


@needs_chromium
def test_the_numbers_shown_are_the_marts(browser, demo) -> None:
    lake = demo["lake"]

    def shown(selector: str) -> str:
        return browser.find_element("css selector", selector).text

    for name, table in (("studies", "study"), ("series", "series"), ("instances", "instance")):
        assert (
            int(shown(f'[data-total="{name}"]'))
            == query(lake, f"select count(*) from {table}")[0][0]
        )
    modalities = json.loads(
        browser.find_element("css selector", 'figure[data-chart="by_modality"]').get_attribute(
            "data-values"
        )
    )
    assert sorted(map(tuple, modalities)) == sorted(
        query(lake, "select coalesce(modality, '(none)'), count(*) from instance group by all")
    )
    assert (
        int(shown('[data-quality="value errors"]'))
        == query(lake, "select count(*) from dicom_value_errors")[0][0]
    )
    assert (
        int(shown('[data-freshness="watermark_sequence"]'))
        == query(lake, "select max(sequence) from stg_landing__changefeed")[0][0]
    )
    runs = browser.find_elements("css selector", 'table[data-table="runs"] tbody tr')
    assert [row.find_elements("css selector", "td")[1].text for row in runs] == ["demo"]


@needs_chromium
def test_a_table_sorts_by_the_column_clicked(browser) -> None:
    table = browser.find_element("css selector", 'table[data-table="largest_studies"]')
    header = table.find_elements("css selector", "th")[-1]  # instance_count

    def column() -> list[int]:
        return [
            int(row.find_elements("css selector", "td")[-1].text)
            for row in table.find_elements("css selector", "tbody tr")
        ]

    header.click()
    assert column() == sorted(column())
    header.click()
    assert column() == sorted(column(), reverse=True)
