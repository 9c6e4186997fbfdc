"""Workbooks that would exhaust memory or time (issue 14, item 7): refused from the zip's directory, quickly.

On the old code openpyxl loaded them: a small xlsx unpacking to a string of hundreds of megabytes, and a sheet
whose dimension spans a million rows of 16,384 columns, padded row by row.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from integrations.file_errors import MalformedFile
from integrations.spreadsheet import SpreadsheetConnector
from integrations.webnode import table_rows
from reliability.folder_safety import small_workbook, wide_dimension, zip_bomb


@pytest.mark.parametrize(("build", "why"), [(zip_bomb, "unpacks to"), (wide_dimension, "cells")])
def test_a_workbook_too_large_unpacked_is_refused_quickly(tmp_path: Path, build: object, why: str) -> None:
    assert callable(build)
    path = tmp_path / "tilbud.xlsx"
    path.write_bytes(build())
    assert path.stat().st_size < 2 * 2**20, "the attack is a small file"
    for read in (lambda: list(SpreadsheetConnector(path).records({}, "date")), lambda: list(table_rows(path))):
        started = time.monotonic()
        with pytest.raises(MalformedFile, match=why) as refused:
            read()
        assert time.monotonic() - started < 2.0
        assert "\n" not in str(refused.value) and "decoy" not in str(refused.value).lower()


def test_an_ordinary_workbook_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    path.write_bytes(small_workbook())
    assert [values[0] for _, values in table_rows(path)] == ["Dato", "01.02.2020"]
