"""Publishing to Azure Blob storage, emulated by Azurite, through the real Azure code path.

The Delta URI is an `az://` URI and the credentials come from the environment exactly as they
would for a real storage account; only the endpoint points at the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deltalake import DeltaTable
from support import azurite
from support.archive import FakeArchive, assert_published, seed

from extractor.delta import APP_ID, META_SEQUENCE, TABLES, maintain, publish, storage_options_for

CONTAINER = "dicom"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[azurite.Azurite]:
    try:
        server = azurite.start(tmp_path_factory.mktemp("azurite"))
    except azurite.AzuriteUnavailable as missing:
        pytest.skip(str(missing))
    try:
        server.create_container(CONTAINER)
        yield server
    finally:
        server.stop()


@pytest.fixture
def azure_env(emulator: azurite.Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", azurite.ACCOUNT)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", azurite.ACCOUNT_KEY)
    monkeypatch.setenv("AZURE_STORAGE_ENDPOINT", emulator.endpoint)


def test_publish_to_azure_blob_storage(azure_env: None, tmp_path: Path) -> None:
    delta_uri = f"az://{CONTAINER}/{tmp_path.name}/delta"
    archive = FakeArchive(tmp_path / "lake")
    seed(archive)
    archive.build()
    options = storage_options_for(delta_uri)

    first = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    assert first.delta_uri == delta_uri
    assert all(t.created for t in first.tables)
    assert_published(archive, delta_uri, storage_options=options)

    archive.event("Created", "1.1", "1.1.1", "1.1.1.5")
    archive.event("Updated", "1.2", "1.2.1", "1.2.1.0", thickness=5.0)
    archive.event("Deleted", "1.1", "1.1.2", "1.1.2.0")
    archive.event("Deleted", "1.1", "1.1.2", "1.1.2.1")
    archive.build()
    second = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    assert [t.version for t in second.tables] == [1, 1, 1, 1]
    assert_published(archive, delta_uri, storage_options=options)
    for table in TABLES:
        delta = DeltaTable(f"{delta_uri}/{table}", storage_options=options)
        assert delta.transaction_version(APP_ID) == archive.sequence
        assert delta.history(limit=1)[0][META_SEQUENCE] == archive.sequence
    old = DeltaTable(f"{delta_uri}/instance", version=0, storage_options=options)
    assert "1.1.2.0" in old.to_pyarrow_table().column("sop_instance_uid").to_pylist()

    assert not publish(archive.lake_dir, delta_uri, watermark=archive.watermark).committed

    reports = {r.table: r for r in maintain(delta_uri, retention_hours=0)}
    # The merge replaced the first load's file; with no retention, vacuum deletes it.
    assert len(reports["instance"].vacuumed) >= 1
    assert DeltaTable(f"{delta_uri}/instance", storage_options=options).file_uris()
    assert_published(archive, delta_uri, storage_options=options)


def test_wrong_account_key_is_refused(azure_env: None, tmp_path: Path) -> None:
    archive = FakeArchive(tmp_path / "lake")
    seed(archive)
    archive.build()
    wrong = "d3Jvbmcta2V5" * 7 + "AA=="

    with pytest.raises(Exception, match=r"(?i)auth|403|signature"):
        publish(
            archive.lake_dir,
            f"az://{CONTAINER}/{tmp_path.name}/delta",
            watermark=archive.watermark,
            storage_options={"account_key": wrong},
        )
