"""The one transaction helper (admincenter/transactions.py): no module of the project opens
a transaction any other way, so the rule in its docstring holds everywhere."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("admincenter", "scim", "sso", "optiid")


def _plain_atomic_uses(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "atomic"
        and isinstance(node.value, ast.Name)
        and node.value.id == "transaction"
    ]


def test_no_module_uses_plain_transaction_atomic():
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or path == ROOT / "admincenter" / "transactions.py":
                continue
            offenders += [f"{path.relative_to(ROOT)}:{line}" for line in _plain_atomic_uses(path)]
    assert offenders == [], "use admincenter.transactions.atomic instead of transaction.atomic: " + ", ".join(offenders)


def test_the_check_sees_a_plain_transaction_atomic(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from django.db import transaction\n\n@transaction.atomic\ndef f():\n    pass\n")
    assert _plain_atomic_uses(sample) == [3]
