"""Wrong-subject campaign: one person's erasure and access request on a Calmo drive full of decoys.

Each seed writes a person's logbooks (their address as written, upper-cased in brackets, ending a sentence, and
across the 1 MiB edge where the folder search reads its next chunk) beside decoys built from that address: a
longer local part (`jo|ann@…`, `x.|ann@…`), a longer domain (`…dk|.other.org`, `…dk|x`), the same upper-cased,
a bare `@`, the local part or the domain alone, and a longer address across the chunk edge. The access
request runs first, then the erasure, both through the rights path's steps with the real connector and ledger.
Every decoy must survive and stay out of the export, and every file of the person must go. Values that are not
addresses (`@`, `ann@`, ...) must be refused before anything is stored.
"""

from __future__ import annotations

import os
import random
import string
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hygiene.holds import HoldIndex
from hygiene.ledger import Ledger
from hygiene.locations import policies_dir
from hygiene.matching import NotAnIdentifier, email_address
from hygiene.policies import load_policy
from hygiene.roots import adopt
from hygiene.settings import Settings
from tasks.rights import Identity, erase_on_system, export_from_system, rights_context

#: where the folder connector's search starts its second chunk
CHUNK_EDGE = 1 << 20
NOT_ADDRESSES = ("@", "", " ", "ann", "ann@", "@example.dk", "ann@@example.dk", "a b@example.dk", "ann@example..dk")
_ARCHIVE = "Arkiv"


@dataclass(frozen=True)
class WrongSubjectResult:
    backend: str
    seed: int
    decoys: int
    wrong_deletions: int
    wrong_exports: int
    missed: int
    non_addresses_accepted: int

    @property
    def went_wrong(self) -> bool:
        return bool(self.wrong_deletions or self.wrong_exports or self.missed or self.non_addresses_accepted)


def wrong_subject_run(backend: str, url: str, seed: int, scratch: Path) -> WrongSubjectResult:
    """One seed: write the drive, export, erase, and count what went to or came from the wrong person."""
    rng = random.Random(seed)
    address = _address(rng)
    root = scratch / f"wrong-subject-{backend}-{seed}"
    own = _write_all(root, "P", _own_texts(address))
    decoys = _write_all(root, "D", _decoy_texts(address, rng))
    adopt(str(root), controller="calmo", system="logbooks")
    policy = load_policy(policies_dir(), "calmo")
    key = Settings().key_for(policy.controller)
    ledger = Ledger(url)
    saved = os.environ.get("HYGIENE_CALMO_LOGBOOKS")
    os.environ["HYGIENE_CALMO_LOGBOOKS"] = str(root)
    try:
        now = datetime.now(policy.zone)
        access = rights_context(policy, "logbooks", key, f"access-{seed}", now)
        _, exported = export_from_system.fn(access, Identity(address), ledger)
        erasure = rights_context(policy, "logbooks", key, f"erasure-{seed}", now)
        erase_on_system.fn(erasure, Identity(address), ledger, HoldIndex({}, {}), None)
    finally:
        if saved is None:
            os.environ.pop("HYGIENE_CALMO_LOGBOOKS")
        else:
            os.environ["HYGIENE_CALMO_LOGBOOKS"] = saved
    exported_files = {str(record["file"]) for record in exported}
    return WrongSubjectResult(
        backend=backend,
        seed=seed,
        decoys=len(decoys),
        wrong_deletions=sum(not (root / relative).exists() for relative in decoys),
        wrong_exports=len(exported_files & set(decoys)),
        missed=sum((root / relative).exists() for relative in own) + len(set(own) - exported_files),
        non_addresses_accepted=sum(_accepted(value) for value in NOT_ADDRESSES),
    )


def _address(rng: random.Random) -> str:
    first = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 6)))
    last = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 8)))
    return f"{first}.{last}{rng.randint(1, 99)}@{rng.choice(('example.dk', 'mail.example.no', 'post.example.se'))}"


def _own_texts(address: str) -> list[bytes]:
    return [
        f"# Klientlogbog\nE-mail: {address}\n".encode(),
        f"Fra: <{address.upper()}>\n".encode(),
        f"Skriv til {address}.".encode(),
        _across_the_edge(address),
    ]


def _decoy_texts(address: str, rng: random.Random) -> list[bytes]:
    local, _, domain = address.partition("@")
    longer_local = rng.choice(string.ascii_letters + string.digits + "_+-") + address
    longer_domain = f"{address}.{rng.choice(('other', 'evil', 'x1'))}.org"
    decoys = [
        longer_local,
        f"x.{address}",
        longer_domain,
        address + rng.choice(string.ascii_lowercase + string.digits + "-"),
        longer_local.upper(),
        "kontakt: @",
        f"{local}@",
        f"@{domain}",
        f"{local} {domain}",
    ]
    return [f"# Klientlogbog\nCc: {decoy}\n".encode() for decoy in decoys] + [_across_the_edge(longer_local)]


def _across_the_edge(text: str) -> bytes:
    """`text` straddling the chunk edge, one half in each chunk of the folder search."""
    data = text.encode()
    start = CHUNK_EDGE - len(data) // 2
    return b"x" * (start - 1) + b" " + data + b"\n"


def _write_all(root: Path, tag: str, texts: list[bytes]) -> list[str]:
    written = []
    for number, data in enumerate(texts):
        relative = f"{_ARCHIVE}/forloeb-slut_2025-06-01_{tag}{number:03d}.md"
        (root / _ARCHIVE).mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
        written.append(relative)
    return written


def _accepted(value: str) -> bool:
    try:
        email_address(value, "--email")
    except NotAnIdentifier:
        return False
    return True
