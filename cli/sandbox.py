"""`hygiene sandbox serve` and `hygiene sandbox seed`: the vendor emulators on one port, and their tenants.

Contract: the Mailchimp SDK's host is `http://127.0.0.1:P/mailchimp/3.0`, the HubSpot SDK's host is
`http://127.0.0.1:P/hubspot`, the Gmail endpoint is `http://127.0.0.1:P/gmail/`; `GET /_sandbox/info` gives those
and the credentials the sandbox accepts, `GET /_sandbox/stats` the calls per vendor and endpoint.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import httpx
import typer

from cli.output import JsonOption, console, emit_json, user_errors
from hygiene.errors import HygieneError

sandbox_app = typer.Typer(help="The local emulators of Mailchimp, HubSpot and Gmail.", no_args_is_help=True)


def ensure_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise HygieneError(f"port {port} on {host} is already taken; choose another with --port") from None


@sandbox_app.command("serve")
@user_errors
def serve(
    port: int = typer.Option(8765, "--port", min=1, max=65535), host: str = typer.Option("127.0.0.1", "--host")
) -> None:
    """Serve every emulator on one port until interrupted."""
    import uvicorn

    from sandbox.server import create_app

    ensure_free(host, port)
    console.print(f"sandbox on http://{host}:{port} (info: /_sandbox/info, stats: /_sandbox/stats)")
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", access_log=False)


def sandbox_info(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(f"{url.rstrip('/')}/_sandbox/info", timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise HygieneError(
            f"no sandbox answers at {url} ({exc.__class__.__name__}); start one with `hygiene sandbox serve`"
        ) from None
    info: dict[str, Any] = response.json()
    return info


@sandbox_app.command("seed")
@user_errors
def seed(
    url: str = typer.Option("http://127.0.0.1:8765", "--url", help="A running sandbox."),
    members: int = typer.Option(40, "--members", min=0, help="Mailchimp members per audience."),
    contacts: int = typer.Option(40, "--contacts", min=0, help="HubSpot contacts per tenant."),
    customers: int = typer.Option(20, "--customers", min=0, help="Stressfri's Gmail customers."),
    rng_seed: int = typer.Option(2026, "--seed"),
    json: bool = JsonOption,
) -> None:
    """Seed the controllers' synthetic tenants through the official SDKs, dated around the sandbox clock."""
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    from sandbox.seed import HttpClock, hubspot_client, mailchimp_client, seed_hubspot, seed_mailchimp
    from sandbox.seed_gmail import default_customers, seed_stressfri_mailbox

    info = sandbox_info(url)
    now = datetime.fromisoformat(info["clock"]).astimezone(UTC)
    clock = HttpClock(url)
    mailchimp = seed_mailchimp(
        mailchimp_client(info["mailchimp"]["host"], info["mailchimp"]["api_key"]),
        clock,
        n=members,
        clock_now=now,
        rng_seed=rng_seed,
    )
    hubspot = seed_hubspot(
        hubspot_client(info["hubspot"]["host"], info["hubspot"]["access_token"]),
        clock,
        n=contacts,
        clock_now=now,
        rng_seed=rng_seed,
    )
    gmail = build(
        "gmail",
        "v1",
        client_options={"api_endpoint": info["gmail"]["api_endpoint"]},
        credentials=Credentials(token=info["gmail"]["access_token"]),  # type: ignore[no-untyped-call]
        static_discovery=True,
    )
    mailbox = seed_stressfri_mailbox(gmail, now, default_customers(customers, now=now, rng_seed=rng_seed), rng_seed)
    document = {
        "clock": now.isoformat(),
        "mailchimp": {"audiences": mailchimp.audiences, "members": len(mailchimp.members)},
        "hubspot": {"contacts": len(hubspot.contacts)},
        "gmail": {"customers": len(mailbox.customer_label_ids), "messages": len(mailbox.internal_dates)},
    }
    if json:
        emit_json(document)
    else:
        console.print(f"seeded: {document}", markup=False)
