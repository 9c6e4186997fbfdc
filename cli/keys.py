"""`hygiene key new`: a key strong enough for a controller's pseudonyms or the ledger's chain."""

from __future__ import annotations

import typer

from hygiene.keys import new_key

key_app = typer.Typer(help="Secret keys for pseudonyms and the evidence chain.", no_args_is_help=True)


@key_app.command("new")
def key_new() -> None:
    """Print a fresh key of 32 random bytes: set it as HYGIENE_KEY_<CONTROLLER> or HYGIENE_LEDGER_KEY, keep it
    secret, and never lose it (without it the evidence can neither be linked to a person nor verified)."""
    typer.echo(new_key())
