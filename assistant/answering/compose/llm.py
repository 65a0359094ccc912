"""LLM-written answers through the `openai` client: any OpenAI-compatible endpoint.

The client is configured only from settings (and OPENAI_API_KEY for the cloud); it is never
pointed at a cloud endpoint the user did not configure. Errors of every kind (down, timeout,
429/5xx after bounded retries, malformed responses, a stream cut short) become GeneratorError,
which the service turns into a notice and the extractive answer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class GeneratorError(RuntimeError):
    """The LLM could not produce an answer; the message says why, for the user-facing notice."""


@dataclass
class Endpoint:
    base_url: str | None  # None: the OpenAI cloud (only when the user chose it with an API key)
    model: str
    api_key: str = field(repr=False)  # a repr (debug print, log line) must never show the key
    timeout_s: float
    max_retries: int
    max_tokens: int
    temperature: float
    total_timeout_s: float = 300.0  # the whole streamed answer; timeout_s bounds each wait for data

    @property
    def label(self) -> str:
        return f"{self.model} at {self.base_url or 'the OpenAI API'}"


def cloud_api_key() -> str | None:
    return os.environ.get("OPENAI_API_KEY") or None


class ChatGenerator:
    """Complete or stream one chat through an OpenAI-compatible endpoint."""

    def __init__(self, endpoint: Endpoint) -> None:
        import openai

        self.endpoint = endpoint
        # The client retries connection errors, 408/409/429 and 5xx with exponential backoff.
        self.client = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key,
                                    timeout=endpoint.timeout_s, max_retries=endpoint.max_retries)

    def _request(self, messages: list[dict[str, str]], stream: bool) -> Any:
        return self.client.chat.completions.create(
            model=self.endpoint.model, messages=messages, stream=stream,  # type: ignore[arg-type]
            max_tokens=self.endpoint.max_tokens, temperature=self.endpoint.temperature,
        )

    def complete(self, messages: list[dict[str, str]]) -> str:
        return "".join(self.stream(messages, stream=False))

    def stream(self, messages: list[dict[str, str]], stream: bool = True) -> Iterator[str]:
        """Text pieces as they arrive; raises GeneratorError on any failure, mid-stream included."""
        expired = threading.Event()
        try:
            yield from self._stream(messages, stream, expired)
        except Exception as exc:  # whatever closing the stream under a read raised: the deadline is the cause
            if expired.is_set():
                raise GeneratorError(f"{self.endpoint.label} did not finish its answer within "
                                     f"{self.endpoint.total_timeout_s:g} s") from exc
            raise

    def _stream(self, messages: list[dict[str, str]], stream: bool, expired: threading.Event) -> Iterator[str]:
        import httpx
        import openai

        watchdog: threading.Timer | None = None
        try:
            if not stream:
                response = self._request(messages, stream=False)
                content = response.choices[0].message.content if response.choices else None
                if not isinstance(content, str):
                    raise GeneratorError(f"{self.endpoint.label} returned no answer text")
                yield content
                return
            finished = False
            chunks = self._request(messages, stream=True)

            def expire() -> None:
                expired.set()
                chunks.close()

            # timeout_s bounds each read, but an endpoint that sends keep-alive pings (SSE comments)
            # and no tokens never trips it: the watchdog closes the stream when the whole answer is late.
            watchdog = threading.Timer(self.endpoint.total_timeout_s, expire)
            watchdog.daemon = True
            watchdog.start()
            for chunk in chunks:
                if expired.is_set():
                    break
                if not getattr(chunk, "choices", None):
                    continue
                choice = chunk.choices[0]
                if choice.delta and choice.delta.content:
                    yield choice.delta.content
                finished = finished or choice.finish_reason is not None
            if not finished:  # no finish_reason: the stream ended early or was never a stream at all
                raise GeneratorError(f"{self.endpoint.label} ended the answer stream early or sent a malformed one")
        except GeneratorError:
            raise
        except openai.APITimeoutError as exc:
            raise GeneratorError(f"{self.endpoint.label} timed out after {self.endpoint.timeout_s:g} s") from exc
        except openai.RateLimitError as exc:
            raise GeneratorError(f"{self.endpoint.label} is rate-limiting requests (429)") from exc
        except openai.APIStatusError as exc:
            raise GeneratorError(f"{self.endpoint.label} answered HTTP {exc.status_code}") from exc
        except openai.APIConnectionError as exc:
            raise GeneratorError(f"cannot reach {self.endpoint.label}: {exc.__cause__ or exc}") from exc
        except httpx.HTTPError as exc:  # the connection dropped while the stream was being read
            raise GeneratorError(f"{self.endpoint.label} closed the connection mid-answer") from exc
        except (openai.OpenAIError, ValueError, KeyError, AttributeError, TypeError) as exc:
            # Malformed JSON, a stream cut mid-way, an unexpected payload shape.
            raise GeneratorError(f"{self.endpoint.label} sent a malformed response ({type(exc).__name__})") from exc
        finally:
            if watchdog is not None:
                watchdog.cancel()
