"""A ZIP archive written as it goes, for streamed exports.

Kept over `zipfile`, stream-zip and zipstream-ng: it built the archive of 10,000
invoices in 0.11–0.17 s of CPU against their 0.25–0.62 s (README, "Export").

Members are stored, not compressed (PDFs are compressed already), and each member's
size and CRC are known before its local header is written, so every header is final:
no data descriptors, nothing to seek back to. The central directory is kept as packed
records in a spooled file (~80 bytes per member, on disk past 1 MB), so memory stays
flat whatever the number of members. ZIP64 fields are written where a size, an offset
or the member count needs them (past 2 GiB, as Python's zipfile does, since some
readers take the 32-bit fields as signed).
"""

from __future__ import annotations

import stat
import struct
import tempfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from types import TracebackType

CHUNK = 1024 * 1024
ZIP64_LIMIT = (1 << 31) - 1
COUNT_LIMIT = 0xFFFF
MASK32 = 0xFFFFFFFF
UTF8_NAME = 0x0800  # general purpose flag bit 11: the name is UTF-8
VERSION = 20  # 2.0: stored members
VERSION_ZIP64 = 45  # 4.5: ZIP64 extensions
MADE_BY_UNIX = 3 << 8  # external attributes are Unix modes
FILE_MODE = (stat.S_IFREG | 0o644) << 16

LOCAL = struct.Struct("<4s5H3L2H")
CENTRAL = struct.Struct("<4s6H3L5H2L")
END = struct.Struct("<4s4H2LH")
END64 = struct.Struct("<4sQ2H2L4Q")
LOCATOR64 = struct.Struct("<4sLQL")
ZIP64_SIZES = struct.Struct("<2Q")
ZIP64_OFFSET = struct.Struct("<Q")
STORED = 0


def dos_date_time(when: datetime) -> tuple[int, int]:
    """MS-DOS date and time (two-second resolution, 1980–2107)."""
    year = min(max(when.year, 1980), 2107)
    return (
        (year - 1980) << 9 | when.month << 5 | when.day,
        when.hour << 11 | when.minute << 5 | when.second // 2,
    )


def _zip64_extra(values: bytes) -> bytes:
    return struct.pack("<2H", 0x0001, len(values)) + values


class ZipStream:
    """Appends members to a ZIP archive and hands out its bytes as they are ready.

    `add(name, data)` stores a member whole; `begin(name, size, crc)` then `write()`
    stores one given in pieces. `pending` counts the bytes ready for `take()`;
    `finish()` yields the rest: the central directory and the end records.
    """

    def __init__(self, when: datetime, *, zip64_limit: int = ZIP64_LIMIT) -> None:
        self._date, self._time = dos_date_time(when)
        self._limit = zip64_limit
        self._parts: list[bytes] = []
        self.pending = 0
        self._offset = 0  # of the next byte, counting what was taken
        self._member_end = 0  # where the member begun last must end
        self._count = 0
        self._directory = tempfile.SpooledTemporaryFile(max_size=CHUNK)  # noqa: SIM115

    def __enter__(self) -> ZipStream:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._directory.close()

    def add(self, name: str, data: bytes) -> None:
        self.begin(name, len(data), zlib.crc32(data))
        self._parts.append(data)
        self.pending += len(data)
        self._offset += len(data)

    def begin(self, name: str, size: int, crc: int) -> None:
        """The local header of a member of `size` bytes; `write()` must give them all."""
        if self._offset != self._member_end:
            raise ValueError("the previous member is not complete")
        encoded = name.encode("utf-8")
        offset = self._offset
        big_size, big_offset = size > self._limit, offset > self._limit
        local_extra = central_extra = b""
        if big_size or big_offset:  # ZIP64: the real values in an extra field
            sizes = ZIP64_SIZES.pack(size, size) if big_size else b""
            local_extra = _zip64_extra(sizes) if big_size else b""
            central_extra = _zip64_extra(sizes + (ZIP64_OFFSET.pack(offset) if big_offset else b""))
        version = VERSION_ZIP64 if central_extra else VERSION
        size32 = MASK32 if big_size else size
        # From "version needed" to the name's length, both headers say the same.
        flags = 0 if name.isascii() else UTF8_NAME
        shared = (version, flags, STORED, self._time, self._date, crc, size32, size32, len(encoded))
        header = LOCAL.pack(b"PK\x03\x04", *shared, len(local_extra)) + encoded + local_extra
        self._directory.write(
            CENTRAL.pack(
                b"PK\x01\x02",
                MADE_BY_UNIX | version,
                *shared,
                len(central_extra),
                0,  # comment length
                0,  # disk number
                0,  # internal attributes
                FILE_MODE,
                MASK32 if big_offset else offset,
            )
            + encoded
            + central_extra
        )
        self._parts.append(header)
        self._count += 1
        self.pending += len(header)
        self._offset += len(header)
        self._member_end = self._offset + size

    def write(self, data: bytes) -> None:
        """Bytes of the member begun last."""
        if self._offset + len(data) > self._member_end:
            raise ValueError("more bytes than the member's size")
        self._parts.append(data)
        self.pending += len(data)
        self._offset += len(data)

    def take(self) -> bytes:
        """Everything ready so far, as one piece."""
        taken = b"".join(self._parts)
        self._parts.clear()
        self.pending = 0
        return taken

    def finish(self) -> Iterator[bytes]:
        """The bytes not taken yet, the central directory and the end records, in
        pieces of about `CHUNK` bytes."""
        if self._offset != self._member_end:
            raise ValueError("the last member is not complete")
        start, size = self._offset, self._directory.tell()
        self._directory.seek(0)
        while block := self._directory.read(CHUNK):
            self._parts.append(block)
            self.pending += len(block)
            if self.pending >= CHUNK:
                yield self.take()
        self._offset += size
        count = self._count
        if count > COUNT_LIMIT or size > self._limit or start > self._limit:
            self._parts.append(
                END64.pack(
                    b"PK\x06\x06",
                    END64.size - 12,  # the size of the rest of this record
                    MADE_BY_UNIX | VERSION_ZIP64,
                    VERSION_ZIP64,
                    0,  # this disk
                    0,  # the directory's disk
                    count,  # members on this disk
                    count,  # members in all
                    size,  # of the directory
                    start,  # of the directory
                )
            )
            self._parts.append(LOCATOR64.pack(b"PK\x06\x07", 0, self._offset, 1))
        self._parts.append(
            END.pack(
                b"PK\x05\x06",
                0,  # this disk
                0,  # the directory's disk
                min(count, COUNT_LIMIT),  # members on this disk
                min(count, COUNT_LIMIT),  # members in all
                min(size, MASK32),  # of the directory
                min(start, MASK32),  # of the directory
                0,  # comment length
            )
        )
        yield self.take()
