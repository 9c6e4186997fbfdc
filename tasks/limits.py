"""A vendor account's rate limit held across every worker, by Prefect global concurrency limits.

A connector's throttles pace its own process; two workers calling the same HubSpot account would each allow
the full 100 calls per 10 s and draw 429s together. So while the enforcement path calls a vendor whose
connector states a rate limit, each throttled call also takes a slot of a Prefect rate limit named after the
system kind, the account and the throttle's rate: `hubspot-clienti-100-per-10s` (and the search throttle's
`hubspot-clienti-5-per-1s`). The account is the system's option `account` (or `account_env`), else the
controller: two controllers sharing one vendor account name the same account.

A limit missing on the server is created on first use, sized so that no rolling window of the throttle's
length can hold more than the vendor allows (see `bucket`); `prefect gcl update` changes it afterwards.
Only with a configured server (PREFECT_API_URL): the temporary local server serves one process, and there
the throttles alone hold the limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache, partial

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import rate_limit
from prefect.exceptions import ObjectAlreadyExists
from prefect.settings import PREFECT_API_URL

from hygiene.connector import Connector
from hygiene.policy import Policy
from integrations.pacing import Throttle, shared_pacer
from integrations.registry import option

#: share of the vendor's limit the refill may use; the rest covers the time between Prefect's admission and
#: the vendor's clock
REFILL_SHARE = 0.9


def account_of(policy: Policy, system: str) -> str:
    """The vendor account a system's calls count against."""
    return option(policy, system, "account") or policy.controller


def limit_name(kind: str, account: str, calls: int, per_seconds: float) -> str:
    return f"{kind}-{account}-{calls}-per-{per_seconds:g}s"


def bucket(calls: int, per_seconds: float) -> tuple[int, float]:
    """Slots and refill per second of a Prefect rate limit that keeps `calls` per rolling `per_seconds`.

    Prefect's rate limit is a token bucket: a full bucket can be spent at once and is refilled as it decays,
    so a window may see the bucket plus a window's refill. A tenth of the limit as bucket, and 90 % of the
    remainder as refill, keeps any window under the vendor's count.
    """
    slots = max(1, calls // 10)
    return slots, REFILL_SHARE * max(calls - slots, 1) / per_seconds


@cache
def ensure_rate_limit(name: str, calls: int, per_seconds: float) -> None:
    """Create the limit unless it exists (made by an operator, or by another worker a moment ago)."""
    slots, decay = bucket(calls, per_seconds)
    with get_client(sync_client=True) as client, suppress(ObjectAlreadyExists):
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=slots, slot_decay_per_second=decay)
        )


def take_turn(kind: str, account: str, throttle: Throttle) -> None:
    """Wait for the account's shared limit before one call the throttle has let through."""
    name = limit_name(kind, account, throttle.calls, throttle.per_seconds)
    ensure_rate_limit(name, throttle.calls, throttle.per_seconds)
    rate_limit(name, strict=True)


@contextmanager
def account_pacing(policy: Policy, system: str, connector: Connector) -> Iterator[None]:
    """Within this block the connector's calls keep the account's limit together with every other worker."""
    if connector.capabilities.rate_limit is None or not PREFECT_API_URL.value():
        yield
        return
    token = shared_pacer.set(partial(take_turn, policy.systems[system].kind.value, account_of(policy, system)))
    try:
        yield
    finally:
        shared_pacer.reset(token)
