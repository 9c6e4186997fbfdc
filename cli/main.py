"""Entry point of the `hygiene` command."""

from __future__ import annotations

import sys

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError

from cli.attest import attest
from cli.breach import breach_app
from cli.demo import demo
from cli.deploy import deploy, serve
from cli.evidence import hold_app, ledger_app
from cli.folders import folder_app
from cli.keys import key_app
from cli.output import errors
from cli.playground import playground
from cli.policies import deadline_command, policies_app, schedule_command
from cli.preflight import preflight
from cli.report import report
from cli.requests import list_requests, request_app
from cli.runs import run
from cli.sandbox import sandbox_app
from cli.signals import end_like_ctrl_c, exit_code
from cli.status import status

app = typer.Typer(
    help="Keep the retention and deletion promises of privacy policies, with evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(policies_app, name="policies")
app.command("deadline")(deadline_command)
app.command("schedule")(schedule_command)
app.command("demo")(demo)
app.command("playground")(playground)
app.command("run")(run)
app.command("attest")(attest)
app.add_typer(request_app, name="request")
app.command("requests")(list_requests)
app.command("status")(status)
app.add_typer(breach_app, name="breach")
app.command("deploy")(deploy)
app.command("serve")(serve)
app.command("preflight")(preflight)
app.command("report")(report)
app.add_typer(ledger_app, name="ledger")
app.add_typer(hold_app, name="hold")
app.add_typer(folder_app, name="folder")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(key_app, name="key")


def main() -> None:
    """Run the CLI; a usage error is one line and exit code 1, like every other bad input."""
    end_like_ctrl_c()
    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(0)
    except ClickException as exc:
        errors.print(f"error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except typer.Abort:
        sys.exit(130)
    sys.exit(exit_code(code) if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
