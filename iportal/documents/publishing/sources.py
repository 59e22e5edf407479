"""What the paths given to `iportal ingest` hold: files, folders and ZIP archives,
with the `manifest.csv` row that describes each file where there is one.

A manifest that cannot be read (not UTF-8, no `file` column) or a damaged one in a
ZIP rejects the documents of its folder or archive, with the reason: without it none
of them would be published as the issuer meant. The rest of the run goes on.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from iportal.documents.publishing.inspection import DAMAGED_IN_ZIP, ZIP_DAMAGE, Source
from iportal.i18n import N_

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = (
    "file",
    "client_code",
    "type",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "amount_excl_vat",
    "vat_amount",
    "amount_incl_vat",
)
DOCUMENT_SUFFIXES = (".pdf", ".xml")
NOT_IN_ARCHIVE = N_("manifest.csv row %(row)s: the file “%(file)s” is not in the archive.")
NO_FILE_COLUMN = N_(
    "manifest.csv has no “file” column: no document of its folder or archive is published."
)
NOT_UTF8 = N_("manifest.csv is not UTF-8 text: no document of its folder or archive is published.")


class ManifestUnreadable(Exception):
    """The manifest as a whole cannot be read: its message and parameters."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message, self.params = message, params


@dataclass(frozen=True)
class Item:
    """One file to publish, or a line of a manifest that cannot be one."""

    source: Source
    metadata: dict[str, str] | None = None
    problem: tuple[str, Mapping[str, object]] | None = None  # a message, its parameters


def _decoded(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestUnreadable(NOT_UTF8) from None


def _manifest_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """Every row of the manifest with its line, read whole before any is used."""
    reader = csv.DictReader(io.StringIO(text))
    if "file" not in (reader.fieldnames or []):
        raise ManifestUnreadable(NO_FILE_COLUMN)
    return [(reader.line_num, {k: (v or "") for k, v in row.items() if k}) for row in reader]


def _folder_items(folder: Path) -> Iterator[Item]:
    # One listing of the folder answers "is it a plain file here?" for every manifest
    # row; only a name with a separator or a symlink needs the path resolved.
    entries = {entry.name: entry for entry in os.scandir(folder)}
    manifest = folder / MANIFEST
    named: set[str] = set()
    if MANIFEST in entries:
        try:
            rows = _manifest_rows(_decoded(manifest.read_bytes()))
        except ManifestUnreadable as unreadable:
            yield Item(Source(str(manifest)), problem=(unreadable.message, unreadable.params))
            return
        for line, row in rows:
            named.add(row["file"])
            if _inside(folder, entries, row["file"]):
                path = folder / row["file"]
                yield Item(Source(str(path), path=str(path)), row)
            else:
                yield Item(
                    Source(f"{manifest}:{line}"),
                    problem=(
                        N_("manifest.csv row %(row)s: the file “%(file)s” is not in the folder."),
                        {"row": line, "file": row["file"]},
                    ),
                )
    for name in sorted(entries):
        entry = entries[name]
        if entry.is_dir():
            yield from _folder_items(Path(entry.path))
        elif name.lower().endswith(DOCUMENT_SUFFIXES) and name not in named:
            yield Item(Source(entry.path, path=entry.path))


def _inside(folder: Path, entries: dict[str, os.DirEntry[str]], name: str) -> bool:
    """Whether the manifest's `name` is a file within `folder` (no way out by `..`,
    an absolute path or a symlink)."""
    entry = entries.get(name)
    if entry is not None and entry.is_file(follow_symlinks=False):
        return True
    path = folder / name
    return bool(name) and path.is_file() and folder.resolve() in path.resolve().parents


def _zip_items(archive_path: Path) -> Iterator[Item]:
    with zipfile.ZipFile(archive_path) as archive:
        members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        named: set[str] = set()
        if MANIFEST in members:
            where = Source(f"{archive_path}:{MANIFEST}")
            try:
                rows = _manifest_rows(_decoded(archive.read(MANIFEST)))
            except ZIP_DAMAGE as error:
                reason = str(error) or type(error).__name__
                yield Item(where, problem=(DAMAGED_IN_ZIP, {"reason": reason}))
                return
            except ManifestUnreadable as unreadable:
                yield Item(where, problem=(unreadable.message, unreadable.params))
                return
            for line, row in rows:
                named.add(row["file"])
                if row["file"] not in members:
                    yield Item(
                        Source(f"{archive_path}:{MANIFEST}:{line}"),
                        problem=(
                            NOT_IN_ARCHIVE,
                            {"row": line, "file": row["file"]},
                        ),
                    )
                else:
                    yield Item(
                        Source(
                            f"{archive_path}:{row['file']}",
                            path=str(archive_path),
                            member=row["file"],
                        ),
                        row,
                    )
        for name in sorted(members):
            if name.lower().endswith(DOCUMENT_SUFFIXES) and name not in named:
                yield Item(Source(f"{archive_path}:{name}", path=str(archive_path), member=name))


def collect(paths: list[Path]) -> Iterator[Item]:
    """Every file the given paths hold, with its manifest row where there is one."""
    for path in paths:
        if path.is_dir():
            yield from _folder_items(path)
        elif path.suffix.lower() == ".zip":
            try:
                yield from _zip_items(path)
            except zipfile.BadZipFile:
                yield Item(
                    Source(str(path)), problem=(N_("This is not a readable ZIP archive."), {})
                )
        elif path.is_file():
            yield Item(Source(str(path), path=str(path)))
        else:
            yield Item(Source(str(path)), problem=(N_("There is no such file or folder."), {}))
