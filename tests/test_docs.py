"""Code cites only documents inside the repository (docs/architecture.md#layers).

Comments and docstrings name the rule they follow by a file and heading of ``docs/``
(``docs/domain.md#deactivation-keeps-the-user``), an RFC or OpenID section, or a vendor.
Section codes of design notes kept outside the repository ("D6", "O14", "domain.md §3.1",
"../shared/docs/…") cannot be followed by anyone who clones the project alone, so a new
one fails here; and every ``docs/<file>.md#<anchor>`` cited must be a heading of that file.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("admincenter", "scim", "sso", "optiid", "tests", "bench", "templates")
THIS_FILE = Path(__file__).resolve()

OUTSIDE_CITATIONS = [
    (re.compile(r"shared/docs|shared docs/"), "a path outside the repository"),
    (re.compile(r"idp-compatibility"), "the outside IdP compatibility notes (now docs/idp-notes.md)"),
    (re.compile(r"\.md,?\s*§"), "a section number of a markdown file (cite docs/<file>.md#<heading>)"),
    (re.compile(r"(?<![\w#./-])[DO](?:[1-9]|1[0-9]|20)(?![\w-])"), "a design-note code like D6 or O14"),
]
# A section sign is allowed after an RFC or an OpenID Connect specification, or in a range ("§5-§7").
ALLOWED_BEFORE_SECTION_SIGN = re.compile(r"(?:RFC \d{4},? |OpenID Connect \w+ |§[\d.]+-)$")
DOC_CITATION = re.compile(r"docs/([\w-]+\.md)#([\w-]+)")


def code_files() -> list[Path]:
    files = []
    for directory in CODE_DIRS:
        for pattern in ("*.py", "*.html"):
            files.extend(
                path
                for path in (ROOT / directory).rglob(pattern)
                if "node_modules" not in path.parts and path.resolve() != THIS_FILE
            )
    return sorted(files)


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a markdown file."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            text = match.group(1).strip().lower().replace("`", "")
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def test_the_scan_sees_the_code():
    names = {path.relative_to(ROOT).as_posix() for path in code_files()}
    assert {"admincenter/models.py", "scim/views.py", "sso/oidc.py", "tests/conftest.py"} <= names


def test_code_cites_no_document_outside_the_repository():
    found = []
    for path in code_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{path.relative_to(ROOT)}:{number}"
            found += [f"{where}: {why}: {line.strip()}" for pattern, why in OUTSIDE_CITATIONS if pattern.search(line)]
            found += [
                f"{where}: a section sign that names no RFC or OpenID specification: {line.strip()}"
                for match in re.finditer("§", line)
                if not ALLOWED_BEFORE_SECTION_SIGN.search(line[: match.start()])
            ]
    assert found == []


def test_cited_docs_anchors_exist():
    anchors = {path.name: heading_anchors(path.read_text(encoding="utf-8")) for path in (ROOT / "docs").glob("*.md")}
    missing = []
    for path in [*code_files(), ROOT / "README.md", ROOT / "scim" / "README.md", *(ROOT / "docs").glob("*.md")]:
        for document, anchor in DOC_CITATION.findall(path.read_text(encoding="utf-8")):
            if anchor not in anchors.get(document, set()):
                missing.append(f"{path.relative_to(ROOT)}: docs/{document}#{anchor}")
    assert missing == []


@pytest.mark.parametrize(
    ("line", "outside"),
    [
        ('"""Back to JIT (D6): revoke tokens."""', True),
        ("MAX_BODY_BYTES = 1024 * 1024  # 1 MiB (domain.md O14)", True),
        ("# PingOne (idp-compatibility.md §6, PingOne 5)", True),
        ("See `../shared/docs/architecture.md`.", True),
        ('"""Entra sends booleans as strings (docs/idp-notes.md#entra-booleans-as-strings)."""', False),
        ("# RFC 7644 §3.5.2: the path is optional", False),
        ("_CACHE_O2 = {}  # an identifier, not a citation", False),
    ],
)
def test_the_patterns_tell_a_citation_from_code(line, outside):
    assert any(pattern.search(line) for pattern, _ in OUTSIDE_CITATIONS) is outside


def test_heading_anchors_follow_github():
    assert heading_anchors("## Product, role and instance\n### `externalId` is not unique") == {
        "product-role-and-instance",
        "externalid-is-not-unique",
    }
