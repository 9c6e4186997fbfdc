"""`hygiene deploy` and `hygiene serve`: the policies' schedules as Prefect deployments, and the UI to watch them.

`deploy` serves the deployments from this process against the server `PREFECT_API_URL` names, or writes
`prefect.yaml` for work pools and workers. `serve` (what `make ui` runs) also keeps a Prefect server running, on
SQLite under `.demo/prefect` unless `PREFECT_API_URL` names one, and prints the UI's address.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import typer
from rich.table import Table

from cli.output import console, user_errors
from deployments.generate import WORK_POOL, DeploymentSpec, prefect_yaml, specs_from
from deployments.server import (
    api_url,
    auth_string,
    client_of,
    configured_api_url,
    require_free_port,
    require_reachable,
    start_server,
    stop_server,
)
from hygiene.errors import HygieneError
from hygiene.locations import policies_dir

SERVER_HOME = Path(".demo") / "prefect"


@user_errors
def deploy(
    write: str | None = typer.Option(None, "--write", help="Write prefect.yaml here instead of serving."),
) -> None:
    """Serve one deployment per scheduled rule from this process, or write them to prefect.yaml."""
    specs = specs_from(policies_dir())
    if write is not None:
        Path(write).write_text(prefect_yaml(specs), encoding="utf-8")
        console.print(f"wrote {len(specs)} deployments to {write} (work pool '{WORK_POOL}', type process)")
        return
    url = configured_api_url()
    if url is None:
        raise HygieneError("PREFECT_API_URL is not set: start a server with `make ui`, or point it at yours")
    require_reachable(url)
    serve_until_interrupted(specs)


@user_errors
def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address the UI listens on; another than 127.0.0.1 exposes it to that network."
    ),
    port: int = typer.Option(4200, "--port", min=1, max=65535, help="Port of the UI and its API."),
    playground: bool = typer.Option(
        False, "--playground", help="Start the playground's world first (as `hygiene playground`) and serve on it."
    ),
) -> None:
    """Keep a Prefect server with its UI and the deployments running; print the UI's address."""
    specs = specs_from(policies_dir())
    with ExitStack() as stack:
        if playground:
            from cli.playground import playground_env

            console.print("starting the playground's world (sandbox, files, demo-only keys)…")
            stack.enter_context(playground_env())
        url = configured_api_url()
        if url is not None:
            require_reachable(url)
        else:
            console.print(f"starting the Prefect server (SQLite under {SERVER_HOME}/)…")
            require_free_port(host, port)  # before the auth string is made: a taken port leaves nothing behind
            auth, kept_in = auth_string(SERVER_HOME)
            process = start_server(SERVER_HOME, host, port, auth)
            stack.callback(stop_server, process)
            url = api_url(host, port)
            stack.enter_context(client_of(url, auth))
            console.print(f"the UI and the API ask for the auth string in {kept_in}")
        console.print(f"[bold]Prefect UI: {url.removesuffix('/api')}[/bold]  (API {url}; Ctrl-C stops)")
        serve_until_interrupted(specs)


def serve_until_interrupted(specs: list[DeploymentSpec]) -> None:
    from deployments.serve import ready, serve_deployments  # Prefect loads only for commands that serve

    specs, refused = ready(specs, policies_dir())
    for line in refused:
        console.print(f"[yellow]{line}[/yellow]", soft_wrap=True)
    if not specs:
        raise HygieneError("no deployment has what its runs need from the environment (see above): nothing to serve")
    console.print(deployments_table(specs))
    try:
        serve_deployments(specs)
    except KeyboardInterrupt:
        console.print("stopped")


def deployments_table(specs: list[DeploymentSpec]) -> Table:
    table = Table(title=f"{len(specs)} deployments")
    for column in ("deployment", "flow", "schedule", "time zone"):
        table.add_column(column)
    for spec in specs:
        when = spec.schedule.get("cron") or spec.schedule["rrule"].splitlines()[-1]
        table.add_row(spec.name, spec.entrypoint.split(":")[-1], when, spec.schedule["timezone"])
    return table
