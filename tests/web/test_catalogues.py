"""Every string a person reads exists in nl, fr and de, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "iportal" / "web" / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def source_messages() -> set[str]:
    method_map, options_map = parse_mapping_cfg((ROOT / "babel.cfg").open())
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.fixture(scope="module")
def in_source() -> set[str]:
    return source_messages()


@pytest.mark.parametrize("language", ["nl", "fr", "de"])
def test_every_message_is_translated(language: str, in_source: set[str]) -> None:
    catalog = read_po((LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb"))
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]: m.string
        for m in catalog
        if m.id and m.string and all(m.string) and "fuzzy" not in m.flags
    }
    missing = sorted(in_source - set(translated))
    assert not missing, f"{language}: untranslated (run `make messages`): {missing}"
    for msgid, msgstr in translated.items():
        wanted = set(PLACEHOLDER.findall(msgid))
        if isinstance(msgstr, str):
            assert set(PLACEHOLDER.findall(msgstr)) == wanted, msgid
        else:  # plural forms: a form may leave out the number ("one code left")
            assert all(
                set(PLACEHOLDER.findall(form)) - {"num"} == wanted - {"num"} for form in msgstr
            ), msgid


def test_the_template_holds_what_the_source_says(in_source: set[str]) -> None:
    """A new language starts from `messages.pot`: it lists every message of the source
    and no other (`make messages` writes it)."""
    template = read_po((LOCALES / "messages.pot").open("rb"))
    listed = {m.id if isinstance(m.id, str) else m.id[0] for m in template if m.id}
    assert sorted(in_source - listed) == [], "missing from messages.pot: run `make messages`"
    assert sorted(listed - in_source) == [], "gone from the source: run `make messages`"
