"""Google's JSON error shape for the Gmail emulator.

Google APIs answer every failure as `{"error": {"code", "message", "errors": [{"message", "domain", "reason"}],
"status"}}`; googleapiclient turns it into `HttpError` whose `reason` and `error_details` connectors read, so the
emulator must produce exactly this shape (including for 401, where google-auth decides whether to refresh).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ApiError(Exception):
    """A failure answered in Google's error shape."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str,
        *,
        domain: str = "global",
        item_extra: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.item_extra = item_extra or {}
        self.details = details or []

    def body(self) -> dict[str, Any]:
        item = {"message": self.message, "domain": self.domain, "reason": self.reason, **self.item_extra}
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "errors": [item],
            "status": _STATUS_NAMES.get(self.code, "UNKNOWN"),
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "invalidArgument")


def not_found() -> ApiError:
    return ApiError(404, "Requested entity was not found.", "notFound")


def unauthenticated(*, missing: bool) -> ApiError:
    """Google says "Login Required" for no credential and "Invalid Credentials" for a bad, expired or revoked one."""
    header = {"location": "Authorization", "locationType": "header"}
    if missing:
        return ApiError(
            401,
            "Request is missing required authentication credential. Expected OAuth 2 access token, login "
            "cookie or other valid authentication credential.",
            "required",
            item_extra={"message": "Login Required.", **header},
        )
    return ApiError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential.",
        "authError",
        item_extra={"message": "Invalid Credentials", **header},
    )


def insufficient_scope() -> ApiError:
    """What Gmail answers, e.g., batchDelete called with a token lacking https://mail.google.com/."""
    return ApiError(
        403,
        "Request had insufficient authentication scopes.",
        "insufficientPermissions",
        item_extra={"message": "Insufficient Permission"},
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": "gmail.googleapis.com"},
            }
        ],
    )


def delegation_denied(user_id: str) -> ApiError:
    return ApiError(403, f"Delegation denied for {user_id}", "forbidden")


def rate_limited(retry_at: datetime) -> ApiError:
    """The per-user quota answer: 429 with reason rateLimitExceeded and a retry time in the message."""
    message = f"User-rate limit exceeded.  Retry after {retry_at.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z"
    return ApiError(429, message, "rateLimitExceeded", domain="usageLimits")


def staged_fault(status: int) -> ApiError:
    """A fault staged by a test, in the shape Google uses for that status."""
    if status == 429:
        return ApiError(429, "Too many concurrent requests for user.", "rateLimitExceeded", domain="usageLimits")
    if status == 403:
        return ApiError(403, "User Rate Limit Exceeded", "userRateLimitExceeded", domain="usageLimits")
    if status == 503:
        return ApiError(503, "The service is currently unavailable.", "backendError")
    if status >= 500:
        return ApiError(status, "Backend Error", "backendError")
    return ApiError(status, "Staged sandbox fault.", "failedPrecondition")
