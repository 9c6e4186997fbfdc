"""Google's HTTP batch format (multipart/mixed of application/http parts), as googleapiclient's BatchHttpRequest
writes and reads it.

Each request part carries a `Content-ID` and a whole HTTP request (request line, headers, blank line, body);
the answer is multipart/mixed too, one application/http part per request, in order, whose `Content-ID` is
the request's prefixed with `response-` (`<uuid + 1>` becomes `<response-uuid + 1>`), holding a whole HTTP
response. googleapiclient splits a part's response at the first CRLF CRLF, so the answer uses CRLF throughout.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from email import message_from_bytes, message_from_string, policy
from email.message import Message
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.gmail_errors import bad_request

MAX_PARTS = 100


@dataclass(frozen=True)
class HttpCall:
    """One API call, whether it came as a plain HTTP request or as a part of a batch."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class BatchPart:
    content_id: str
    call: HttpCall


def parse_batch(content_type: str, body: bytes, envelope_headers: dict[str, str]) -> list[BatchPart]:
    """The calls of a batch; a part without its own Authorization uses the envelope's, as Google documents."""
    if not content_type.lower().startswith("multipart/mixed"):
        raise bad_request("A batch request must be multipart/mixed.")
    envelope = message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=policy.compat32)
    parts = envelope.get_payload()
    if not isinstance(parts, list) or not parts:
        raise bad_request("A batch request must hold at least one part.")
    if len(parts) > MAX_PARTS:
        raise bad_request(f"A batch request may hold at most {MAX_PARTS} calls; it held {len(parts)}.")
    return [_parse_part(part, envelope_headers) for part in parts]


def _parse_part(part: Any, envelope_headers: dict[str, str]) -> BatchPart:
    if not isinstance(part, Message):
        raise bad_request("A batch part must be application/http.")
    return BatchPart(str(part.get("Content-ID", "")), _parse_call(part.get_payload(), envelope_headers))


def _parse_call(payload: Any, envelope_headers: dict[str, str]) -> HttpCall:
    if not isinstance(payload, str):
        raise bad_request("A batch part must be application/http.")
    request_line, _, rest = payload.lstrip("\r\n").partition("\n")
    try:
        method, target, _version = request_line.strip().split(" ", 2)
    except ValueError as exc:
        raise bad_request("A batch part must start with an HTTP request line.") from exc
    inner = message_from_string(rest, policy=policy.compat32)
    headers = {"authorization": envelope_headers.get("authorization", "")}
    headers |= {k.lower(): v for k, v in inner.items()}
    body = inner.get_payload()
    url = urlsplit(target)
    return HttpCall(
        method=method.upper(),
        path=unquote(url.path),
        query=parse_qs(url.query, keep_blank_values=True),
        headers=headers,
        body=body.encode() if isinstance(body, str) else b"",
    )


def response_content_id(request_content_id: str) -> str:
    if request_content_id.startswith("<") and request_content_id.endswith(">"):
        return f"<response-{request_content_id[1:-1]}>"
    return f"response-{request_content_id}"


def build_batch_response(answers: list[tuple[str, int, dict[str, Any] | None]]) -> tuple[str, bytes]:
    """The multipart/mixed answer: (content type, body) for (request Content-ID, status, JSON body) triples."""
    boundary = f"batch_{uuid.uuid4().hex}"
    chunks: list[str] = []
    for content_id, status, payload in answers:
        text = json.dumps(payload) if payload is not None else ""
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\n"
            f"Content-ID: {response_content_id(content_id)}\r\n\r\n"
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "Content-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(text.encode())}\r\n\r\n{text}\r\n"
        )
    chunks.append(f"--{boundary}--\r\n")
    return f"multipart/mixed; boundary={boundary}", "".join(chunks).encode()
