"""The streamed ZIP writer: whatever goes in (empty members, non-ASCII names, members
given in pieces, bytes taken at any moment) Python's zipfile and Info-ZIP's `unzip -t`
read back exactly that, and ZIP64 fields appear where offsets, sizes or the number of
members need them."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iportal.documents.reading.zipstream import LOCAL, MASK32, ZIP64_LIMIT, ZipStream

WHEN = datetime(2026, 11, 23, 14, 37, 59)
# Any character but NUL (zipfile cuts the name there), `/` (a folder) and surrogates.
NAMES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"),
    min_size=1,
    max_size=40,
)
MEMBERS = st.lists(
    st.tuples(NAMES, st.binary(max_size=3000), st.booleans(), st.booleans()),
    max_size=12,
    unique_by=lambda member: member[0],
)


def build(
    members: list[tuple[str, bytes, bool, bool]], zip64_limit: int = ZIP64_LIMIT
) -> tuple[bytes, list[bytes]]:
    """The archive of (name, data, given in pieces, take after it) and the pieces
    the writer handed out."""
    pieces: list[bytes] = []
    with ZipStream(WHEN, zip64_limit=zip64_limit) as archive:
        for name, data, in_pieces, take in members:
            if in_pieces:  # as the export writes its CSV
                archive.begin(name, len(data), zlib.crc32(data))
                for start in range(0, len(data), 1000):
                    archive.write(data[start : start + 1000])
            else:
                archive.add(name, data)
            if take:
                pieces.append(archive.take())
        pieces.extend(archive.finish())
    return b"".join(pieces), pieces


def check(
    content: bytes, members: list[tuple[str, bytes, bool, bool]], zip64_limit: int = ZIP64_LIMIT
) -> None:
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None
    infos = archive.infolist()
    assert [(info.filename, archive.read(info)) for info in infos] == [m[:2] for m in members]
    for info, (_, data, _, _) in zip(infos, members, strict=True):
        assert info.compress_type == zipfile.ZIP_STORED
        assert (info.CRC, info.file_size, info.compress_size) == (
            zlib.crc32(data),
            len(data),
            len(data),
        )
        assert info.date_time == (2026, 11, 23, 14, 37, 58)  # two-second resolution
        # Streaming readers trust the local header: it holds the final CRC and sizes.
        local = LOCAL.unpack_from(content, info.header_offset)
        assert local[0] == b"PK\x03\x04" and local[6] == info.CRC
        assert local[7] == local[8] == (MASK32 if len(data) > zip64_limit else len(data))


@given(
    members=MEMBERS,
    zip64_limit=st.one_of(st.just(ZIP64_LIMIT), st.integers(min_value=0, max_value=20_000)),
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_members_read_back_exactly(
    members: list[tuple[str, bytes, bool, bool]], zip64_limit: int
) -> None:
    content, pieces = build(members, zip64_limit)
    check(content, members, zip64_limit)
    assert all(pieces[:-1])  # nothing empty handed out but, at most, a final piece


def test_zip64_fields_where_offsets_and_sizes_need_them() -> None:
    members = [("first.pdf", b"%PDF" * 100, False, False), ("é/../x.xml", b"", False, False)]
    members += [("日本語.csv", b"a;b\r\n" * 50, True, False)]
    content, _ = build(members, zip64_limit=100)
    check(content, members, zip64_limit=100)
    assert b"PK\x06\x06" in content and b"PK\x06\x07" in content  # ZIP64 end records
    plain, _ = build(members)
    assert b"PK\x06\x06" not in plain


def test_more_members_than_the_classic_end_record_counts() -> None:
    members = [
        (f"{i:05d}.pdf", b"" if i % 2 else b"x", False, i % 5000 == 0) for i in range(70_000)
    ]
    content, _ = build(members)
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert len(archive.infolist()) == 70_000 and archive.testzip() is None
    assert archive.read("69998.pdf") == b"x"


@pytest.mark.skipif(shutil.which("unzip") is None, reason="Info-ZIP unzip is not installed")
@pytest.mark.parametrize(
    ("count", "zip64_limit"), [(3, ZIP64_LIMIT), (3, 0), (70_000, ZIP64_LIMIT)]
)
def test_info_zip_unzip_accepts_the_archive(tmp_path: Path, count: int, zip64_limit: int) -> None:
    members = [(f"dossier-{i}-é.pdf", bytes(i % 300), i % 2 == 0, False) for i in range(count)]
    path = tmp_path / "archive.zip"
    path.write_bytes(build(members, zip64_limit)[0])
    tested = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "No errors detected" in tested.stdout


def test_a_member_must_get_exactly_its_bytes() -> None:
    with ZipStream(WHEN) as archive:
        archive.begin("a", 3, zlib.crc32(b"abc"))
        with pytest.raises(ValueError, match="more bytes"):
            archive.write(b"abcd")
        archive.write(b"ab")
        with pytest.raises(ValueError, match="not complete"):
            archive.add("b", b"")
        with pytest.raises(ValueError, match="not complete"):
            list(archive.finish())
