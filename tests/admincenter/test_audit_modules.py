"""The audit package keeps one job per module and one direction of dependency:
record -> enqueue -> (Celery, by task name) -> processing. Read from the sources, so a new
import that closes a circle fails here before it fails at import time."""

from __future__ import annotations

import ast
from pathlib import Path

import admincenter.audit

PACKAGE = Path(admincenter.audit.__file__).parent

# Which audit modules each module may import. Everything not listed imports no audit module.
ALLOWED = {
    "record": {"actions", "enqueue"},
    "summaries": {"actions"},
    "export": {"enqueue", "selectors"},
    "processing": {"actions", "export", "summaries"},
    "retention": {"actions", "export", "record"},
    "forms": {"selectors"},
    "views": {"actions", "export", "forms", "selectors"},
    "urls": {"views"},
    "tasks": {"enqueue", "export", "processing", "retention", "record"},
}


def _audit_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "admincenter.audit":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("admincenter.audit."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("admincenter.audit."))
    return found


def test_each_audit_module_imports_only_the_modules_below_it():
    modules = {path.stem: _audit_imports(path) for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    assert set(modules) >= set(ALLOWED)
    for name, imported in modules.items():
        assert imported <= ALLOWED.get(name, set()), f"admincenter.audit.{name} imports {imported}"


def test_no_audit_module_is_longer_than_about_300_lines():
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 320, path.name
