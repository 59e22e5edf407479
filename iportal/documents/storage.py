"""Content-addressed storage of PDF and XML bytes, named by their SHA-256.

`BlobStore` is what the rest of the portal sees, an async protocol, so that a store on
the network (S3 and the like) is one new class. `FolderBlobStore` keeps the blobs in a
folder and does its file work in a thread, off the event loop.

A blob is durable before any row may point at it: write a temporary file, fsync it,
rename it into place, fsync the folder. A blob without a row is harmless (`iportal
blobs clean` removes it); a row without a blob must never exist, so callers write the
blob first and the row after.

Publishing stages blobs instead: a sandboxed worker writes the bytes under `.staging/`
without waiting for the disk (and makes the blob's folder), the recorder moves the
accepted ones into place and discards the rest, and one flush of the filesystem makes a
whole batch durable before its rows are committed — an fsync per file and per folder
costs ~3 ms here, one `syncfs` for a hundred files ~5 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import itertools
import os
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

STAGING = ".staging"
# Bytes read in one trip to the thread by `read_many`. A trip costs as much as reading a
# few small blobs (30 µs idle, more under load), so an export reads ~45 invoices of 22 kB
# a trip; trips of 4 MB were ~10 % faster but held 6 MB more.
READ_AT_ONCE = 1024 * 1024
LISTED_AT_ONCE = 1000  # blob names listed in one trip to the thread
_DIGEST = re.compile(r"[0-9a-f]{64}")


def blob_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class StagedBlob:
    """Bytes written but not yet in place nor durable."""

    digest: str
    size: int
    path: str


class BlobStore(Protocol):
    """Where PDF and XML bytes are kept, named by their SHA-256 (hex).

    Staging is part of it, not of one store: every publication (the API's and
    `iportal ingest`'s) stages its bytes in a sandboxed worker, so a store that
    could not stage could not publish. So are the two look-ups `iportal blobs
    clean` needs: every store gathers blobs that no row references.
    """

    async def put(self, content: bytes) -> str:
        """Store `content` durably; returns its digest. Idempotent."""
        ...

    async def read(self, digest: str) -> bytes:
        """The blob's bytes; `OSError` (`FileNotFoundError`) when there is none."""
        ...

    def read_many(self, digests: Sequence[str]) -> AsyncIterator[bytes | None]:
        """Each blob's bytes in order, None for one that cannot be read; a few at a
        time, so that memory holds about a megabyte whatever the number of blobs."""
        ...

    async def exists(self, digest: str) -> bool: ...

    async def delete(self, digest: str) -> None: ...

    def stage(self, content: bytes) -> StagedBlob:
        """Write `content` aside, to be committed or discarded by the recorder. Not
        async: sandboxed worker processes call it, with no event loop."""
        ...

    async def commit(self, staged: Iterable[StagedBlob]) -> None:
        """Move staged blobs into place and make them durable, all at once."""
        ...

    async def discard(self, staged: Iterable[StagedBlob]) -> None: ...

    def stored(self) -> AsyncIterator[tuple[str, float]]:
        """Every blob in place: its digest and when it was stored (seconds since the
        epoch), a few hundred at a time."""
        ...

    async def discard_staged_before(self, moment: float) -> int:
        """Remove what runs killed before recording left staged before `moment`
        (seconds since the epoch); returns how many."""
        ...


class FolderBlobStore:
    """Blobs as files `ab/cd/abcd…` under one folder, written and read in a thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._prefix = f"{root}{os.sep}"

    def path(self, digest: str) -> Path:
        return Path(self._file(digest))

    def _file(self, digest: str) -> str:
        # A string, not a Path: an export reads thousands of blobs a second.
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"not a SHA-256 digest: {digest!r}")
        return f"{self._prefix}{digest[:2]}{os.sep}{digest[2:4]}{os.sep}{digest}"

    async def put(self, content: bytes) -> str:
        return await asyncio.to_thread(self._put, content)

    def _put(self, content: bytes) -> str:
        digest = blob_hash(content)
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _fsync_folder(target.parent)
        return digest

    async def read(self, digest: str) -> bytes:
        return await asyncio.to_thread(self._read, digest)

    async def read_many(self, digests: Sequence[str]) -> AsyncIterator[bytes | None]:
        done = 0
        while done < len(digests):
            contents = await asyncio.to_thread(self._read_some, digests, done)
            done += len(contents)
            for content in contents:
                yield content

    def _read_some(self, digests: Sequence[str], start: int) -> list[bytes | None]:
        """The blobs from `start` on, until about `READ_AT_ONCE` bytes are read."""
        contents: list[bytes | None] = []
        size = 0
        for digest in itertools.islice(digests, start, None):
            try:
                content: bytes | None = self._read(digest)
            except OSError:
                content = None
            contents.append(content)
            size += len(content) if content is not None else 0
            if size >= READ_AT_ONCE:
                break
        return contents

    def _read(self, digest: str) -> bytes:
        # One open, fstat and read: ~16 µs a 22 kB blob here, ~45 µs through pathlib.
        fd = os.open(self._file(digest), os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            content = os.read(fd, size)
            while len(content) < size and (more := os.read(fd, size - len(content))):
                content += more
            return content
        finally:
            os.close(fd)

    async def exists(self, digest: str) -> bool:
        return await asyncio.to_thread(os.path.exists, self._file(digest))

    async def delete(self, digest: str) -> None:
        await asyncio.to_thread(self.path(digest).unlink, missing_ok=True)

    def stage(self, content: bytes) -> StagedBlob:
        digest = blob_hash(content)
        path = f"{self._prefix}{STAGING}{os.sep}{digest}-{secrets.token_hex(8)}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        # The blob's own folder is made here, by the worker, and not by the recorder
        # just before its rename: a first run makes a new folder for most blobs.
        _make_folder(os.path.dirname(self._file(digest)))
        return StagedBlob(digest, len(content), path)

    async def commit(self, staged: Iterable[StagedBlob]) -> None:
        blobs = list(staged)
        if blobs:
            await asyncio.to_thread(self._commit, blobs)

    def _commit(self, staged: list[StagedBlob]) -> None:
        moved = False
        for blob in staged:
            target = self._file(blob.digest)
            try:
                # Over a blob already in place too: its bytes are the same (same name).
                os.replace(blob.path, target)
            except FileNotFoundError:
                if not os.path.exists(blob.path):
                    continue  # moved already, by a batch now recorded again one by one
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(blob.path, target)
            moved = True
        if moved:
            sync_filesystem(self.root)

    async def discard(self, staged: Iterable[StagedBlob]) -> None:
        paths = [blob.path for blob in staged]
        if paths:
            await asyncio.to_thread(_unlink_all, paths)

    async def stored(self) -> AsyncIterator[tuple[str, float]]:
        listing = self._stored()
        while chunk := await asyncio.to_thread(_take, listing, LISTED_AT_ONCE):
            for entry in chunk:
                yield entry

    def _stored(self) -> Iterator[tuple[str, float]]:
        if not self.root.exists():
            return
        for path in self.root.glob("??/??/*"):
            if len(path.name) == 64 and not path.name.startswith("."):
                yield path.name, path.stat().st_mtime

    async def discard_staged_before(self, moment: float) -> int:
        return await asyncio.to_thread(self._discard_staged_before, moment)

    def _discard_staged_before(self, moment: float) -> int:
        folder = self.root / STAGING
        removed = 0
        if folder.exists():
            for path in folder.iterdir():
                if path.stat().st_mtime < moment:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed


def _take(entries: Iterator[tuple[str, float]], size: int) -> list[tuple[str, float]]:
    return list(itertools.islice(entries, size))


def _unlink_all(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _libc_syncfs() -> Callable[[int], int] | None:
    try:  # the C library the interpreter is linked with
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    return getattr(libc, "syncfs", None)


_SYNCFS = _libc_syncfs()


def sync_filesystem(folder: Path) -> None:
    """Flush everything written to `folder`'s filesystem (Linux `syncfs`; `sync`
    elsewhere): data, new names and new folders alike."""
    if _SYNCFS is None:
        os.sync()
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(folder))
    finally:
        os.close(fd)


def _make_folder(folder: str) -> None:
    """`os.makedirs(folder, exist_ok=True)` in one system call when it exists."""
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
