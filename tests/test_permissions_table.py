"""The documented role table (docs/permissions.md) is the code's table, both ways."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from tenants.models import Role
from tenants.permissions import ROLE_CAPABILITIES, Capability

ROOT = Path(settings.BASE_DIR)
DOC = ROOT / "docs" / "permissions.md"


def _documented() -> tuple[dict[str, set[str]], dict[str, str]]:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| `")]
    header = next(
        line for line in DOC.read_text().splitlines() if line.startswith("| capability |")
    )
    roles = [cell.strip() for cell in header.strip("|").split("|")][2:]
    granted: dict[str, set[str]] = {role: set() for role in roles}
    descriptions: dict[str, str] = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        capability = cells[0].strip("`")
        descriptions[capability] = cells[1]
        for role, cell in zip(roles, cells[2:], strict=True):
            assert cell in ("✓", ""), f"{capability}/{role}: use ✓ or leave the cell empty"
            if cell == "✓":
                granted[role].add(capability)
    return granted, descriptions


def test_the_documented_table_is_the_code() -> None:
    granted, descriptions = _documented()
    assert set(granted) == set(Role.values)
    assert set(descriptions) == {c.value for c in Capability}, "one row per capability"
    for role, capabilities in ROLE_CAPABILITIES.items():
        assert granted[role] == {c.value for c in capabilities}, f"role {role} differs"
    assert all(text for text in descriptions.values()), "every row says what it allows"


def test_every_capability_guards_something() -> None:
    sources = "\n".join(
        path.read_text()
        for path in ROOT.glob("*/**/*.py")
        if ".venv" not in path.parts
        and "tests" not in path.parts
        and path != ROOT / "tenants" / "permissions.py"
    )
    unused = [c.name for c in Capability if not re.search(rf"Capability\.{c.name}\b", sources)]
    assert not unused, f"capabilities nothing checks: {unused}"


def test_a_viewer_can_only_read() -> None:
    writes = [c for c in ROLE_CAPABILITIES[Role.VIEWER] if not c.value.endswith(".view")]
    assert not writes, f"a viewer must not change anything: {writes}"
