"""Human approval in the Prefect UI when a run would delete an unusual share of what it saw."""

from __future__ import annotations

from datetime import timedelta

from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput

from hygiene.enforcement import RunContext
from hygiene.ledger import EntryKind, Ledger

#: how long a paused run waits for a person before it stops without deleting
APPROVAL_TIMEOUT = timedelta(hours=24)
#: how often the paused run asks the server for an answer
POLL_SECONDS = 2


class Approval(RunInput):
    """The form shown in the UI; `role` is a function ("DPO", "owner"), not a person's name."""

    approve: bool = False
    role: str = "data protection officer"
    note: str = ""


def ask_for_approval(ctx: RunContext, ledger: Ledger, message: str) -> bool:
    answer = pause_flow_run(
        wait_for_input=Approval.with_initial_data(description=f"**Approval needed.** {message}. Approve?"),
        timeout=int(APPROVAL_TIMEOUT.total_seconds()),
        poll_interval=POLL_SECONDS,
    )
    ledger.append(
        [
            ctx.draft(
                EntryKind.ATTESTATION,
                {
                    "question": "safety limit",
                    "approved": answer.approve,
                    "role": answer.role[:80],
                },
            )
        ]
    )
    return bool(answer.approve)
