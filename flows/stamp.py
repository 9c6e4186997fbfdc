"""The daily label scan of a rule that counts from when mail was labelled (Stressfri S8).

Gmail keeps no date for a label change, so S8's clock ("mailer som ikke lenger har relevans ... slettes") starts
the day a scan first lists a mail under the label "Ikke relevant". The quarterly run alone would see each mail
for the first time on the day it deletes it, and a missed deadline could never show in the evidence; this scan,
deployed daily beside the rule (its `label_scan`), records the first day each mail is listed, so the date the
evidence counts from is at most a day after the label was applied. It lists ids only (labels.list and the
label's messages.list pages): no message is read, nothing is deleted.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from hygiene.connector import ConnectorError
from hygiene.locations import policies_dir
from hygiene.policies import rule_for_flow
from hygiene.policy import Action
from integrations.gmail import GmailConnector
from integrations.registry import connector_for


@flow(name="scan-labels", persist_result=False, log_prints=False)
def scan_labels(controller: str, rule_ref: str, dry_run: bool = False) -> list[dict[str, Any]]:
    """Date the mail under the rule's label on each mailbox it covers; parameters are names only.

    The scan deletes nothing and records only the day each mail was first seen, so a dry run (`dry_run`, as
    `hygiene preflight` starts every deployment) is the same scan.
    """
    policy, rule = rule_for_flow(policies_dir(), controller, rule_ref, {Action.DELETE}, "scan-labels")
    label = rule.covers.selection.get("label")
    if label is None or rule.label_scan is None:
        raise ConnectorError(f"{controller}: rule {rule.ref} names no label_scan and label to scan")
    results = []
    for system in rule.covers.systems:
        mailbox = connector_for(policy, system)
        if not isinstance(mailbox, GmailConnector):
            raise ConnectorError(f"{controller}: rule {rule.ref}: system {system} has no labels to scan")
        listed, new = mailbox.stamp_label(label)
        get_run_logger().info(
            "%s %s on %s: %d mails under the label, %d seen there for the first time today",
            controller,
            rule.ref,
            system,
            listed,
            new,
        )
        results.append({"controller": controller, "rule": rule.ref, "system": system, "listed": listed, "new": new})
    return results
