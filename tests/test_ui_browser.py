"""The Prefect UI as a person sees it: a run of Calmo K2 with its Markdown report, opened in Debian's Chromium.

Prefect's test harness serves the API without the UI, so this module starts `prefect server start` (the same
way `make ui` does) with a temporary PREFECT_HOME, on the harness's already migrated database. Chromium comes
from apt (`make browser`), never from Playwright's download; the background-networking switches keep it from
calling out of the closed network.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from deployments.server import client_of, start_server, stop_server
from sandbox.seed_files import FolderManifest
from tests.test_enforce_folders import AS_OF, calmo_drive

__all__ = ["calmo_drive"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CI_SCREENSHOT = Path(".ci/artifacts/ui.png")
#: the server requires an auth string, as `make ui`'s does; the browser holds it where the UI's login puts it
AUTH = SecretStr("hygiene:ui-test-only")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is missing: run `make browser`")


@pytest.fixture(scope="module")
def ui_url(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect server with its UI on a free port, on the test server's database (migrated once a session)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PREFECT_API_DATABASE_CONNECTION_URL", prefect_server)
        process = start_server(tmp_path_factory.mktemp("prefect-home"), "127.0.0.1", port, AUTH)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def run_k2_against(ui: str) -> tuple[str, dict[str, object]]:
    """Enforce Calmo K2 once against the UI's server; returns the flow run id and the flow's result."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    from flows.enforce import enforce_rule

    # the server's scheduler also creates the served deployments' future runs: pick the run that just completed
    completed = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED])))
    with client_of(f"{ui}/api", AUTH):
        [result] = enforce_rule("calmo", "K2", as_of=AS_OF, approved=True, pause_for_approval=False)
        with get_client(sync_client=True) as client:
            [newest] = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["enforce-rule"])),
                flow_run_filter=completed,
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
    return str(newest.id), result


def test_the_run_page_shows_the_run_and_its_report_with_the_counts(
    ui_url: str, calmo_drive: FolderManifest, database_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    flow_run_id, result = run_k2_against(ui_url)
    counts = result["counts"]
    assert isinstance(counts, dict) and counts["overdue"] > 0
    screenshot = tmp_path / "ui.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        password = base64.b64encode(AUTH.get_secret_value().encode()).decode()
        browser.add_init_script(f"localStorage.setItem('prefect-password', '{password}')")
        page = browser.new_page()
        page.goto(f"{ui_url}/runs/flow-run/{flow_run_id}", wait_until="domcontentloaded")
        expect(page.get_by_text("Completed").first).to_be_visible(timeout=20_000)
        page.get_by_text("Artifacts", exact=True).first.click()
        card = page.get_by_text("calmo-k2-logbooks", exact=True)
        expect(card).to_be_visible(timeout=20_000)
        expect(page.get_by_text("calmo-evidence-report", exact=True)).to_be_visible()
        page.screenshot(path=str(screenshot))
        card.click()
        expect(page.get_by_role("heading", name="calmo K2 on logbooks")).to_be_visible(timeout=20_000)
        rows = [" ".join(row.inner_text().split()) for row in page.locator("table tr").all()]
        page.screenshot(path=str(tmp_path / "ui-artifact.png"), full_page=True)
        browser.close()
    assert rows[1:] == [f"{decision} {count}" for decision, count in counts.items()]
    if os.environ.get("CI"):
        CI_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot, CI_SCREENSHOT)
