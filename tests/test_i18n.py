"""The German catalog: complete, consistent with its compiled .mo, covering the code, in use.

``locale/de/LC_MESSAGES/django.po`` is the source; ``django.mo`` is committed next to it
because machines without GNU gettext cannot compile it. After changing strings in code or
templates run::

    DEBUG=true .venv/bin/python manage.py makemessages -l de --no-obsolete \
        --ignore=.venv --ignore=var --ignore=node_modules
    # translate the new entries, then
    DEBUG=true .venv/bin/python manage.py compilemessages -l de --ignore=.venv
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

BASE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = BASE_DIR / "locale"
PO_PATH = LOCALE_DIR / "de" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
PLURAL_FORMS = "nplurals=2; plural=(n != 1);"

# What `makemessages` is run with (see the module docstring); hidden directories such as
# .venv and .git are ignored by makemessages' default patterns as well.
IGNORE_PATTERNS = [".venv", "var", "node_modules"]
SOURCE_SUFFIXES = {".py", ".html", ".txt"}  # makemessages' default extensions, django domain

# %(name)s, %s, %5.2f, %%, ... (conversion flags, width and precision included).
PYTHON_FORMAT = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]"
)
NAMED_PLACEHOLDER = re.compile(r"%\([^)]+\)[#0 +-]*\d*(?:\.\d+)?[a-zA-Z]")
# {{ var }} (template syntax) and {name}, {0}, {} (str.format).
BRACE_PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{[\w.\[\]!:<>^=+\-#, ]*\}")
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def _load_po() -> Any:
    assert PO_PATH.exists(), f"{PO_PATH} is missing: run makemessages -l de"
    return polib.pofile(str(PO_PATH))


def _key(entry: Any) -> tuple[str | None, str]:
    return (entry.msgctxt, entry.msgid)


def _label(entry: Any) -> str:
    return f"{entry.msgctxt}|{entry.msgid}" if entry.msgctxt else entry.msgid


def _placeholders(text: str, python_format: bool) -> dict[str, list[str]]:
    """What a translation must keep, as msgfmt --check-format sees it.

    Named placeholders and {...} are compared as sets (a translation may reorder or repeat
    them), positional %-specs in order, HTML tags with their counts.
    """
    found = {
        "named": sorted(set(NAMED_PLACEHOLDER.findall(text))),
        "brace": sorted(set(BRACE_PLACEHOLDER.findall(text))),
        "html": sorted(HTML_TAG.findall(text)),
    }
    if python_format:
        specs = (m.group(0) for m in PYTHON_FORMAT.finditer(text))
        found["positional"] = [s for s in specs if s != "%%" and not s.startswith("%(")]
    return found


def _translations(entry: Any) -> list[tuple[str, str]]:
    """(source, translation) pairs: msgstr[0] pairs with msgid, msgstr[1] with msgid_plural."""
    if entry.msgid_plural:
        return [
            (entry.msgid if int(index) == 0 else entry.msgid_plural, text)
            for index, text in sorted(entry.msgstr_plural.items(), key=lambda kv: int(kv[0]))
        ]
    return [(entry.msgid, entry.msgstr)]


def _catalog(entries: Any) -> set[tuple[Any, ...]]:
    pairs: set[tuple[Any, ...]] = set()
    for entry in entries:
        if not entry.msgid:  # the header
            continue
        if entry.msgid_plural:
            forms = tuple(sorted((int(k), v) for k, v in entry.msgstr_plural.items()))
            pairs.add((entry.msgctxt, entry.msgid, entry.msgid_plural, forms))
        else:
            pairs.add((entry.msgctxt, entry.msgid, None, entry.msgstr))
    return pairs


def test_po_header() -> None:
    po = _load_po()
    assert not po.metadata_is_fuzzy
    assert po.metadata.get("Language") == "de"
    assert po.metadata.get("Plural-Forms") == PLURAL_FORMS
    assert "charset=UTF-8" in po.metadata.get("Content-Type", "")
    assert po.metadata.get("Project-Id-Version") == "feedbackloop"


def test_every_entry_is_translated_and_keeps_its_placeholders() -> None:
    po = _load_po()
    entries = [e for e in po if not e.obsolete]
    assert entries, "the catalog is empty"

    assert not [_label(e) for e in entries if "fuzzy" in e.flags], "fuzzy entries"
    untranslated = [_label(e) for e in entries if not e.translated()]
    assert not untranslated, f"untranslated entries: {untranslated}"
    assert not po.obsolete_entries(), "obsolete entries: run makemessages with --no-obsolete"

    mismatched = []
    for entry in entries:
        python_format = "python-format" in entry.flags
        if entry.msgid_plural:
            assert len(entry.msgstr_plural) == 2, f"{_label(entry)}: needs 2 plural forms"
        for source, translation in _translations(entry):
            expected = _placeholders(source, python_format)
            actual = _placeholders(translation, python_format)
            for kind, wanted in expected.items():
                if wanted != actual[kind]:
                    mismatched.append(
                        f"{kind} {_label(entry)!r}: {wanted} != {actual[kind]} in {translation!r}"
                    )
    assert not mismatched, "placeholders differ:\n" + "\n".join(mismatched)


def test_committed_mo_matches_po() -> None:
    po = _load_po()
    assert MO_PATH.exists(), f"{MO_PATH} is missing: run compilemessages -l de"
    mo = polib.mofile(str(MO_PATH))

    expected = _catalog(po.translated_entries())
    compiled = _catalog(mo)
    stale = "; run compilemessages -l de and commit django.mo"
    assert not expected - compiled, f"missing from or different in the .mo{stale}: " + repr(
        sorted(expected - compiled, key=repr)
    )
    assert not compiled - expected, f"only in the .mo{stale}: " + repr(
        sorted(compiled - expected, key=repr)
    )
    assert mo.metadata.get("Plural-Forms") == po.metadata.get("Plural-Forms")


def _copy_sources(destination: Path) -> None:
    """What makemessages would read from the project: sources plus the locale catalogs."""
    skipped_dirs = {"var", "node_modules", "__pycache__", "CVS"}
    skipped_roots = {Path(p).resolve() for p in (settings.MEDIA_ROOT, settings.STATIC_ROOT) if p}

    def ignore(directory: str, names: list[str]) -> set[str]:
        inside_locale = "locale" in Path(directory).relative_to(BASE_DIR).parts
        ignored = set()
        for name in names:
            path = Path(directory) / name
            if path.is_dir() and not path.is_symlink():
                if name.startswith(".") or name in skipped_dirs or path.resolve() in skipped_roots:
                    ignored.add(name)
            elif inside_locale:
                if path.suffix != ".po":
                    ignored.add(name)
            elif path.suffix not in SOURCE_SUFFIXES or name.startswith("."):
                ignored.add(name)
        return ignored

    shutil.copytree(BASE_DIR, destination, ignore=ignore, symlinks=True)


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("xgettext", "msgmerge", "msguniq", "msgattrib")),
    reason="GNU gettext is not installed",
)
def test_catalog_covers_the_code(tmp_path: Path, settings: Any, monkeypatch: Any) -> None:
    """makemessages on a copy of the sources finds no string the committed catalog lacks."""
    copy = tmp_path / "project"
    _copy_sources(copy)
    settings.LOCALE_PATHS = [copy / "locale"]
    monkeypatch.chdir(copy)

    call_command(
        "makemessages",
        locale=["de"],
        no_obsolete=True,
        ignore_patterns=IGNORE_PATTERNS,
        verbosity=0,
    )

    generated_files = sorted(copy.glob("**/locale/de/LC_MESSAGES/django.po"))
    assert copy / "locale" / "de" / "LC_MESSAGES" / "django.po" in generated_files
    problems = []
    for generated_path in generated_files:
        relative = generated_path.relative_to(copy)
        committed_path = BASE_DIR / relative
        committed = (
            {_key(e) for e in polib.pofile(str(committed_path)).translated_entries()}
            if committed_path.exists()
            else set()
        )
        for entry in polib.pofile(str(generated_path)):
            if entry.obsolete:
                continue
            if _key(entry) not in committed:
                problems.append(f"{relative}: not in the catalog: {_label(entry)!r}")
            elif not entry.translated():
                problems.append(f"{relative}: needs a new translation: {_label(entry)!r}")
    assert not problems, "run makemessages -l de and translate:\n" + "\n".join(problems)


def test_german_browser_gets_german_pages() -> None:
    response = Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'lang="de"' in page
    assert "Anmelden" in page
    assert "Sign in" not in page


def test_language_cookie_overrides_the_browser() -> None:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'lang="en"' in page
    assert "Sign in" in page
    assert "Anmelden" not in page
