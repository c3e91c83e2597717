"""Errors of the issuer service that carry their HTTP status (mapped once, in issuer.app).

They derive from the core's ``FurusatoError`` so the CLI shows them the same way.
``oauth_error`` names the OAuth/OID4VCI error code where the endpoint speaks OAuth.
"""

from __future__ import annotations

from typing import ClassVar

from did.errors import FurusatoError

PROBLEM_BASE = "https://w3id.org/furusato/problems#"


class ServiceError(FurusatoError):
    status: ClassVar[int] = 400
    code = "bad_request"
    problem_type = PROBLEM_BASE + "bad_request"
    title_en = "Bad request"
    title_ja = "リクエストが正しくありません"
    oauth_error: str | None = None

    def __init__(
        self,
        message_en: str,
        message_ja: str,
        *,
        path: str | None = None,
        code: str | None = None,
        oauth_error: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message_en, message_ja, path=path, code=code)
        if oauth_error is not None:
            self.oauth_error = oauth_error
        self.http_status = status or type(self).status


class InternalError(ServiceError):
    status = 500
    code = "internal_error"
    problem_type = PROBLEM_BASE + "internal_error"
    title_en = "Internal error"
    title_ja = "内部エラー"


class NotFoundError(ServiceError):
    status = 404
    code = "not_found"
    problem_type = PROBLEM_BASE + "not_found"
    title_en = "Not found"
    title_ja = "見つかりません"


class ConflictError(ServiceError):
    status = 409
    code = "conflict"
    problem_type = PROBLEM_BASE + "conflict"
    title_en = "Conflict"
    title_ja = "競合しています"


class AuthenticationError(ServiceError):
    status = 401
    code = "unauthenticated"
    problem_type = PROBLEM_BASE + "unauthenticated"
    title_en = "Authentication required"
    title_ja = "認証が必要です"


class ForbiddenError(ServiceError):
    status = 403
    code = "forbidden"
    problem_type = PROBLEM_BASE + "forbidden"
    title_en = "Forbidden"
    title_ja = "権限がありません"


class RateLimitedError(ServiceError):
    status = 429
    code = "rate_limited"
    problem_type = PROBLEM_BASE + "rate_limited"
    title_en = "Too many requests"
    title_ja = "リクエストが多すぎます"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many requests; try again in {retry_after} s",
            f"リクエストが多すぎます。{retry_after} 秒後にもう一度お試しください",
        )
        self.retry_after = retry_after


class UnsupportedMediaTypeError(ServiceError):
    status = 415
    code = "unsupported_media_type"
    problem_type = PROBLEM_BASE + "unsupported_media_type"
    title_en = "Unsupported media type"
    title_ja = "対応していない Content-Type です"


class OAuthError(ServiceError):
    """An OAuth 2.0 / OID4VCI error response (RFC 6749 §5.2, OID4VCI §8.3.1)."""

    code = "oauth_error"
    problem_type = PROBLEM_BASE + "oauth_error"
    title_en = "Request refused"
    title_ja = "リクエストが拒否されました"

    def __init__(
        self, oauth_error: str, message_en: str, message_ja: str, *, status: int = 400
    ) -> None:
        super().__init__(
            message_en, message_ja, code=oauth_error, oauth_error=oauth_error, status=status
        )
