"""The one retry layer for remote model and image calls (OpenAI, Anthropic, OpenAI-compatible servers).

Retries stack and multiply when each layer has its own: the SDKs retry twice by default, and a graph-level retry
would run a whole node again. So the SDK clients are made with ``max_retries=0``, the graph has no retry policy,
and every remote call goes through ``RemotePolicy.call``: tenacity with a bounded number of attempts, a
server's Retry-After honoured (capped), exponential backoff with jitter otherwise. What retrying cannot fix
(400, 401, 403, 404, 422) fails at once with a line naming the setting to change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from briefcraft.errors import ProviderError

__all__ = ["RemotePolicy", "transient"]

T = TypeVar("T")

_RETRIED_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})  # 529: Anthropic's "overloaded"
_KEY_STATUS = frozenset({401, 403})


def _status(error: BaseException) -> int | None:
    """The HTTP status of an SDK error (the OpenAI and Anthropic SDKs share this shape), else None."""
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def _connection_error(error: BaseException) -> bool:
    """A timeout, a refused or dropped connection, or a reply cut off: the SDKs' connection errors and httpx's."""
    return isinstance(error, httpx.TransportError) or _sdk_error(error, "APIConnectionError")  # timeouts too


def _sdk_error(error: BaseException, name: str) -> bool:
    """Whether ``error`` is an SDK's ``name`` error (OpenAI's and Anthropic's share class names and shapes)."""
    return any(cls.__name__ == name for cls in type(error).__mro__)


def _timed_out(error: BaseException) -> bool:
    return isinstance(error, httpx.TimeoutException) or _sdk_error(error, "APITimeoutError")


def transient(error: BaseException) -> bool:
    """Whether another attempt may succeed: rate limits, server errors, timeouts, cut-off or malformed replies."""
    status = _status(error)
    if status is not None:
        return status in _RETRIED_STATUS
    return _connection_error(error) or isinstance(error, json.JSONDecodeError)


def _retry_after(error: BaseException) -> float | None:
    """Seconds the server asked to wait (Retry-After or retry-after-ms), or None."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        if "retry-after" in headers:
            return float(headers["retry-after"])
    except ValueError:  # an HTTP date: rare from model APIs; fall back to backoff
        return None
    return None


def _describe(error: BaseException) -> str:
    """One line about what went wrong, without the server's text where it may echo a key."""
    status = _status(error)
    if status is not None:
        if status in _KEY_STATUS:
            return f"HTTP {status}"
        body = getattr(error, "body", None)
        message = body.get("message") if isinstance(body, dict) else None
        text = str(message or getattr(error, "message", "") or error).splitlines()[0]
        return f"HTTP {status}: {text}"[:300]
    if isinstance(error, json.JSONDecodeError):
        return f"a reply that is not JSON ({error.msg} at char {error.pos})"
    url = getattr(getattr(error, "request", None), "url", None)  # the SDKs' request (httpx's or a fork's)
    url = f" {url}" if url else ""
    if _timed_out(error):
        return f"no reply from{url or ' the server'} within the timeout"
    if _connection_error(error):
        return f"the connection to{url or ' the server'} failed or its reply was cut off"
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:300]


class RemotePolicy(BaseModel):
    """How one remote service is called: attempts, the longest wait, and the settings a user fixes on errors."""

    model_config = ConfigDict(frozen=True)

    service: str = Field(description="Named in errors, e.g. 'openai-compatible:smollm2' or 'OpenAI Images'.")
    attempts: int = Field(default=4, ge=1)
    max_wait_s: float = Field(default=30.0, ge=0)
    key_setting: str = Field(description="The setting holding the API key (named on 401/403).")
    request_settings: str = Field(description="The settings that shape a request (named on 400/404/422).")
    connect_settings: str = Field(description="The settings for where and how long to wait (named on network errors).")
    retry_timeouts: bool = Field(
        default=True, description="False where a request that timed out may still complete and be billed (images)."
    )

    def call(self, request: Callable[[], T]) -> tuple[T, int]:
        """``request()``'s result and the attempts it took; ``ProviderError`` in one line when it fails for good."""
        started = time.monotonic()
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts), wait=self._wait, retry=retry_if_exception(self._retried),
            reraise=True,
        )
        try:
            result = retrying(request)
        except Exception as error:
            raise self._error(error, retrying.statistics.get("attempt_number", 1), time.monotonic() - started
                              ) from error
        return result, int(retrying.statistics.get("attempt_number", 1))

    def _retried(self, error: BaseException) -> bool:
        return transient(error) and (self.retry_timeouts or not _timed_out(error))

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = _retry_after(error) if error is not None else None
        if asked is not None:
            return min(max(asked, 0.0), self.max_wait_s)
        backoff: Callable[[RetryCallState], float] = wait_exponential_jitter(multiplier=0.5, max=self.max_wait_s)
        return min(backoff(state), self.max_wait_s)

    def _error(self, error: Exception, attempts: int, seconds: float) -> Exception:
        if not (transient(error) or _status(error) is not None):
            return error  # not a remote failure (a bug, a parsing error): it keeps its own type and message
        status = _status(error)
        what = _describe(error)
        if status in _KEY_STATUS:
            return ProviderError(f"{self.service} rejected the API key ({what}); not retried: check {self.key_setting}")
        if status is not None and status not in _RETRIED_STATUS:
            return ProviderError(f"{self.service} refused the request ({what}); not retried: check "
                                 f"{self.request_settings}")
        check = f"; check the network, {self.connect_settings}" if _connection_error(error) else ""
        return ProviderError(f"{self.service} failed {attempts} time(s) in {seconds:.1f}s, last with {what} "
                             f"(BRIEFCRAFT_PROVIDER_MAX_ATTEMPTS={self.attempts}){check}")
