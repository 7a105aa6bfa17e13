"""A realistic change feed at any size, landed directly or fed to the local DICOM service.

The feed is planned first (cheap: studies, series, blocks of events with their sequences and
timestamps), then rendered: every Create and Update row gets its own metadata document from a
template (``bench.templates``) with fresh UIDs, names and dates. Rendering and writing the
Parquet run on a process pool, one landing file per task.

- Studies hold 1 to 20 series (CT and MR studies have most), series 1 to 1,000 instances (CT 20 to
  1,000, MR 10 to 400, US and NM tens, SR, RT, SEG and ECG a few), drawn log-uniformly.
- ``update_share`` of the instances get one Update row each, by bulk updates of whole studies
  (patient name and study description change); ``delete_share`` of them get a Delete row, by
  deleting whole series, then single instances to make the count exact. Both are shares of the
  instances created; the feed has instances x (1 + update_share + delete_share) rows.
- Sequences and timestamps both increase. Studies arrive over ``span_days``; updates and deletes
  follow their study by hours to weeks (a delete of an updated study comes after its update).
- Each row carries the metadata *as of its own event*, which is what an extractor running
  continuously lands (it reads each row shortly after it happens). A single late read of the
  whole feed would instead see today's metadata on every row (and none for deleted instances).
- Landing files have the extractor's schema and naming; a file's ``extracted_at`` is its newest
  row's timestamp plus 15 minutes, so files extracted later are newer, as in a real lake.
"""

from __future__ import annotations

import bisect
import json
import math
import multiprocessing
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from bench.templates import KIND_SERIES, Template, reference_item, templates
from extractor.lake import Lake
from extractor.landing import LANDING_SCHEMA

PARTITION = "Microsoft.Default"
SOURCE = "https://bench-dicom.dicom.azurehealthcareapis.com"
UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root for generated UIDs
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
START = datetime(2024, 1, 1, 7, 0, tzinfo=UTC)
EXTRACTION_LAG = timedelta(minutes=15)
MS = 1_000  # microseconds
HOUR = 3_600_000_000
DAY = 24 * HOUR

# Weights of the kind of a study; SEG, SR and RT series are also added to CT and MR studies.
KIND_WEIGHTS = {"CT": 30, "MR": 25, "US": 15, "NM": 8, "OT": 7, "ECG": 6, "SR": 4, "RT": 5}
EXTRA_KINDS = ("SEG", "SR", "RT")
FAMILY = (
    "Smith",
    "Jones",
    "Garcia",
    "Martin",
    "Muller",
    "Rossi",
    "Dubois",
    "Novak",
    "Silva",
    "Kim",
    "Tanaka",
    "Nguyen",
    "Cohen",
    "Larsen",
    "Okafor",
    "Haddad",
    "Ivanova",
    "Costa",
    "Moreau",
    "Berg",
    "Kowalski",
    "Schmidt",
    "Lopez",
    "Murphy",
    "Sato",
    "Chen",
    "Singh",
)
GIVEN = (
    "Anna",
    "John",
    "Maria",
    "Peter",
    "Sofia",
    "Lukas",
    "Emma",
    "Noah",
    "Mia",
    "Ali",
    "Yuki",
    "Lea",
    "Omar",
    "Ines",
    "Hugo",
    "Sara",
    "Ivan",
    "Eva",
    "Paul",
    "Nora",
    "Jonas",
    "Lina",
    "Adam",
    "Zoe",
    "Karl",
    "Ida",
)
DESCRIPTIONS = {
    "CT": ("CT CHEST W CONTRAST", "CT ABDOMEN PELVIS", "CT HEAD WO CONTRAST", "CTA CORONARY"),
    "MR": ("MR BRAIN W WO CONTRAST", "MR KNEE LEFT", "MR LUMBAR SPINE", "MR PROSTATE"),
    "US": ("US ABDOMEN COMPLETE", "US OB 2ND TRIMESTER", "ECHO TTE"),
    "NM": ("NM BONE SCAN WHOLE BODY", "NM MYOCARDIAL PERFUSION"),
    "OT": ("SECONDARY CAPTURE", "OUTSIDE IMAGES"),
    "ECG": ("ECG 12 LEAD RESTING",),
    "SR": ("DOSE REPORT", "STRUCTURED REPORT"),
    "RT": ("RT PLANNING CT", "RT TREATMENT PLAN"),
}


def parse_size(text: str | int) -> int:
    """'20k' -> 20000, '1M' -> 1000000, '1500' -> 1500."""
    if isinstance(text, int):
        return text
    cleaned = text.strip().lower().replace("_", "")
    factor = 1
    if cleaned.endswith("k"):
        factor, cleaned = 1_000, cleaned[:-1]
    elif cleaned.endswith("m"):
        factor, cleaned = 1_000_000, cleaned[:-1]
    value = int(float(cleaned) * factor)
    if value < 1:
        raise ValueError(f"a size must be positive: {text!r}")
    return value


def format_size(value: int) -> str:
    if value % 1_000_000 == 0:
        return f"{value // 1_000_000}M"
    if value % 1_000 == 0:
        return f"{value // 1_000}k"
    return str(value)


# -- the plan ---------------------------------------------------------------------------------


@dataclass
class Series:
    uid: str
    template: str
    count: int
    number: int
    time: str  # HHMMSS
    references_json: str  # the reference-sequence items, made once per series


@dataclass
class Study:
    uid: str
    kind: str
    values: dict[str, str]  # study-level template fields
    series: list[Series]
    created_at: int = 0  # microseconds since 1970, when its first instance arrives
    updated_values: dict[str, str] | None = None

    @property
    def count(self) -> int:
        return sum(series.count for series in self.series)


@dataclass
class Block:
    """A run of consecutive feed rows of one kind; rows i get timestamp start + i * spacing."""

    action: str  # Create | Update | Delete
    time: int  # wanted start (µs since 1970); `start` is the one kept after ordering
    study: int = -1  # index in Plan.studies, for rows rendered from the plan
    series: int = -1  # Delete of a plan series: index, first instance, count
    first_instance: int = 0
    count: int = 0
    explicit: list[tuple[str, str, str, str | None]] | None = None  # (study, series, sop, meta)
    first_row: int = 0
    start: int = 0
    spacing: int = 20 * MS


@dataclass
class Plan:
    studies: list[Study]
    blocks: list[Block]
    first_sequence: int = 1
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(block.count for block in self.blocks)


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return min(high, int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))))


def _uid_run(rng: random.Random) -> str:
    return str(rng.randrange(10**8, 10**9))


def _reference_items(template: Template, series_uid: str, rng: random.Random) -> str:
    item_bytes = len(reference_item(template.sop_class_uid, series_uid + ".1000"))
    wanted = rng.triangular(5_200, 19_500, 6_000)
    items = max(1, int((wanted - template.base_bytes) / (item_bytes + 1)) + 1)
    return ",".join(
        reference_item(template.sop_class_uid, f"{series_uid}.{j}") for j in range(1, items + 1)
    )


def _study_values(rng: random.Random, kind: str, study_date: datetime) -> dict[str, str]:
    family, given = rng.choice(FAMILY), rng.choice(GIVEN)
    birth_year = rng.randint(1930, 2020)
    birth = datetime(birth_year, rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC)
    age = max(0, study_date.year - birth.year - 1)
    return {
        "patient_name": f"{family}^{given}",
        "patient_name_json": json.dumps({"Alphabetic": f"{family}^{given}"}),
        "patient_id": f"PID{rng.randrange(10**8):08d}",
        "birth_date": birth.strftime("%Y%m%d"),
        "sex": rng.choice("MF"),
        "age": f"{age:03d}Y",
        "study_date": study_date.strftime("%Y%m%d"),
        "study_time": study_date.strftime("%H%M%S"),
        "accession": f"ACC{rng.randrange(10**8):08d}",
        "study_id": str(rng.randrange(1, 10**5)),
        "study_description": rng.choice(DESCRIPTIONS[kind]),
    }


def _updated_values(values: dict[str, str]) -> dict[str, str]:
    family, given = values["patient_name"].split("^", 1)
    name = f"{family}-Corrected^{given}"
    return {
        **values,
        "patient_name": name,
        "patient_name_json": json.dumps({"Alphabetic": name}),
        "study_description": values["study_description"] + " (CORRECTED)",
    }


def update_change(values: dict[str, str]) -> dict[str, Any]:
    """The bulk update's change dataset that turns a study's metadata into `values`."""
    return {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": values["patient_name"]}]},
        "00081030": {"vr": "LO", "Value": [values["study_description"]]},
    }


def plan_studies(instances: int, rng: random.Random, start_us: int, span_us: int) -> list[Study]:
    """Studies holding exactly `instances` instances, arriving over [start, start + span)."""
    catalogue = templates()
    run = _uid_run(rng)
    studies: list[Study] = []
    remaining = instances
    kinds, weights = zip(*KIND_WEIGHTS.items(), strict=True)
    while remaining > 0:
        kind = rng.choices(kinds, weights)[0]
        uid = f"{UID_ROOT}{run}.{len(studies) + 1}"
        if kind in ("CT", "MR"):
            series_count = min(20, 1 + int(rng.expovariate(1 / 3)))
        else:
            series_count = rng.randint(1, 4)
        study = Study(uid=uid, kind=kind, values={}, series=[])
        for number in range(1, series_count + 1):
            series_kind = kind
            if number > 1 and kind in ("CT", "MR") and rng.random() < 0.15:
                series_kind = rng.choice(EXTRA_KINDS)
            name, (low, high) = rng.choice(KIND_SERIES[series_kind])
            count = min(remaining, _log_uniform(rng, low, high))
            series_uid = f"{uid}.{number}"
            hour, minute, second = rng.randint(7, 19), rng.randint(0, 59), rng.randint(0, 59)
            study.series.append(
                Series(
                    uid=series_uid,
                    template=name,
                    count=count,
                    number=number,
                    time=f"{hour:02d}{minute:02d}{second:02d}",
                    references_json=_reference_items(catalogue[name], series_uid, rng),
                )
            )
            remaining -= count
            if remaining == 0:
                break
        studies.append(study)
    gap = span_us // max(1, len(studies))
    for index, study in enumerate(studies):
        study.created_at = start_us + index * gap + rng.randrange(max(1, gap // 2))
        when = EPOCH + timedelta(microseconds=study.created_at)
        study.values = _study_values(rng, study.kind, when)
    return studies


def _order(blocks: list[Block], first_sequence: int, not_before: int) -> list[Block]:
    """Sort blocks by wanted time; give each its rows and a start after the previous block."""
    blocks.sort(key=lambda block: block.time)
    row, previous_end = 0, not_before
    for block in blocks:
        block.first_row = row
        block.start = max(block.time, previous_end + MS)
        previous_end = block.start + (block.count - 1) * block.spacing
        row += block.count
    return blocks


def plan_feed(
    instances: int,
    *,
    seed: int = 1,
    update_share: float = 0.05,
    delete_share: float = 0.02,
    span_days: float = 180,
) -> Plan:
    """The whole feed of an archive of `instances` instances, from sequence 1."""
    if not (0 <= update_share <= 1 and 0 <= delete_share <= 1):
        raise ValueError("update and delete shares are fractions between 0 and 1")
    rng = random.Random(seed)
    start_us = int((START - EPOCH).total_seconds() * 1_000_000)
    studies = plan_studies(instances, rng, start_us, int(span_days * DAY))
    blocks = [
        Block("Create", study.created_at, study=index, count=study.count)
        for index, study in enumerate(studies)
    ]
    create_end = {
        index: study.created_at + study.count * 20 * MS for index, study in enumerate(studies)
    }

    # Bulk updates of whole studies until the share is reached (small studies fill the rest).
    update_time: dict[int, int] = {}
    remaining = round(update_share * instances)
    for index in rng.sample(range(len(studies)), len(studies)):
        study = studies[index]
        if 0 < study.count <= remaining:
            study.updated_values = _updated_values(study.values)
            update_time[index] = create_end[index] + rng.randrange(HOUR, 30 * DAY)
            blocks.append(
                Block("Update", update_time[index], study=index, count=study.count, spacing=5 * MS)
            )
            remaining -= study.count
    updated = round(update_share * instances) - remaining

    # Deletes: whole series while they fit, then the end of one more series.
    remaining = round(delete_share * instances)
    all_series = [(s, k) for s, study in enumerate(studies) for k in range(len(study.series))]
    rng.shuffle(all_series)
    partial: tuple[int, int] | None = None
    for s, k in all_series:
        if remaining == 0:
            break
        count = studies[s].series[k].count
        if count <= remaining:
            blocks.append(_delete_block(rng, s, k, 0, count, create_end, update_time))
            remaining -= count
        elif partial is None:
            partial = (s, k)
    if remaining and partial is not None:
        s, k = partial
        first = studies[s].series[k].count - remaining
        blocks.append(_delete_block(rng, s, k, first, remaining, create_end, update_time))
        remaining = 0
    deleted = round(delete_share * instances) - remaining
    plan = Plan(studies, _order(blocks, 1, 0))
    plan.counts = {"Create": instances, "Update": updated, "Delete": deleted}
    return plan


def _delete_block(
    rng: random.Random,
    study: int,
    series: int,
    first: int,
    count: int,
    create_end: dict[int, int],
    update_time: dict[int, int],
) -> Block:
    when = create_end[study] + rng.randrange(HOUR, 60 * DAY)
    if study in update_time:
        when = max(when, update_time[study] + HOUR + count * 5 * MS)
    return Block(
        "Delete",
        when,
        study=study,
        series=series,
        first_instance=first,
        count=count,
        spacing=5 * MS,
    )


# -- rendering --------------------------------------------------------------------------------


def _instance_values(series: Series, index: int) -> dict[str, str]:
    number = index + 1
    return {
        "sop_uid": f"{series.uid}.{number}",
        "instance_number_json": str(number),
        "content_time": f"{series.time}.{number % 1_000_000:06d}",
    }


def _series_values(study: Study, series: Series, values: dict[str, str]) -> dict[str, str]:
    template = templates()[series.template]
    result = {
        **values,
        "study_uid": study.uid,
        "series_uid": series.uid,
        "frame_uid": f"{study.uid}.0",
        "series_time": series.time,
        "series_number_json": str(series.number),
        "acquisition_datetime": values["study_date"] + series.time,
        "references_json": series.references_json,
    }
    result.update({f"ref_{n}": f"{series.uid}.0.{n}" for n in range(template.reference_uids)})
    return result


Row = tuple[str, str, str, str, str | None]  # action, study, series, sop, metadata


def _block_rows(plan: Plan, block: Block, skip: int, take: int) -> Iterator[Row]:
    """Rows skip .. skip + take - 1 of a block."""
    if block.explicit is not None:
        for study_uid, series_uid, sop_uid, metadata in block.explicit[skip : skip + take]:
            yield block.action, study_uid, series_uid, sop_uid, metadata
        return
    study = plan.studies[block.study]
    if block.action == "Delete":
        series = study.series[block.series]
        for index in range(block.first_instance + skip, block.first_instance + skip + take):
            yield "Delete", study.uid, series.uid, f"{series.uid}.{index + 1}", None
        return
    values = study.updated_values if block.action == "Update" else study.values
    assert values is not None
    catalogue = templates()
    position = 0
    for series in study.series:
        low, high = max(skip, position), min(skip + take, position + series.count)
        if low < high:
            text = catalogue[series.template].text
            fields = _series_values(study, series, values)
            for index in range(low - position, high - position):
                fields.update(_instance_values(series, index))
                yield (
                    block.action,
                    study.uid,
                    series.uid,
                    fields["sop_uid"],
                    text.format_map(fields),
                )
        position += series.count


def rows_between(plan: Plan, low: int, high: int) -> Iterator[tuple[int, int, Row]]:
    """(sequence, timestamp µs, row) for feed rows low .. high - 1 (0-based row numbers)."""
    starts = [block.first_row for block in plan.blocks]
    index = max(0, bisect.bisect_right(starts, low) - 1)
    while index < len(plan.blocks) and plan.blocks[index].first_row < high:
        block = plan.blocks[index]
        skip = max(0, low - block.first_row)
        take = min(block.count, high - block.first_row) - skip
        for offset, row in enumerate(_block_rows(plan, block, skip, take)):
            number = block.first_row + skip + offset
            timestamp = block.start + (skip + offset) * block.spacing
            yield plan.first_sequence + number, timestamp, row
        index += 1


def landing_table(plan: Plan, low: int, high: int) -> pa.Table:
    """Rows low .. high - 1 as a table in LANDING_SCHEMA."""
    names = ("sequence", "timestamp", "action", "state", "study_instance_uid")
    names += ("series_instance_uid", "sop_instance_uid", "metadata")
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for sequence, timestamp, (action, study, series, sop, metadata) in rows_between(
        plan, low, high
    ):
        columns["sequence"].append(sequence)
        columns["timestamp"].append(timestamp)
        columns["action"].append(action)
        columns["state"].append("Deleted" if action == "Delete" else "Current")
        columns["study_instance_uid"].append(study)
        columns["series_instance_uid"].append(series)
        columns["sop_instance_uid"].append(sop)
        columns["metadata"].append(metadata)
    count = len(columns["sequence"])
    extracted = max(columns["timestamp"]) + int(EXTRACTION_LAG.total_seconds() * 1_000_000)
    columns["partition_name"] = [PARTITION] * count
    columns["extracted_at"] = [extracted] * count
    columns["source"] = [SOURCE] * count
    # Any other column of the landing schema (file_path, ...) is null, as for the Azure feed.
    arrays = [pa.array(columns.get(f.name, [None] * count), type=f.type) for f in LANDING_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=LANDING_SCHEMA)


def write_landing_file(lake_dir: Path, table: pa.Table) -> Path:
    """One landing file, named and written like the extractor's (temporary name, then rename)."""
    directory = Lake(lake_dir).changefeed
    directory.mkdir(parents=True, exist_ok=True)
    first, last = table["sequence"][0].as_py(), table["sequence"][-1].as_py()
    name = f"changefeed-{first:020d}-{last:020d}-{uuid.uuid4().hex[:12]}.parquet"
    temporary = directory / f".{name}.tmp"
    pq.write_table(table, temporary, compression="zstd")
    os.replace(temporary, directory / name)
    return directory / name


_PLAN: Plan | None = None  # the plan, inherited by forked workers


def _write_chunk(task: tuple[str, int, int]) -> tuple[str, int, int]:
    lake, low, high = task
    assert _PLAN is not None
    table = landing_table(_PLAN, low, high)
    metadata_bytes = int(
        pa.compute.sum(pa.compute.binary_length(table["metadata"])).as_py() or 0  # type: ignore[attr-defined]
    )
    return str(write_landing_file(Path(lake), table)), table.num_rows, metadata_bytes


@dataclass
class WriteSummary:
    files: int
    rows: int
    metadata_bytes: int
    landed_bytes: int


def write_plan(
    plan: Plan, lake_dir: Path, *, rows_per_file: int = 5_000, workers: int = 2
) -> WriteSummary:
    """Render and land the whole plan, `rows_per_file` rows per file, on `workers` processes."""
    global _PLAN
    tasks = [
        (str(lake_dir), low, min(low + rows_per_file, plan.rows))
        for low in range(0, plan.rows, rows_per_file)
    ]
    _PLAN = plan
    try:
        if workers > 1 and len(tasks) > 1:
            context = multiprocessing.get_context("fork")
            with context.Pool(workers) as pool:
                results = pool.map(_write_chunk, tasks, chunksize=1)
        else:
            results = [_write_chunk(task) for task in tasks]
    finally:
        _PLAN = None
    return WriteSummary(
        files=len(results),
        rows=sum(rows for _, rows, _ in results),
        metadata_bytes=sum(size for _, _, size in results),
        landed_bytes=sum(Path(path).stat().st_size for path, _, _ in results),
    )


# -- changes on top of an existing lake -------------------------------------------------------


def plan_changes(
    lake_dir: Path,
    changes: int,
    *,
    seed: int = 2,
    update_share: float = 0.25,
    delete_share: float = 0.15,
) -> Plan:
    """`changes` new feed rows after what has landed: creates of new studies, bulk updates of
    whole existing studies (their latest landed metadata, changed) and deletes of existing
    series and instances. Shares are of `changes`; updates and deletes touch distinct studies.
    """
    rng = random.Random(seed)
    files = Lake(lake_dir).changefeed_glob
    with duckdb.connect() as connection:
        connection.execute("set TimeZone = 'UTC'")
        last_sequence, last_time = connection.execute(
            "select max(sequence), max(epoch_us(timestamp)) from read_parquet(?)", [files]
        ).fetchone() or (0, 0)
        connection.execute(
            "create temp table existing as select * from ("
            " select study_instance_uid as study, series_instance_uid as series,"
            "  sop_instance_uid as sop, arg_max(action, sequence) as action,"
            "  max(sequence) as sequence"
            " from read_parquet(?) group by all) where action != 'Delete'",
            [files],
        )
        sizes = connection.execute(
            "select study, series, count(*) from existing group by all order by all"
        ).fetchall()
        by_study: dict[str, list[tuple[str, int]]] = {}
        for study, series, count in sizes:
            by_study.setdefault(study, []).append((series, count))

        order = sorted(by_study)
        rng.shuffle(order)
        update_quota = round(update_share * changes)
        updated: list[str] = []
        for study in order:
            count = sum(c for _, c in by_study[study])
            if count <= update_quota:
                updated.append(study)
                update_quota -= count
        delete_quota = round(delete_share * changes)
        doomed: list[tuple[str, str, int]] = []  # study, series, how many (from the end)
        for study in order:
            if study in updated or delete_quota == 0:
                continue
            for series, count in by_study[study]:
                take = min(count, delete_quota)
                if take:
                    doomed.append((study, series, take))
                    delete_quota -= take
        connection.execute("create temp table chosen(study varchar)")
        if updated:
            connection.executemany("insert into chosen values (?)", [[s] for s in updated])
        update_rows = connection.execute(
            "select e.study, e.series, e.sop, arg_max(l.metadata, l.sequence)"
            " from existing e join read_parquet(?) l"
            "  on l.study_instance_uid = e.study and l.series_instance_uid = e.series"
            "  and l.sop_instance_uid = e.sop"
            " where e.study in (select study from chosen) and l.metadata is not null"
            " group by all order by all",
            [files],
        ).fetchall()
        delete_rows: list[tuple[str, str, str, None]] = []
        for study, series, take in doomed:
            sops = connection.execute(
                "select sop from existing where study = ? and series = ? order by sequence desc"
                " limit ?",
                [study, series, take],
            ).fetchall()
            delete_rows.extend((study, series, sop, None) for (sop,) in sops)

    creates = changes - len(update_rows) - len(delete_rows)
    start = int(last_time) + HOUR
    studies = plan_studies(creates, rng, start, DAY) if creates > 0 else []
    blocks = [
        Block("Create", study.created_at, study=index, count=study.count)
        for index, study in enumerate(studies)
    ]
    by_updated_study: dict[str, list[tuple[str, str, str, str | None]]] = {}
    for study, series, sop, metadata in update_rows:
        by_updated_study.setdefault(study, []).append((study, series, sop, _apply_update(metadata)))
    for rows in by_updated_study.values():
        blocks.append(
            Block(
                "Update", start + rng.randrange(DAY), explicit=rows, count=len(rows), spacing=5 * MS
            )
        )
    for study, series, _ in doomed:
        rows = [row for row in delete_rows if row[0] == study and row[1] == series]
        blocks.append(
            Block(
                "Delete", start + rng.randrange(DAY), explicit=rows, count=len(rows), spacing=5 * MS
            )
        )
    plan = Plan(studies, _order(blocks, int(last_sequence) + 1, start), int(last_sequence) + 1)
    plan.counts = {
        "Create": max(0, creates),
        "Update": len(update_rows),
        "Delete": len(delete_rows),
    }
    return plan


def _apply_update(metadata: str) -> str:
    document = json.loads(metadata)
    name = document.get("00100010", {}).get("Value", [{}])[0].get("Alphabetic", "Unknown^")
    description = (document.get("00081030", {}).get("Value") or ["STUDY"])[0]
    document.update(
        update_change(
            {"patient_name": name + "^CHANGED", "study_description": description + " (AMENDED)"}
        )
    )
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


# -- feeding the local DICOM service -----------------------------------------------------------


def feed_store(plan: Plan, store: Any) -> int:
    """Replay the plan into a local service's DicomStore (Create, bulk Update, Delete calls).

    The store's clock is replaced by one that follows the plan's timestamps. Returns the number
    of feed rows the store wrote.
    """
    ticks = iter(t for _, t, _ in rows_between(plan, 0, plan.rows))
    store.clock = lambda: EPOCH + timedelta(microseconds=next(ticks))
    for block in plan.blocks:
        if block.action == "Create":
            for _, _, (_, study, series, sop, metadata) in _block_with_numbers(plan, block):
                assert metadata is not None
                store.add_instance(PARTITION, study, series, sop, json.loads(metadata))
        elif block.action == "Update":
            study = plan.studies[block.study]
            assert study.updated_values is not None
            store.bulk_update(PARTITION, [study.uid], update_change(study.updated_values))
        else:
            for _, _, (_, study_uid, series_uid, sop, _) in _block_with_numbers(plan, block):
                store.delete(PARTITION, study_uid, series_uid, sop)
    return len(store._events)


def _block_with_numbers(plan: Plan, block: Block) -> Iterator[tuple[int, int, Row]]:
    return rows_between(plan, block.first_row, block.first_row + block.count)
