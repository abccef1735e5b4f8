"""One chat completion against an OpenAI-compatible endpoint: streamed, retried, bounded.

Runs inside the cell's process. Tokens are written to stdout as they arrive (the cell's
stdout pipe, so `strata run` and the editor show them live). Rate limits (429), busy or
failing servers (408, 409, 5xx) and broken connections are retried with exponential
backoff, honouring `Retry-After`, within a bounded total wait; then the cell fails with
a message naming the endpoint and what it answered. The API key is passed to the client
and nowhere else: every message that leaves this module has it scrubbed.
"""

from __future__ import annotations

import email.utils
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import openai

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""Plus every 5xx."""


class PromptFailure(Exception):
    """The cell's error: the message says what went wrong and what to do."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Requests per answer, the first one included."""
    first_delay: float = 0.5
    max_delay: float = 8.0
    budget: float = 60.0
    """Seconds of waiting between attempts, in all; a longer Retry-After fails at once."""


@dataclass(frozen=True)
class Endpoint:
    base_url: str | None
    api_key: str
    key_var: str
    timeout: float

    @property
    def shown(self) -> str:
        return shown_url(self.base_url)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0
    answers: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "requests": self.requests,
            "answers": self.answers,
        }


@dataclass
class ChatClient:
    endpoint: Endpoint
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    usage: Usage = field(default_factory=Usage)
    _client: openai.OpenAI | None = None

    def complete(self, request: Mapping[str, Any]) -> str:
        """The answer's text (streamed to `out` as it arrives)."""
        waited = 0.0
        for attempt in range(1, self.policy.attempts + 1):
            try:
                text = self._stream(request)
                self.usage.answers += 1
                return text
            except Exception as exc:  # classified below; anything unknown is not retried
                retry_in, problem = self._classify(exc, attempt)
                if retry_in is None or attempt == self.policy.attempts:
                    raise PromptFailure(self.scrub(self._give_up(problem, attempt))) from None
                if waited + retry_in > self.policy.budget:
                    raise PromptFailure(
                        self.scrub(
                            f"{problem}; the server asks to wait {retry_in:g} s more, beyond "
                            f"the {self.policy.budget:g} s this cell waits in all. Try again "
                            "later, or lower the request rate"
                        )
                    ) from None
                self.err.write(
                    self.scrub(
                        f"strata: {problem}; retrying in {retry_in:g} s "
                        f"(attempt {attempt + 1} of {self.policy.attempts})\n"
                    )
                )
                self.err.flush()
                time.sleep(retry_in)  # backoff the server asked for, not synchronization
                waited += retry_in
        raise AssertionError("unreachable")

    def _stream(self, request: Mapping[str, Any]) -> str:
        client = self._openai()
        self.usage.requests += 1
        parts: list[str] = []
        stream = client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        with stream:
            for chunk in stream:
                if chunk.usage is not None:
                    self.usage.prompt_tokens += chunk.usage.prompt_tokens or 0
                    self.usage.completion_tokens += chunk.usage.completion_tokens or 0
                for choice in chunk.choices:
                    delta = choice.delta.content if choice.delta is not None else None
                    if delta:
                        parts.append(delta)
                        self.out.write(delta)
                        self.out.flush()
        if parts and not parts[-1].endswith("\n"):
            self.out.write("\n")
            self.out.flush()
        return "".join(parts)

    def _openai(self) -> openai.OpenAI:
        if self._client is None:
            import openai  # only when a prompt cell actually calls the endpoint

            self._client = openai.OpenAI(
                api_key=self.endpoint.api_key,
                base_url=self.endpoint.base_url,
                timeout=self.endpoint.timeout,
                max_retries=0,  # ours: bounded, reported, Retry-After honoured
            )
        return self._client

    def _classify(self, exc: Exception, attempt: int) -> tuple[float | None, str]:
        """(seconds to wait before retrying or None for "do not retry", what happened)."""
        import openai

        where = self.endpoint.shown
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _server_message(exc)
            if status == 401:
                return None, (
                    f"{where} rejected the API key in ${self.endpoint.key_var} (401){detail}; "
                    f"set {self.endpoint.key_var} to a valid key for this endpoint"
                )
            what = f"{where} answered {status}{_reason(status)}{detail}"
            if status in RETRYABLE_STATUS or status >= 500:
                after = retry_after(exc.response.headers)
                return (after if after is not None else self._backoff(attempt)), what
            return None, what
        if isinstance(exc, openai.APITimeoutError):
            return self._backoff(attempt), (
                f"{where} did not answer within {self.endpoint.timeout:g} s ([ai] timeout_seconds)"
            )
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return self._backoff(attempt), f"cannot reach {where}: {cause}"
        raise exc

    def _backoff(self, attempt: int) -> float:
        delay: float = self.policy.first_delay * 2.0 ** (attempt - 1)
        return min(delay, self.policy.max_delay)

    def _give_up(self, problem: str, attempt: int) -> str:
        if attempt == 1:
            return problem
        return f"{problem} (gave up after {attempt} attempts)"

    def scrub(self, text: str) -> str:
        key = self.endpoint.api_key
        return text.replace(key, "[redacted]") if key else text


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - time.time())


def _server_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    message = None
    if isinstance(body, Mapping):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, Mapping) else str(error)
    text = str(message or "").strip().splitlines()
    return f": {text[0][:300]}" if text else ""


def _reason(status: int) -> str:
    reasons = {
        429: " (rate limited)",
        503: " (unavailable)",
        404: " (not found: check the model name and [ai] base_url)",
        400: " (bad request)",
    }
    return reasons.get(status, " (server error)" if status >= 500 else "")


def shown_url(base_url: str | None) -> str:
    """The endpoint as messages name it: without any user:password part."""
    if not base_url:
        return "the OpenAI API"
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def chat_messages(system: str | None, user: str) -> Sequence[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    return [*messages, {"role": "user", "content": user}]
