"""How every command speaks: Rich tables for people, one JSON document with --json, one line per error."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from hygiene.errors import HygieneError

console = Console()
errors = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout.")

P = ParamSpec("P")
R = TypeVar("R")


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(document: Any) -> None:
    typer.echo(json.dumps(document, default=_default, ensure_ascii=False, indent=2))


def one_line(text: str, style: str = "") -> Text:
    """A cell that keeps to one line and ends in an ellipsis when the terminal is too narrow for it.

    A table in an 80-column terminal would otherwise wrap a long quote one word per line; the full text is
    always in the command's `--json` document.
    """
    return Text(" ".join(text.split()), style=style, no_wrap=True, overflow="ellipsis")


def fail(message: str) -> typer.Exit:
    errors.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn every error a user can act on into its one line and exit code 1, never a traceback."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except HygieneError as exc:
            for line in str(exc).splitlines() or [exc.__class__.__name__]:
                errors.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(code=1) from None

    return wrapper
