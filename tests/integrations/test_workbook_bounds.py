"""Workbooks that would exhaust memory or time (issue 14, item 7): refused from the zip's directory, quickly.

On the old code openpyxl loaded them: a small xlsx unpacking to a string of hundreds of megabytes, and a sheet
whose dimension spans a million rows of 16,384 columns, padded row by row.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from integrations.file_errors import MalformedFile
from integrations.spreadsheet import MAX_UNPACKED_BYTES, SpreadsheetConnector
from integrations.webnode import table_rows


def small_workbook() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Tilbud"
    sheet.append(["Dato", "Kunde", "E-post"])
    sheet.append(["01.02.2020", "Decoy", "decoy@example.no"])
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def rewritten(data: bytes, replace: dict[str, bytes], huge: tuple[str, int] | None = None) -> bytes:
    """The package with some parts replaced, and the shared strings one string of `huge` letters (compressed)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for part in source.infolist():
            if huge is None or part.filename != huge[0]:
                target.writestr(part.filename, replace.get(part.filename) or source.read(part))
        if huge is not None:
            with target.open(huge[0], "w", force_zip64=True) as stream:
                stream.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
                for _ in range(huge[1] // 2**20):
                    stream.write(b"A" * 2**20)
                stream.write(b"</t></si></sst>")
    return out.getvalue()


def zip_bomb() -> bytes:
    return rewritten(small_workbook(), {}, ("xl/sharedStrings.xml", MAX_UNPACKED_BYTES + 2**20))


def wide_dimension() -> bytes:
    data = small_workbook()
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        sheet = package.read("xl/worksheets/sheet1.xml")
    sheet = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:XFD1048576"', sheet)
    sheet = sheet.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>')
    return rewritten(data, {"xl/worksheets/sheet1.xml": sheet})


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
