"""Stressfri's quarterly cleanup at scale: our Gmail connector against a naive loop, through the same SDK.

    python -m bench.bench_gmail [--messages 100000] [--due-share 0.2] [--per-customer 160] [--naive-scale 0.1]

The mailbox has customer folders (`Kunder/<name>`, `--per-customer` mails each, spread over Inbox, Sent and
Trash) and unrelated mail; `--due-share` of all mail belongs to ended customers. Both sides list the ended
customers' labels the same way; then ours sends batchDelete (1000 ids, 50 units) and proves absence by relisting
the labels, while the naive loop calls messages.delete (10 units) per mail. Both pace to the quota the emulator
enforces and back off on 429, so the difference is the call pattern alone. Calls and units come from the
emulator's stats. The quota bound is the least time the sliding minute allows: 60 s x (ceil(units/quota) - 1).

Runs: (1) ours on the full mailbox at Gmail's quota (15,000 units a minute); (2) ours on a fresh full mailbox
with the quota scaled down so the run is quota-bound, to check pacing against the bound; (3) ours and the naive
loop on a mailbox scaled by `--naive-scale` at Gmail's quota, because the naive loop needs ~13 minutes per
20,000 due mails at that quota (its time is units/quota whatever the scale, so calls and units are compared
like for like and the naive wall time is measured, not extrapolated).

Seeding goes straight into the emulator's in-memory store (`Mailbox._messages`), bench-only: 100,000 inserts
through the API cost 2.5 million quota units and Mailbox.insert rescans every thread per insert.
"""

from __future__ import annotations

import argparse
import math
import socket
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from functools import partial
from typing import Any

import uvicorn
from googleapiclient.http import build_http
from pydantic import SecretStr

from integrations.gmail import EndedCustomer, GmailConnector, gmail_service
from integrations.pacing import Backoff, Throttle
from sandbox import credentials
from sandbox.gmail import GmailEmulator, create_gmail_app
from sandbox.gmail_store import _ID_BASE, StoredMessage
from sandbox.seed_gmail import OSLO
from sandbox.state import SandboxState

GOOGLE_QUOTA = 15_000
ENDED_AT = datetime(2026, 1, 15, tzinfo=OSLO)
FOLDERS = ("INBOX", "SENT", "TRASH")


@dataclass
class Served:
    endpoint: str
    gmail: GmailEmulator
    state: SandboxState

    def stats(self) -> dict[str, int]:
        return dict(self.state.stats.snapshot().get("gmail", {}))


@contextmanager
def serve(quota: int) -> Iterator[Served]:
    """The Gmail emulator alone on loopback, with a handle on its store for in-process seeding."""
    state = SandboxState()
    app = create_gmail_app(state, quota_units_per_minute=quota)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}/", app.state.gmail, state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Register:
    def __init__(self, entries: list[EndedCustomer]) -> None:
        self.entries = entries

    def ended_customers(self, folders: Collection[str]) -> list[EndedCustomer]:
        return self.entries


def seed(served: Served, messages: int, due_share: float, per_customer: int) -> tuple[Register, int]:
    """Customer folders and unrelated mail straight into the store; answers the register and the due count."""
    mailbox = served.gmail.mailbox
    raw = _raw()
    customers = max(1, round(messages * 0.8 / per_customer))
    ended = max(1, round(messages * due_share / per_customer))
    entries, serial, due = [], 0, 0
    for number in range(customers):
        label = mailbox.create_label(f"Kunder/Kunde {number:05d}")
        if number < ended:
            entries.append(EndedCustomer(f"Kunde {number:05d}", f"kunde{number}@example.no", ENDED_AT))
            due += per_customer
        for n in range(per_customer):
            serial = _put(mailbox, serial, raw, {FOLDERS[n % 3], label.id})
    while serial < messages:
        serial = _put(mailbox, serial, raw, {"INBOX"})
    mailbox._next_message = serial + 1
    served.state.stats.reset()
    return Register(entries), due


def _raw() -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "kunde@example.no", "stressfri@example.com", "Timebestilling"
    mail.set_content("Hei, takk for sist.")
    return mail.as_bytes()


def _put(mailbox: Any, serial: int, raw: bytes, labels: set[str]) -> int:
    serial += 1
    message_id = f"{_ID_BASE + serial:016x}"
    mailbox._messages[message_id] = StoredMessage(message_id, message_id, raw, 1_700_000_000_000 + serial, 1, labels)
    return serial


def ours(served: Served, register: Register, quota: int) -> None:
    service = gmail_service(served.endpoint, SecretStr(credentials.GMAIL_ACCESS_TOKEN))
    gmail = GmailConnector(service, register=register, tz=OSLO, units_per_minute=quota)
    ids = [r.record_id for r in gmail.records({"label_prefix": "Kunder/"}, "customer_relationship_ended_at")]
    for start in range(0, len(ids), gmail.capabilities.batch_size):
        batch = ids[start : start + gmail.capabilities.batch_size]
        gmail.delete(batch)
        assert all(proof.absent for proof in gmail.verify_absent(batch))


def naive(served: Served, register: Register, quota: int) -> None:
    """List each ended customer's label, then messages.delete per mail, paced and retried like ours."""
    service = gmail_service(served.endpoint, SecretStr(credentials.GMAIL_ACCESS_TOKEN))
    messages, throttle, backoff = service.users().messages(), Throttle(quota, 60.5), Backoff(attempts=10)
    labels = {label.name: label.id for label in served.gmail.mailbox.labels()}

    def call(request: Any, units: int) -> Any:
        for _ in range(units):
            throttle.wait()
        try:
            return request.execute()
        except OSError:
            request.http.http = build_http()
            raise

    ids: list[str] = []
    for entry in register.entries:
        token = None
        while True:
            request = messages.list(
                userId="me",
                labelIds=[labels["Kunder/" + entry.label_name]],
                includeSpamTrash=True,
                maxResults=500,
                pageToken=token,
            )
            page = backoff.run(partial(call, request, 5), _is_rate)
            ids += [m["id"] for m in page.get("messages", [])]
            token = page.get("nextPageToken")
            if not token:
                break
    for message_id in ids:
        request = messages.delete(userId="me", id=message_id)
        backoff.run(partial(call, request, 10), _is_rate)


def _is_rate(error: BaseException) -> bool:
    """429, or a keep-alive connection the server closed during a quota wait (the naive loop waits too)."""
    return isinstance(error, OSError) or getattr(getattr(error, "resp", None), "status", 0) == 429


def measure(name: str, run: Any, messages: int, due_share: float, per_customer: int, quota: int) -> dict[str, Any]:
    with serve(quota) as served:
        register, due = seed(served, messages, due_share, per_customer)
        started = time.monotonic()
        run(served, register, quota)
        wall = time.monotonic() - started
        stats = served.stats()
        remaining = len(served.gmail.mailbox._messages)
    units = stats.pop("quota_units", 0)
    calls = sum(stats.values())
    bound = 60.0 * max(math.ceil(units / quota) - 1, 0)
    assert remaining == messages - due, f"{name}: {remaining} left, expected {messages - due}"
    print(
        f"{name:<34} mailbox {messages:>7} due {due:>6} quota {quota:>6}/min: calls {calls:>6}, units {units:>7}, "
        f"wall {wall:7.1f} s, quota bound {bound:6.1f} s" + (f" ({wall / bound:.2f}x)" if bound else "")
    )
    return {"calls": calls, "units": units, "wall": wall, "bound": bound}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--due-share", type=float, default=0.2)
    parser.add_argument("--per-customer", type=int, default=160)
    parser.add_argument("--naive-scale", type=float, default=0.1)
    args = parser.parse_args()
    shape = (args.due_share, args.per_customer)
    full = measure("ours, Gmail's quota", ours, args.messages, *shape, GOOGLE_QUOTA)
    scaled_quota = max(100, math.ceil(full["units"] / 2.5))
    paced = measure("ours, quota scaled to be the bound", ours, args.messages, *shape, scaled_quota)
    small = round(args.messages * args.naive_scale)
    ours_small = measure("ours, scaled mailbox", ours, small, *shape, GOOGLE_QUOTA)
    naive_small = measure("naive, scaled mailbox", naive, small, *shape, GOOGLE_QUOTA)
    print(
        f"naive/ours on the scaled mailbox: {naive_small['calls'] / ours_small['calls']:.0f}x calls, "
        f"{naive_small['units'] / ours_small['units']:.0f}x quota units; "
        f"quota-bound run at {paced['wall'] / paced['bound']:.2f}x its bound"
    )


if __name__ == "__main__":
    main()
