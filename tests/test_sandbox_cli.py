"""The sandbox's contract as other tools use it: `hygiene sandbox serve --port P`, its info, stats and seeding."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from sandbox.runner import free_port
from tests.cli_runner import run_cli


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "sandbox", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/_sandbox/info", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_info_gives_each_vendors_base_url_and_credentials(served: str) -> None:
    info = httpx.get(f"{served}/_sandbox/info").json()
    assert info["mailchimp"]["host"] == f"{served}/mailchimp/3.0"
    assert info["hubspot"]["host"] == f"{served}/hubspot"
    assert info["gmail"]["api_endpoint"] == f"{served}/gmail/"
    assert info["mailchimp"]["api_key"] and info["hubspot"]["access_token"] and info["gmail"]["access_token"]


def test_seeding_goes_through_the_vendor_apis_and_shows_in_the_stats(
    served: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli(
        capsys,
        monkeypatch,
        "sandbox",
        "seed",
        "--url",
        served,
        "--members",
        "4",
        "--contacts",
        "4",
        "--customers",
        "2",
        "--json",
    )
    assert result.code == 0, result.err
    seeded = result.json()
    assert seeded["mailchimp"]["members"] == 12 and seeded["hubspot"]["contacts"] == 12
    stats = httpx.get(f"{served}/_sandbox/stats").json()
    assert stats["mailchimp"]["POST /lists/{list_id}/members"] == 12
    assert stats["hubspot"]["POST /crm/v3/objects/contacts"] == 12
    assert stats["gmail"]["quota_units"] > 0


def test_a_taken_port_is_one_line(
    served: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = served.rsplit(":", 1)[1]
    result = run_cli(capsys, monkeypatch, "sandbox", "serve", "--port", port)
    assert result.code == 1 and f"port {port} on 127.0.0.1 is already taken" in result.err


def test_seeding_without_a_sandbox_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = run_cli(capsys, monkeypatch, "sandbox", "seed", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.code == 1 and "no sandbox answers" in result.err
