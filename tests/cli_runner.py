"""Runs the real `hygiene` entry point in-process and captures what a user would see."""

import json
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, columns: int = 200
) -> Result:
    monkeypatch.setattr(sys, "argv", ["hygiene", *args])
    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return Result(code=code if isinstance(code, int) else 1, out=captured.out, err=captured.err)
