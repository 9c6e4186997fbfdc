"""The flow of a detect-and-flag rule: find what a promise says is not kept, flag it, show no value.

Balance B1 (nothing but names and email in the newsletter list), Clienti C7 (CPR numbers in CRM notes and in
mail) and Balansekonomi E3 (personnummer in CRM notes). Each finding is a FINDING ledger entry naming the
record by pseudonym and the field by name, and a row of a Prefect table artifact by masked pseudonym; the value
found never leaves the process, not even into the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.artifacts import publish_ledger_head
from hygiene.connector import Connector, Record
from hygiene.detection import DefinesFields, Detector, detector_for, scan
from hygiene.enforcement import RunContext, record_findings
from hygiene.ledger import EntryKind, Ledger
from hygiene.locations import policies_dir
from hygiene.policies import rule_for_flow
from hygiene.policy import Action
from hygiene.pseudonym import mask
from hygiene.settings import Settings
from integrations.registry import connector_for
from tasks.enforcement import start_run

#: rows of the findings table shown in the UI; the ledger has every one
FINDING_ROWS = 500


@flow(name="detect-rule", persist_result=False, log_prints=False)
def detect_rule(controller: str, rule_ref: str, dry_run: bool = False) -> list[dict[str, Any]]:
    """Run one rule's detector on every system it covers; parameters are names only.

    Detection deletes nothing either way; a dry run's findings are recorded under a run marked as a dry run, so
    the evidence report does not count it as one of the rule's runs.
    """
    policy, rule = rule_for_flow(policies_dir(), controller, rule_ref, {Action.DETECT_AND_FLAG}, "detect-rule")
    detector = detector_for(rule.ref, rule.covers.selection)
    settings = Settings()
    ledger = Ledger.from_settings(settings)
    results = []
    for system in rule.covers.systems:
        ctx = RunContext(
            policy=policy,
            rule=rule,
            system=system,
            as_of=datetime.now().astimezone(policy.zone),
            dry_run=dry_run,
            key=settings.key_for(controller),
        )
        start_run(ctx, ledger)
        scanned, rows = detect_on_system(ctx, connector_for(policy, system), detector, ledger)
        ledger.append([ctx.draft(EntryKind.RUN_FINISHED, {"scanned": scanned, "findings": len(rows)})])
        get_run_logger().info(
            "%s %s on %s: %d records scanned, %d findings", controller, rule.ref, system, scanned, len(rows)
        )
        create_table_artifact(
            key=f"{controller}-{rule.ref.lower()}-{system}-findings".replace("_", "-"),
            table=rows[:FINDING_ROWS] or [{"record": "-", "finding": "none", "field": "-"}],
            description=f"{controller} {rule.ref} on {system}: findings by masked pseudonym",
        )
        results.append(
            {
                "controller": controller,
                "rule": rule.ref,
                "system": system,
                "run_id": ctx.run_id,
                "scanned": scanned,
                "findings": len(rows),
            }
        )
    publish_ledger_head(ledger)
    return results


@task(name="scan and flag", persist_result=False, cache_policy=NO_CACHE)
def detect_on_system(
    ctx: RunContext, connector: Connector, detector: Detector, ledger: Ledger
) -> tuple[int, list[dict[str, str]]]:
    """Stream the system once through the detector; also flag list-level fields where the system has them."""
    counter = _Counting(connector.records(detector.selection_for(ctx.policy.systems[ctx.system].kind.value), ""))
    findings = list(scan(iter(counter), detector))
    record_findings(ctx, ledger, findings)
    rows = [
        {
            "record": mask(ctx.record_pseudonym(record)),
            "finding": str(finding["finding"]),
            "field": str(finding["field"]),
        }
        for record, finding in findings
    ]
    extra = detector.disallowed(connector.merge_field_tags()) if isinstance(connector, DefinesFields) else []
    if extra:
        ledger.append([ctx.draft(EntryKind.FINDING, {"finding": "list_defines_field", "fields": extra})])
        rows += [{"record": "(the list)", "finding": "list_defines_field", "field": tag} for tag in extra]
    return counter.count, rows


class _Counting:
    """Counts the records that pass, so the run can say how many it scanned without holding them."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.records = records
        self.count = 0

    def __iter__(self) -> Iterator[Record]:
        for record in self.records:
            self.count += 1
            yield record
