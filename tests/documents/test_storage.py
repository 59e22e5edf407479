"""The folder blob store through its async protocol: durable puts, reads one at a time
or many in trips of about a megabyte, staging, and what housekeeping needs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from iportal.documents import storage
from iportal.documents.storage import BlobStore, FolderBlobStore, blob_hash


async def test_a_blob_is_put_once_read_and_deleted(tmp_path: Path) -> None:
    store: BlobStore = FolderBlobStore(tmp_path)
    digest = await store.put(b"%PDF-1.4 one")
    assert digest == blob_hash(b"%PDF-1.4 one")
    assert await store.put(b"%PDF-1.4 one") == digest
    assert await store.exists(digest) and await store.read(digest) == b"%PDF-1.4 one"
    await store.delete(digest)
    assert not await store.exists(digest)
    with pytest.raises(FileNotFoundError):
        await store.read(digest)


async def test_many_blobs_come_in_order_a_few_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In order, None for one that is missing, in trips of about `READ_AT_ONCE` bytes."""
    store = FolderBlobStore(tmp_path)
    contents = [os.urandom(1000) for _ in range(10)]
    digests = [await store.put(content) for content in contents]
    missing = blob_hash(b"never stored")
    monkeypatch.setattr(storage, "READ_AT_ONCE", 2500)
    trips: list[int] = []  # blobs read per trip to the thread
    read_some = store._read_some

    def counted(digests: list[str], start: int) -> list[bytes | None]:
        contents = read_some(digests, start)
        trips.append(len(contents))
        return contents

    monkeypatch.setattr(store, "_read_some", counted)
    wanted = [*digests[:4], missing, *digests[4:]]
    read = [content async for content in store.read_many(wanted)]
    assert read == [*contents[:4], None, *contents[4:]]
    assert trips == [3, 4, 3, 1]  # a missing blob weighs nothing
    assert [content async for content in store.read_many([])] == []


async def test_staged_blobs_are_committed_or_discarded_and_stale_ones_cleaned(
    tmp_path: Path,
) -> None:
    store = FolderBlobStore(tmp_path)
    kept, dropped, stale = (store.stage(f"%PDF-1.4 {n}".encode()) for n in range(3))
    await store.commit([kept])
    await store.discard([dropped])
    assert await store.read(kept.digest) == b"%PDF-1.4 0"
    assert not await store.exists(dropped.digest) and not Path(dropped.path).exists()
    old = time.time() - 7200
    os.utime(stale.path, (old, old))
    assert await store.discard_staged_before(time.time() - 3600) == 1
    assert not Path(stale.path).exists()
    os.utime(store.path(kept.digest), (old, old))
    assert [entry async for entry in store.stored()] == [(kept.digest, old)]
