"""`iportal ingest` on a ZIP with damaged members: each is rejected with its reason, the
others are published, and the run goes on to its summary (exit 1, no traceback)."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

from tests.documents.test_ingest import count, ingest, ingest_db, write_batch  # noqa: F401

DAMAGED = "The file is damaged in the ZIP archive:"


def _damage(archive: Path, member: str, offset: int, junk: bytes) -> None:
    """Overwrite bytes of `member`, `offset` bytes after the start of its local header."""
    with zipfile.ZipFile(archive) as read:
        start = read.getinfo(member).header_offset
    data = bytearray(archive.read_bytes())
    data[start + offset : start + offset + len(junk)] = junk
    archive.write_bytes(bytes(data))


def _data_offset(archive: Path, member: str) -> int:
    """Where `member`'s (compressed) bytes start, from its local header."""
    with zipfile.ZipFile(archive) as read:
        info = read.getinfo(member)
    header = archive.read_bytes()[info.header_offset : info.header_offset + 30]
    name_length = int.from_bytes(header[26:28], "little")
    extra_length = int.from_bytes(header[28:30], "little")
    return 30 + name_length + extra_length


def test_a_damaged_member_is_rejected_and_the_others_are_published(
    ingest_db: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    files = write_batch(tmp_path / "zipped", "DZ", 5)
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(tmp_path / "zipped" / "manifest.csv", "manifest.csv")
        for index, path in enumerate(files):
            stored = zipfile.ZIP_STORED if index == 1 else zipfile.ZIP_DEFLATED
            out.write(path, path.name, compress_type=stored)
    bad_crc, bad_header, bad_stream = files[1].name, files[2].name, files[3].name
    _damage(archive, bad_crc, _data_offset(archive, bad_crc) + 200, b"\x00\xff" * 4)
    _damage(archive, bad_header, 0, b"JUNK")  # its local header's signature
    _damage(archive, bad_stream, _data_offset(archive, bad_stream) + 2, b"\xff" * 64)
    # A damaged manifest turns the whole ZIP away: its members' metadata is lost.
    other_files = write_batch(tmp_path / "other", "DM", 2)
    other = tmp_path / "damaged-manifest.zip"
    with zipfile.ZipFile(other, "w") as out:
        out.write(tmp_path / "other" / "manifest.csv", "manifest.csv", zipfile.ZIP_STORED)
        for path in other_files:
            out.write(path, path.name)
    _damage(other, "manifest.csv", _data_offset(other, "manifest.csv") + 5, b"\x00")
    report = tmp_path / "report.csv"

    done = ingest(ingest_db, str(archive), str(other), "--jobs", "1", "--report", str(report))

    assert done.returncode == 1, done.stdout + done.stderr  # something was rejected
    assert "Traceback" not in done.stdout + done.stderr
    rows = {Path(row["file"].rsplit(":", 1)[-1]).name: row for row in csv.DictReader(report.open())}
    assert {name: row["status"] for name, row in rows.items()} == {
        "manifest.csv": "rejected",
        files[0].name: "published",
        bad_crc: "rejected",
        bad_header: "rejected",
        bad_stream: "rejected",
        files[4].name: "published",
    }
    for name in (bad_crc, bad_header, bad_stream):
        assert rows[name]["reason"].startswith(DAMAGED), rows[name]
    assert "CRC" in rows[bad_crc]["reason"]
    assert rows["manifest.csv"]["status"] == "rejected"
    assert rows["manifest.csv"]["reason"].startswith(DAMAGED)
    assert count(ingest_db, "SELECT count(*) FROM document WHERE number LIKE 'DM-%'") == 0
    assert count(ingest_db, "SELECT count(*) FROM document WHERE number LIKE 'DZ-%'") == 2


def test_an_unreadable_manifest_rejects_its_folder_or_archive_and_the_run_goes_on(
    ingest_db: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    write_batch(tmp_path / "latin1", "ML", 2)
    manifest = tmp_path / "latin1" / "manifest.csv"
    manifest.write_bytes(manifest.read_bytes().replace(b"EUR", "EUR\u00e9".encode("latin-1")))
    write_batch(tmp_path / "nocolumn", "MC", 2)
    text = (tmp_path / "nocolumn" / "manifest.csv").read_text()
    (tmp_path / "nocolumn" / "manifest.csv").write_text(text.replace("file,", "fichier,", 1))
    zipped = write_batch(tmp_path / "zipped", "MZ", 2)
    archive = tmp_path / "no-column.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("manifest.csv", text.replace("file,", "bestand,", 1))
        for path in zipped:
            out.write(path, path.name)
    fine = write_batch(tmp_path / "fine", "MF", 2)
    report = tmp_path / "report.csv"

    done = ingest(
        ingest_db,
        *(str(tmp_path / name) for name in ("latin1", "nocolumn", "fine")),
        str(archive),
        "--jobs",
        "1",
        "--report",
        str(report),
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    rows = list(csv.DictReader(report.open()))
    refused = {row["file"]: row["reason"] for row in rows if row["status"] == "rejected"}
    assert refused[str(tmp_path / "latin1" / "manifest.csv")].startswith(
        "manifest.csv is not UTF-8 text"
    )
    assert "no “file” column" in refused[str(tmp_path / "nocolumn" / "manifest.csv")]
    assert "no “file” column" in refused[f"{archive}:manifest.csv"]
    assert len(refused) == 3  # the manifests alone: their documents are not tried
    assert {row["file"] for row in rows if row["status"] == "published"} == {
        str(path) for path in fine
    }
    assert count(ingest_db, "SELECT count(*) FROM document WHERE number LIKE 'M_-%'") == 2
