"""The rules of the house that must never break, read from the source itself:
imports go one way, the database has one door, and nothing reaches into another
module's private parts."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "iportal"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    names: tuple[str, ...]  # names taken from it (empty for `import x`)
    line: int


def _dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield _dotted(path), path


def _imports() -> Iterator[Import]:
    for module, path in _modules():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(module, alias.name, (), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = tuple(alias.name for alias in node.names)
                yield Import(module, base, names, node.lineno)
                # `from iportal.x import submodule` imports that module too
                for name in names:
                    if f"{base}.{name}" in MODULES:
                        yield Import(module, f"{base}.{name}", (), node.lineno)


MODULES = {module for module, _ in _modules()}
IMPORTS = list(_imports())


def _is_under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _violations(rule: str) -> list[str]:
    found = []
    for item in IMPORTS:
        if _breaks(rule, item):
            found.append(f"{item.module}:{item.line} imports {item.target}")
    return sorted(set(found))


DOMAINS = ("accounts", "documents", "sharing", "notifications")
WEB = ("litestar", "iportal.web", "iportal.app")


def _breaks(rule: str, item: Import) -> bool:
    domain_module = _is_under(item.module, *(f"iportal.{d}" for d in DOMAINS))
    if rule == "services never import the web layer":
        # Controllers and their request/response types are the web layer themselves.
        web_side = ".controllers" in item.module or item.module.endswith(".schemas")
        return (
            domain_module
            and not web_side
            and (_is_under(item.target, *WEB) or ".controllers" in item.target)
        )
    if rule == "tables never import services":
        return item.module.endswith(".tables") and (
            ".services" in item.target or ".controllers" in item.target
        )
    if rule == "the product never imports the demo":
        # `iportal demo` (the command) is the demo's one way in.
        allowed = _is_under(item.module, "iportal.demo") or item.module == "iportal.cli._server"
        return not allowed and _is_under(item.target, "iportal.demo")
    if rule == "one door to the database":
        return (
            item.module != "iportal.db"
            and _is_under(item.target, "asyncpg")
            and not (item.names and set(item.names) <= {"exceptions"} | EXCEPTION_NAMES)
        )
    if rule == "domains depend one way: documents, sharing, accounts":
        # Below a domain lie the ones after it; every domain may queue e-mail.
        order = ("documents", "sharing", "accounts")
        mine, theirs = _domain(item.module), _domain(item.target)
        if mine not in order or theirs not in order:
            return False
        return order.index(theirs) < order.index(mine)
    if rule == "notifications imports no other domain's services":
        return _domain(item.module) == "notifications" and (
            _domain(item.target) not in (None, "notifications") and ".tables" not in item.target
        )
    raise AssertionError(rule)


def _domain(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in DOMAINS else None


# asyncpg's exception classes may be caught anywhere: catching is not querying.
EXCEPTION_NAMES = {
    "UniqueViolationError",
    "ForeignKeyViolationError",
    "DeadlockDetectedError",
    "PostgresError",
    "PostgresConnectionError",
    "InvalidCatalogNameError",
    "InvalidAuthorizationSpecificationError",
}


@pytest.mark.parametrize(
    "rule",
    [
        "services never import the web layer",
        "tables never import services",
        "the product never imports the demo",
        "domains depend one way: documents, sharing, accounts",
        "notifications imports no other domain's services",
    ],
)
def test_imports_go_one_way(rule: str) -> None:
    assert _violations(rule) == []


def test_no_module_takes_another_modules_private_names() -> None:
    taken = [
        f"{item.module}:{item.line} takes {name} from {item.target}"
        for item in IMPORTS
        if _is_under(item.target, "iportal") and item.target != item.module
        for name in item.names
        if name.startswith("_")
        and not name.startswith("__")
        # a package's own `_part` modules are its to import
        and not (f"{item.target}.{name}" in MODULES and _is_under(item.module, item.target))
    ]
    assert taken == []


# Only db.py opens connections or pools, or reaches piccolo's engine and transaction;
# elsewhere asyncpg is named only for the errors it raises.
OTHER_DOORS = re.compile(
    r"asyncpg\.(?!\w*(Error|exceptions)\b)\w+|from asyncpg import (?!\w*Error)"
    r"|get_engine\(|current_transaction|\.run_ddl\("
    r"|\b[A-Z]\w*\.raw\("
)


def test_one_door_to_the_database() -> None:
    doors = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for module, path in _modules()
        if module != "iportal.db"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OTHER_DOORS.search(line)
    ]
    assert doors == []


def test_the_door_check_sees_other_doors() -> None:
    for line in (
        "await ClientNumber.raw(SQL, 1)",
        "asyncpg.connect(dsn)",
        "get_engine().pool",
        "from asyncpg import Record",
    ):
        assert OTHER_DOORS.search(line)
    for line in ("except asyncpg.UniqueViolationError:", "asyncpg.exceptions.DataError"):
        assert not OTHER_DOORS.search(line)


def test_a_package_is_entered_by_its_front_door() -> None:
    """`iportal.accounts.services._login` is for `iportal.accounts.services` alone: every
    other module imports what the package re-exports."""
    reaching_in = []
    for item in IMPORTS:
        private = re.search(r"^(.*?)\._[a-z]\w*", item.target)
        if private and item.target in MODULES | {f"{m}" for m in MODULES}:
            owner = private.group(1)
            if not _is_under(item.module, owner):
                reaching_in.append(f"{item.module}:{item.line} imports {item.target}")
    assert sorted(set(reaching_in)) == []


@pytest.mark.parametrize(
    ("rule", "module", "target"),
    [
        ("services never import the web layer", "iportal.sharing.services", "litestar"),
        ("services never import the web layer", "iportal.accounts.services._x", "iportal.web.auth"),
        ("tables never import services", "iportal.documents.tables", "iportal.accounts.services"),
        ("the product never imports the demo", "iportal.app", "iportal.demo.controllers"),
        (
            "domains depend one way: documents, sharing, accounts",
            "iportal.accounts.services._opt_in",
            "iportal.sharing.services",
        ),
        (
            "domains depend one way: documents, sharing, accounts",
            "iportal.sharing.services",
            "iportal.documents.reading",
        ),
        (
            "notifications imports no other domain's services",
            "iportal.notifications.services",
            "iportal.accounts.services",
        ),
    ],
)
def test_each_rule_catches_what_it_forbids(rule: str, module: str, target: str) -> None:
    assert _breaks(rule, Import(module, target, (), 1))
