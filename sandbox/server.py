"""One ASGI app that serves every emulator on one port, plus the sandbox's own control endpoints.

Contract (relied on outside the tests): the Mailchimp SDK's host is `<base>/mailchimp/3.0`, the HubSpot SDK's
host is `<base>/hubspot`, the Gmail discovery endpoint is `<base>/gmail/`; `GET /_sandbox/info` and
`GET /_sandbox/stats` describe the sandbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sandbox import credentials
from sandbox.gmail import create_gmail_app
from sandbox.hubspot import create_hubspot_app
from sandbox.mailchimp import create_mailchimp_app
from sandbox.state import Fault, SandboxState


def create_app(state: SandboxState | None = None) -> FastAPI:
    state = state or SandboxState()
    app = FastAPI(title="hygiene sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state

    @app.get("/_sandbox/info")
    def info(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "mailchimp": {"host": f"{base}/mailchimp/3.0", "api_key": credentials.MAILCHIMP_API_KEY},
            "hubspot": {"host": f"{base}/hubspot", "access_token": credentials.HUBSPOT_ACCESS_TOKEN},
            "gmail": {
                "api_endpoint": f"{base}/gmail/",
                "access_token": credentials.GMAIL_ACCESS_TOKEN,
                "readonly_access_token": credentials.GMAIL_READONLY_ACCESS_TOKEN,
            },
            "clock": state.clock.now().isoformat(),
        }

    @app.get("/_sandbox/stats")
    def stats() -> dict[str, dict[str, int]]:
        return state.stats.snapshot()

    @app.delete("/_sandbox/stats")
    def reset_stats() -> dict[str, str]:
        state.stats.reset()
        return {"status": "reset"}

    @app.get("/_sandbox/clock")
    def get_clock() -> dict[str, str]:
        return {"now": state.clock.now().isoformat()}

    @app.post("/_sandbox/clock")
    async def set_clock(request: Request) -> JSONResponse:
        body = await request.json()
        try:
            if "now" in body:
                state.clock.set(datetime.fromisoformat(body["now"]))
            if "advance_seconds" in body:
                state.clock.advance(timedelta(seconds=float(body["advance_seconds"])))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"now": state.clock.now().isoformat()})

    @app.post("/_sandbox/faults/{vendor}")
    async def stage_fault(vendor: str, request: Request) -> dict[str, str]:
        body = await request.json()
        state.faults.stage(
            vendor,
            Fault(
                status=int(body.get("status", 0)),
                remaining=int(body.get("count", 1)),
                delay_seconds=float(body.get("delay_seconds", 0.0)),
                path_contains=str(body.get("path_contains", "")),
                drop=bool(body.get("drop", False)),
            ),
        )
        return {"status": "staged"}

    @app.delete("/_sandbox/faults")
    def clear_faults() -> dict[str, str]:
        state.faults.clear()
        return {"status": "cleared"}

    app.mount("/mailchimp/3.0", create_mailchimp_app(state))
    app.mount("/hubspot", create_hubspot_app(state))
    app.mount("/gmail", create_gmail_app(state))
    return app
