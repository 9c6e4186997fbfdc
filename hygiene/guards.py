"""Run parameters that would weaken a deletion guard, refused before anything is read or deleted.

Two parameters decide what a deleting run may delete without a person looking: the moment it plans as of, and
the approval of a run above the rule's safety limit. A plan as of a later moment makes records due that are not
due yet: logbooks inside their one-year minimum, invoices inside the bookkeeping duty. So a run that deletes plans
as of now at the latest (a few minutes of clock skew aside); a later moment is for dry runs, which delete nothing.
An approval given as a parameter skips the pause in which a person approves in the UI (and is recorded): it is
accepted only from a person starting the run on this machine (`hygiene run --approve`), never from a run created
through the Prefect API, whoever created it.

The flows check these themselves, so a run created through the API is refused like one from the command line.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hygiene.errors import HygieneError

#: how far a deleting run's as-of may be ahead of this machine's clock: the skew between two machines' clocks
CLOCK_SKEW = timedelta(minutes=5)


class GuardWeakened(HygieneError):
    """A deleting run was started with a parameter that would delete what is not yet due, or skip an approval."""


def refuse_future_as_of(as_of: datetime | None, now: datetime, *, what: str, dry_run_hint: str) -> None:
    """Refuse a deleting run's as-of later than now (plus clock skew); `what` and the hint name the caller's words."""
    if as_of is not None and as_of > now + CLOCK_SKEW:
        raise GuardWeakened(
            f"{what} {as_of.isoformat()} is later than now: a run that deletes plans as of now at the latest; "
            f"a later {what} is for dry runs only ({dry_run_hint})"
        )


def refuse_weakened_guards(
    *, as_of: datetime | None, now: datetime, dry_run: bool, approved: bool, through_api: bool
) -> None:
    """Refuse the parameters of a flow run that deletes (`dry_run` false) that would weaken its guards."""
    if dry_run:
        return
    refuse_future_as_of(as_of, now, what="as_of", dry_run_hint="dry_run=true")
    if approved and through_api:
        raise GuardWeakened(
            "approved=true is refused for a run created through the Prefect API: a run above the rule's safety "
            "limit pauses for a person's approval in the UI instead"
        )
