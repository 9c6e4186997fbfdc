"""Handing an answer to the operator: the export's working copy, and the files written to their path.

An access or portability run gathers everything found into a working copy, a temporary file sealed with the
request's identity cipher (hygiene.requests.IdentityCipher), so a copy left behind by a crash is ciphertext,
not a stray copy of the person. Delivery writes the JSON (Art. 20) and the readable page to the operator's
folder, removes the working copy and records a DELIVERY entry (digests and counts only).

Every output path is checked before anything is deleted or gathered: a folder that cannot be written is one
clear line, and the request stays as it was.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hygiene.connector import response_digest
from hygiene.errors import HygieneError
from hygiene.ledger import EntryKind
from hygiene.letters import ReplyFacts, export_json, export_page, reply_letter
from hygiene.personal_files import private_folder, write_private
from hygiene.policy import Policy
from hygiene.requests import IdentityCipher, Request, RequestStore
from hygiene.rights import SystemAnswer, answer_from_dict, totals

_WORKING_DIR = "hygiene-working-copies"


class NotWritable(HygieneError):
    """An output path the operator gave cannot be written."""


def writable_folder(path: Path, what: str) -> Path:
    """`path` as a folder that exists (created 0700 if its parent allows) and can be written, or NotWritable."""
    try:
        private_folder(path)
    except OSError as error:
        raise NotWritable(f"{what}: cannot create {path} ({error.strerror}); nothing was done") from None
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        raise NotWritable(f"{what}: {path} is not a writable folder; nothing was done")
    return path


def writable_file(path: Path, what: str) -> Path:
    """A file path whose folder can be written and which is not a folder itself, or NotWritable."""
    if path.is_dir():
        raise NotWritable(f"{what}: {path} is a folder, give a file name; nothing was done")
    if path.is_symlink():
        raise NotWritable(f"{what}: {path} is a symbolic link; give a plain file; nothing was done")
    writable_folder(path.parent, what)
    if path.exists() and not os.access(path, os.W_OK):
        raise NotWritable(f"{what}: {path} cannot be overwritten; nothing was done")
    return path


def working_copy_path(request_id: str) -> Path:
    """Where the sealed working copy of a request's export lives until it is delivered."""
    return Path(tempfile.gettempdir()) / _WORKING_DIR / f"{request_id}.sealed"


def seal_working_copy(cipher: IdentityCipher, request_id: str, document: dict[str, Any]) -> Path:
    """Write the export sealed, readable by this user only; returns its path (which names no one)."""
    path = working_copy_path(request_id)
    write_private(path, cipher.seal(request_id, json.dumps(document, ensure_ascii=False, default=str).encode()))
    return path


def open_working_copy(cipher: IdentityCipher, request_id: str) -> dict[str, Any] | None:
    """The export gathered for a request and not yet delivered, or None."""
    path = working_copy_path(request_id)
    if not path.is_file():
        return None
    document: dict[str, Any] = json.loads(cipher.open(request_id, path.read_text(encoding="ascii")))
    return document


def remove_working_copy(request_id: str) -> None:
    working_copy_path(request_id).unlink(missing_ok=True)


def write_files(folder: Path, files: dict[str, str]) -> dict[str, str]:
    """Write each named text into `folder`, 0600; returns each file's SHA-256 for the DELIVERY entry."""
    digests = {}
    for name, text in files.items():
        target = folder / name
        try:
            write_private(target, text)
        except OSError as error:
            raise NotWritable(f"--out: cannot write {target} ({error.strerror})") from None
        digests[name] = response_digest(text)
    return digests


def reply_facts(
    policy: Policy, request: Request, answers: Sequence[SystemAnswer], already_erased_on: date | None = None
) -> ReplyFacts:
    return ReplyFacts(
        request_id=request.request_id,
        kind=request.kind.value,
        received=request.received,
        answered=datetime.now().astimezone(policy.zone).date(),
        deadline=request.due,
        answers=answers,
        already_erased_on=already_erased_on,
    )


def deliver_export(
    policy: Policy, store: RequestStore, request: Request, key: SecretStr, folder: Path
) -> dict[str, str]:
    """Write the export (JSON and page) and the reply letter, record the DELIVERY, close, drop the working copy."""
    copy = open_working_copy(IdentityCipher(policy.controller, key), request.request_id)
    if copy is None:
        raise HygieneError(f"request {request.request_id}: nothing was gathered to deliver; the export run failed")
    answers = [answer_from_dict(answer) for answer in copy["answers"]]
    files = {
        "export.json": export_json(copy["export"]),
        "export.html": export_page(policy, copy["export"]),
        "letter.txt": reply_letter(policy, reply_facts(policy, request, answers)),
    }
    digests = write_files(folder, files)
    counts = totals(answers)
    store.record(request, "delivered", {"files": digests, "totals": counts}, kind=EntryKind.DELIVERY)
    store.close(request.request_id, "delivered", {"systems": copy["answers"], "totals": counts})
    remove_working_copy(request.request_id)
    return digests
