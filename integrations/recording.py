"""Recording vendor traffic as vcrpy cassettes without keeping secrets or personal data.

A user with a real Mailchimp or HubSpot account can record what the connector exchanged with the vendor, to
report a vendor quirk or to add a replay test, and share the cassette: every request and response passes a
`Scrubber` before it is written. It removes the Authorization header and API keys (headers and `apikey`
query parameters), replaces every email address (also URL-encoded) by `person-<n>@example.invalid` and every
32-hex id (Mailchimp's subscriber hash, the MD5 of an email, reversible by anyone holding the email) by
`000…<n>`, consistently within one cassette, so a member's hash and address stay paired; and blanks the values
of fields that hold names, phones, addresses and free text (`FNAME`, `firstname`, `phone`, `notes`, every
Mailchimp merge field). JSON nested in strings (a `/batches` operation's body, a result's `response`) and the
gzipped tar of batch results are scrubbed the same way.

Scrubbing is idempotent (a placeholder is recognised and kept) and vcrpy applies the request hook before
matching during playback too, so a scrubbed cassette replays the requests a connector makes from the scrubbed
responses. `host_map` rewrites hosts (the test suite records against the sandbox and writes the vendors' own
hosts, so the cassettes read like vendor traffic)::

    from integrations.recording import recording_vcr
    with recording_vcr("cassettes").use_cassette("mailchimp-members.yaml"):
        list(connector.records({"status": "unsubscribed"}, "unsubscribed_at"))
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import vcr
from vcr.request import Request

REDACTED = "REDACTED"
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_HEX32 = re.compile(r"(?<![0-9a-fA-F])[0-9a-f]{32}(?![0-9a-fA-F])")
_API_KEY_PARAM = re.compile(r"(?i)(apikey|api_key|access_token|hapikey)=[^&]*")
_PLACEHOLDER_HASH = "0" * 24
_PLACEHOLDER_DOMAIN = "@example.invalid"
#: keys (lower-cased, without `_`) whose values name or describe a person
PERSONAL_KEYS = frozenset(
    {
        "fname",
        "lname",
        "firstname",
        "lastname",
        "fullname",
        "name",
        "phone",
        "phonenumber",
        "mobilephone",
        "address",
        "address1",
        "address2",
        "birthday",
        "dateofbirth",
        "notes",
        "message",
        "company",
        "city",
        "zip",
        "uniqueemailid",
        "ipsignup",
        "ipopt",
        "query",
    }
)
#: keys whose whole object holds person data (every Mailchimp merge field)
PERSONAL_OBJECTS = frozenset({"mergefields"})
#: secrets, and the Host header (the uri carries the host, rewritten by `host_map`)
DROPPED_HEADERS = ("authorization", "x-api-key", "cookie", "set-cookie", "host")


class Scrubber:
    """Replaces personal data and secrets in one cassette's requests and responses."""

    def __init__(self, host_map: Mapping[str, str] | None = None) -> None:
        self.host_map = dict(host_map or {})
        self._people: dict[str, int] = {}

    # vcrpy hooks ----------------------------------------------------------------------------------------

    def request(self, request: Request) -> Request:
        request.uri = self.text(self._hosts(request.uri))
        for name in list(request.headers):
            if name.lower() in DROPPED_HEADERS:
                del request.headers[name]
        if request.body:
            request.body = self.payload(request.body)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers") or {}
        for name in list(headers):
            if name.lower() in DROPPED_HEADERS:
                del headers[name]
        body = response.get("body") or {}
        if body.get("string"):
            body["string"] = self.payload(body["string"])
            for name in headers:
                if name.lower() == "content-length":
                    headers[name] = [str(len(body["string"]))]
        return response

    # scrubbing ------------------------------------------------------------------------------------------

    def payload(self, raw: bytes | str) -> bytes:
        data = raw.encode() if isinstance(raw, str) else raw
        if data[:2] == b"\x1f\x8b":
            return self.archive(data)
        text = data.decode("utf-8", "replace")
        return self.json_text(self._hosts(text)).encode()

    def archive(self, data: bytes) -> bytes:
        """A gzipped tar (Mailchimp batch results) with each JSON file scrubbed."""
        out = io.BytesIO()
        with (
            tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as source,
            gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w") as tar,
        ):
            for member in source.getmembers():
                stream = source.extractfile(member) if member.isfile() else None
                content = self.json_text(stream.read().decode("utf-8", "replace")).encode() if stream else b""
                info = tarfile.TarInfo(member.name)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
        return out.getvalue()

    def json_text(self, text: str) -> str:
        stripped = text.strip()
        if stripped[:1] in ("{", "["):
            try:
                return json.dumps(self.value(json.loads(stripped)), ensure_ascii=False)
            except ValueError:
                pass
        return self.text(text)

    def value(self, value: Any, key: str = "") -> Any:
        folded = key.lower().replace("_", "")
        if isinstance(value, dict):
            if folded in PERSONAL_OBJECTS:
                return {k: REDACTED if v not in (None, "") else v for k, v in value.items()}
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(item, key) for item in value]
        if isinstance(value, str):
            if folded in PERSONAL_KEYS and value:
                return REDACTED
            return self.json_text(value) if value.strip()[:1] in ("{", "[") else self.text(value)
        return value

    def text(self, text: str) -> str:
        text = _API_KEY_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
        text = _EMAIL.sub(lambda m: self._email(unquote(m.group(0))), text)
        return _HEX32.sub(lambda m: self._hash(m.group(0)), text)

    def _email(self, email: str) -> str:
        if email.endswith(_PLACEHOLDER_DOMAIN) and email.startswith("person-"):
            return email
        return f"person-{self._person(hashlib.md5(email.strip().lower().encode()).hexdigest())}{_PLACEHOLDER_DOMAIN}"

    def _hash(self, digest: str) -> str:
        if digest.startswith(_PLACEHOLDER_HASH):
            return digest
        return f"{_PLACEHOLDER_HASH}{self._person(digest):08x}"

    def _person(self, digest: str) -> int:
        return self._people.setdefault(digest, len(self._people) + 1)

    def _hosts(self, text: str) -> str:
        for source, target in self.host_map.items():
            text = text.replace(source, target)
        return text


def recording_vcr(
    cassette_dir: str | Path, *, record_mode: str = "once", host_map: Mapping[str, str] | None = None
) -> vcr.VCR:
    """A vcrpy configuration that scrubs every interaction before it is written."""
    scrubber = Scrubber(host_map)
    return vcr.VCR(
        cassette_library_dir=str(cassette_dir),
        record_mode=record_mode,
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
        match_on=["method", "scheme", "host", "port", "path", "query"],
    )
