"""`hygiene folder adopt`: the owner's confirmation, once per folder, that hygiene may delete files in it."""

from __future__ import annotations

import typer

from cli.output import JsonOption, console, emit_json, user_errors
from hygiene.errors import HygieneError
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.policy import SystemKind
from hygiene.roots import MARKER, adopt

folder_app = typer.Typer(help="Folders hygiene manages (Calmo's drive).", no_args_is_help=True)


@folder_app.command("adopt")
@user_errors
def adopt_command(
    path: str = typer.Argument(..., help="The folder's absolute path, as its root setting names it."),
    controller: str = typer.Option(..., "--controller"),
    system: str = typer.Option(..., "--system", help="The policy's folder system the folder holds."),
    json: bool = JsonOption,
) -> None:
    """Write PATH/.hygiene-root naming CONTROLLER and SYSTEM: without it, no run lists or deletes a file there.

    Refused for a relative path, the file system root, the home folder, the working directory, system folders
    and this project's checkout, whatever the marker would say.
    """
    policy = load_policy(policies_dir(), controller)
    spec = policy.systems.get(system)
    if spec is None or spec.kind is not SystemKind.FOLDER:
        folders = ", ".join(name for name, s in policy.systems.items() if s.kind is SystemKind.FOLDER) or "none"
        raise HygieneError(
            f"{controller}: '{system}' is not a folder system of the policy: folder systems are {folders}"
        )
    marker = adopt(path, controller=policy.controller, system=system)
    if json:
        emit_json({"root": path, "controller": policy.controller, "system": system, "marker": str(marker)})
    else:
        console.print(f"{path} is managed for {policy.controller}/{system} ({MARKER} written)", markup=False)
