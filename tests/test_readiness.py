"""What a rule needs from the environment: `hygiene serve` refuses a deployment that lacks it, in one line."""

from __future__ import annotations

import json
from pathlib import Path

from deployments.generate import specs_from
from deployments.serve import ready
from hygiene.locations import policies_dir
from hygiene.policies import load_policy
from hygiene.readiness import missing

CALMO = load_policy(policies_dir(), "calmo")
STRESSFRI = load_policy(policies_dir(), "stressfri")


def test_a_folder_rule_needs_its_key_and_an_existing_folder(tmp_path: Path) -> None:
    k2 = CALMO.rule("K2")
    assert k2 is not None
    assert missing(CALMO, k2, {}) == [
        "HYGIENE_KEY_CALMO (calmo's pseudonym key) is not set",
        "HYGIENE_CALMO_LOGBOOKS (system logbooks: root) is not set",
    ]
    gone = {"HYGIENE_KEY_CALMO": "k", "HYGIENE_CALMO_LOGBOOKS": str(tmp_path / "gone")}
    assert missing(CALMO, k2, gone) == ["HYGIENE_CALMO_LOGBOOKS (system logbooks: root) names no folder"]
    keys = json.dumps({"Calmo": "k"})
    assert missing(CALMO, k2, {"HYGIENE_CONTROLLER_KEYS": keys, "HYGIENE_CALMO_LOGBOOKS": str(tmp_path)}) == []


def test_a_mailbox_rule_needs_its_register_too_but_not_a_password(tmp_path: Path) -> None:
    s2 = STRESSFRI.rule("S2")
    assert s2 is not None
    workbook = tmp_path / "tilbud.xlsx"
    environ = {"HYGIENE_KEY_STRESSFRI": "k", "HYGIENE_GMAIL_TOKEN": "t", "HYGIENE_STRESSFRI_OFFERS": str(workbook)}
    assert missing(STRESSFRI, s2, environ) == ["HYGIENE_STRESSFRI_OFFERS (system offers: path) names no file"]
    workbook.write_bytes(b"")
    assert missing(STRESSFRI, s2, environ) == []
    assert "HYGIENE_GMAIL_TOKEN (the Gmail OAuth token, for system gmail) is not set" in missing(
        STRESSFRI, s2, {k: v for k, v in environ.items() if k != "HYGIENE_GMAIL_TOKEN"}
    )


def test_serve_refuses_each_deployment_that_cannot_succeed_in_one_line_and_serves_the_rest(tmp_path: Path) -> None:
    specs = specs_from(policies_dir())
    environ = {"HYGIENE_KEY_CALMO": "k", "HYGIENE_CALMO_LOGBOOKS": str(tmp_path)}
    served, refused = ready(specs, policies_dir(), environ)
    assert [s.name for s in served] == [s.name for s in specs if s.controller == "calmo" and s.rule_ref == "K2"]
    assert len(refused) == len(specs) - 1 and all("\n" not in line for line in refused)
    k1 = next(line for line in refused if line.startswith("calmo-k1-"))
    assert k1.endswith("not served: HYGIENE_CALMO_INVOICES (system invoices: root) is not set"), k1
    c1 = next(line for line in refused if line.startswith("clienti-c1-"))
    assert "HYGIENE_KEY_CLIENTI" in c1 and "HYGIENE_HUBSPOT_TOKEN" in c1 and "HYGIENE_MAILCHIMP_API_KEY" in c1
