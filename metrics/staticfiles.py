"""A static files finder for plotly.js, taken from the installed ``plotly`` package.

The plotly Python package ships the matching plotly.js build
(``plotly/package_data/plotly.min.js``). This finder exposes exactly that file as the
static file ``vendor/plotly/plotly.min.js``, so the dashboard serves plotly.js from our
own static files (whitenoise, ``collectstatic``) without a CDN and without a copy in the
repository; upgrading the package upgrades the script.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly  # type: ignore[import-untyped]
from django.contrib.staticfiles import utils
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error
from django.core.files.storage import FileSystemStorage

PREFIX = "vendor/plotly"
FILE_NAME = "plotly.min.js"
STATIC_PATH = f"{PREFIX}/{FILE_NAME}"


def plotly_source_dir() -> Path:
    return Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyFinder(BaseFinder):
    """Finds ``vendor/plotly/plotly.min.js`` in the installed plotly package."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source_dir = plotly_source_dir()
        self.storage = FileSystemStorage(location=str(self.source_dir))
        self.storage.prefix = PREFIX  # type: ignore[attr-defined]  # collectstatic reads it

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        if not (self.source_dir / FILE_NAME).is_file():
            return [
                Error(
                    f"plotly.js is missing: {self.source_dir / FILE_NAME} does not exist.",
                    hint="Install the plotly package (see pyproject.toml).",
                    id="metrics.E001",
                )
            ]
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        matches: list[str] = []
        source = self.source_dir / FILE_NAME
        if path == STATIC_PATH and source.is_file():
            matches.append(str(source))
        if find_all:
            return matches
        return matches[0] if matches else []

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        if (self.source_dir / FILE_NAME).is_file() and not utils.matches_patterns(
            FILE_NAME, ignore_patterns or []
        ):
            yield FILE_NAME, self.storage
