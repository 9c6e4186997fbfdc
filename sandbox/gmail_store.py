"""The emulated mailbox: labels, messages and threads in memory, and the Message resource shapes Gmail returns.

Gmail has no folders: Inbox, Sent, Trash and the user's "folders" are all labels on a message, and a message in
TRASH or SPAM keeps its other labels (untrash gives them back). Deletion (`delete`, `batchDelete`) is permanent.
"""

from __future__ import annotations

import base64
import html
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email import message_from_bytes, policy
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from sandbox.gmail_errors import ApiError, bad_request, not_found

SYSTEM_LABEL_IDS: tuple[str, ...] = (
    "CHAT",
    "SENT",
    "INBOX",
    "IMPORTANT",
    "TRASH",
    "DRAFT",
    "SPAM",
    "CATEGORY_FORUMS",
    "CATEGORY_UPDATES",
    "CATEGORY_PERSONAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_SOCIAL",
    "STARRED",
    "UNREAD",
)
SPAM_AND_TRASH = frozenset({"SPAM", "TRASH"})
_ID_BASE = 0x18C0_0000_0000_0000
_MESSAGE_ID = re.compile(r"^[0-9a-f]{1,20}$")
_SNIPPET_LENGTH = 160


def b64url(data: bytes) -> str:
    """Gmail's encoding for `raw` and body `data`: URL-safe base64 (it pads; decoders must accept both)."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def decode_b64url(text: str) -> bytes:
    """Accept URL-safe or standard base64, padded or not, as Gmail does for `raw`."""
    cleaned = text.strip().replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))


@dataclass
class Label:
    id: str
    name: str
    type: str = "user"

    def resource(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.type == "user":
            out |= {"messageListVisibility": "show", "labelListVisibility": "labelShow"}
        return out


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    raw: bytes
    internal_date_ms: int
    history_id: int
    label_ids: set[str] = field(default_factory=set)
    mime: Message = field(init=False)

    def __post_init__(self) -> None:
        self.mime = message_from_bytes(self.raw, policy=policy.default)

    def header(self, name: str) -> str:
        return ", ".join(str(v) for v in self.mime.get_all(name, []))

    def text(self) -> str:
        """The first text part, which is what Gmail's snippet and free-text search look at."""
        for part in self.mime.walk():
            if part.get_content_maintype() == "text" and not part.get_filename():
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
        return ""

    def snippet(self) -> str:
        collapsed = " ".join(self.text().split())[:_SNIPPET_LENGTH]
        return html.escape(collapsed).replace("&#x27;", "&#39;")

    def minimal(self) -> dict[str, Any]:
        """format=minimal: ids, labels and sizes, no headers or body."""
        return {
            "id": self.id,
            "threadId": self.thread_id,
            "labelIds": sorted(self.label_ids),
            "snippet": self.snippet(),
            "sizeEstimate": len(self.raw),
            "historyId": str(self.history_id),
            "internalDate": str(self.internal_date_ms),
        }

    def metadata(self, wanted_headers: Iterable[str]) -> dict[str, Any]:
        """format=metadata: headers (only `metadataHeaders` if given, matched case-insensitively), never a body."""
        wanted = {h.lower() for h in wanted_headers}
        headers = [{"name": k, "value": str(v)} for k, v in self.mime.items() if not wanted or k.lower() in wanted]
        return self.minimal() | {"payload": {"mimeType": self.mime.get_content_type(), "headers": headers}}

    def full(self) -> dict[str, Any]:
        return self.minimal() | {"payload": _part_resource(self.mime, "")}

    def raw_resource(self) -> dict[str, Any]:
        return self.minimal() | {"raw": b64url(self.raw)}

    def label_resource(self) -> dict[str, Any]:
        """What trash, untrash and modify answer: the message's ids and its labels after the change."""
        return {"id": self.id, "threadId": self.thread_id, "labelIds": sorted(self.label_ids)}


def _part_resource(part: Message, part_id: str) -> dict[str, Any]:
    """A MessagePart: the top part has partId "", its children "0", "1", grandchildren "1.0", as in Gmail."""
    resource: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": [{"name": k, "value": str(v)} for k, v in part.items()],
    }
    if part.is_multipart():
        children = part.get_payload()
        assert isinstance(children, list)
        resource["body"] = {"size": 0}
        resource["parts"] = [
            _part_resource(child, f"{part_id}.{i}" if part_id else str(i)) for i, child in enumerate(children)
        ]
        return resource
    data = part.get_payload(decode=True)
    data = data if isinstance(data, bytes) else b""
    resource["body"] = {"size": len(data), "data": b64url(data)} if data else {"size": 0}
    return resource


def date_header_ms(raw: bytes) -> int | None:
    """The Date header in epoch milliseconds, or None when missing or invalid (Gmail then uses receipt time)."""
    value = message_from_bytes(raw, policy=policy.compat32).get("Date")
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


MessageFilter = Callable[[StoredMessage, Mapping[str, Label]], bool]


class Mailbox:
    """One user's mailbox; every public method holds the lock, so concurrent calls see consistent state."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._lock = threading.RLock()
        self._labels: dict[str, Label] = {i: Label(i, i, "system") for i in SYSTEM_LABEL_IDS}
        self._messages: dict[str, StoredMessage] = {}
        self._threads_by_rfc822_id: dict[str, str] = {}
        self._next_message = 1
        self._next_label = 1
        self._history_id = 1000

    # labels

    def labels(self) -> list[Label]:
        with self._lock:
            return list(self._labels.values())

    def label(self, label_id: str) -> Label:
        with self._lock:
            if label_id not in self._labels:
                raise not_found()
            return self._labels[label_id]

    def create_label(self, name: str) -> Label:
        """Gmail refuses empty names and system names (400) and names already used, case-insensitively (409)."""
        name = name.strip()
        with self._lock:
            if not name or name.upper() in self._labels:
                raise bad_request("Invalid label name")
            if any(label.name.lower() == name.lower() for label in self._labels.values()):
                raise ApiError(409, "Label name exists or conflicts", "duplicate")
            label = Label(f"Label_{self._next_label}", name)
            self._next_label += 1
            self._labels[label.id] = label
            return label

    def delete_label(self, label_id: str) -> None:
        """Deleting a user label removes it from every message; system labels cannot be deleted."""
        with self._lock:
            label = self.label(label_id)
            if label.type == "system":
                raise bad_request("Invalid delete request")
            del self._labels[label_id]
            for message in self._messages.values():
                message.label_ids.discard(label_id)

    def check_label_ids(self, label_ids: Iterable[str]) -> None:
        with self._lock:
            for label_id in label_ids:
                if label_id not in self._labels:
                    raise bad_request(f"Invalid label: {label_id}")

    # messages

    def insert(self, raw: bytes, label_ids: list[str], thread_id: str | None, internal_date_ms: int) -> StoredMessage:
        with self._lock:
            self.check_label_ids(label_ids)
            message_id = f"{_ID_BASE + self._next_message:016x}"
            self._next_message += 1
            message = StoredMessage(message_id, "", raw, internal_date_ms, self._bump_history(), set(label_ids))
            message.thread_id = self._thread_for(message, thread_id)
            rfc822_id = message.header("Message-ID").strip()
            if rfc822_id:
                self._threads_by_rfc822_id.setdefault(rfc822_id, message.thread_id)
            self._messages[message_id] = message
            return message

    def _thread_for(self, message: StoredMessage, requested: str | None) -> str:
        """Gmail threads a message by the threadId asked for, else by In-Reply-To/References, else starts one."""
        known_threads = {m.thread_id for m in self._messages.values()}
        if requested and requested in known_threads:
            return requested
        for reference in (message.header("In-Reply-To") + " " + message.header("References")).split():
            if reference in self._threads_by_rfc822_id:
                return self._threads_by_rfc822_id[reference]
        return message.id

    def read(self, message_id: str, render: Callable[[StoredMessage], dict[str, Any]]) -> dict[str, Any]:
        """Render a message under the lock, so a concurrent modify cannot change it half-way."""
        with self._lock:
            return render(self.get(message_id))

    def get(self, message_id: str) -> StoredMessage:
        """A malformed id is a 400 ("Invalid id value"); a well-formed unknown or deleted id is a 404."""
        if not _MESSAGE_ID.match(message_id):
            raise bad_request("Invalid id value")
        with self._lock:
            if message_id not in self._messages:
                raise not_found()
            return self._messages[message_id]

    def delete(self, message_id: str) -> None:
        with self._lock:
            self.get(message_id)
            del self._messages[message_id]
            self._bump_history()

    def delete_many(self, message_ids: Iterable[str]) -> None:
        """batchDelete: permanent; ids already gone are skipped, malformed ids are refused before any deletion."""
        ids = list(message_ids)
        for message_id in ids:
            if not _MESSAGE_ID.match(message_id):
                raise bad_request("Invalid id value")
        with self._lock:
            for message_id in ids:
                self._messages.pop(message_id, None)
            self._bump_history()

    def modify(self, message_ids: Iterable[str], add: list[str], remove: list[str]) -> list[dict[str, Any]]:
        """Change labels; answers each message's ids and new labels, as modify, trash and untrash do."""
        with self._lock:
            self.check_label_ids([*add, *remove])
            changed = [self.get(i) for i in message_ids]
            history_id = self._bump_history()
            for message in changed:
                message.label_ids.difference_update(remove)
                message.label_ids.update(add)
                message.history_id = history_id
            return [m.label_resource() for m in changed]

    def modify_existing(self, message_ids: Iterable[str], add: list[str], remove: list[str]) -> None:
        """batchModify: like modify, but ids that no longer exist are skipped as Gmail does."""
        with self._lock:
            existing = [i for i in message_ids if _MESSAGE_ID.match(i) and i in self._messages]
            self.modify(existing, add, remove)

    def search(self, accept: MessageFilter) -> list[StoredMessage]:
        """Matching messages, newest internalDate first (the order messages.list returns)."""
        with self._lock:
            found = [m for m in self._messages.values() if accept(m, self._labels)]
        return sorted(found, key=lambda m: (m.internal_date_ms, m.id), reverse=True)

    def profile(self) -> dict[str, Any]:
        with self._lock:
            return {
                "emailAddress": self.address,
                "messagesTotal": len(self._messages),
                "threadsTotal": len({m.thread_id for m in self._messages.values()}),
                "historyId": str(self._history_id),
            }

    def _bump_history(self) -> int:
        self._history_id += 1
        return self._history_id
