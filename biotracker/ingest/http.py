"""The one HTTP layer every connector fetches through.

Time-outs, a descriptive User-Agent, retries with exponential back-off and jitter, ``Retry-After``
on 429/503, a per-host rate limit, a cap on the (decompressed) body size, conditional GET, and the
single place where HTTP status codes become ``RetryableFetchError`` / ``FatalFetchError``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Self
from urllib.parse import urlsplit

import httpx

from biotracker.config import Settings
from biotracker.errors import FatalFetchError, RetryableFetchError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class FetchedResponse:
    url: str
    status: int
    body: bytes
    content_type: str | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def classify_status(status: int, url: str, retry_after: float | None = None) -> None:
    """Raise the error the project's error tree assigns to ``status`` (2xx and 304 pass)."""
    if 200 <= status < 300 or status == 304:
        return
    if status in RETRYABLE_STATUS or status >= 500:
        raise RetryableFetchError(f"{url} answered HTTP {status}; the task will be retried", retry_after)
    hint = {
        401: "the service wants credentials: check the connector's API key settings",
        403: "access is refused: check credentials or the service's terms of use",
        404: "the address no longer exists: check the connector's url or re-record its fixture",
        410: "the address is gone: update the connector's url",
    }.get(status, "the request is not acceptable to the service: check the connector's parameters")
    raise FatalFetchError(f"{url} answered HTTP {status}: {hint}")


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class RewriteTransport(httpx.BaseTransport):
    """Send every request to a local replay server, keeping the original URL in the path.

    ``https://www.who.int/api/x?y=1`` becomes ``http://127.0.0.1:PORT/https/www.who.int/api/x?y=1``.
    Connectors stay unchanged: only the transport knows it is replaying.
    """

    def __init__(self, base_url: str) -> None:
        self._base = httpx.URL(base_url)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        original = request.url
        request.url = self._base.copy_with(
            raw_path=f"/{original.scheme}/{original.host}{original.raw_path.decode('ascii')}".encode("ascii")
        )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class HttpClient:
    """Fetch bytes politely and safely; raise the project's errors on failure."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        min_interval_s: float = 1.0,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.max_bytes = settings.http_max_bytes
        self.max_decompressed_bytes = settings.http_max_decompressed_bytes
        self.retries = settings.http_retries
        self.min_interval_s = min_interval_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._sleep = sleep
        self._jitter = jitter
        self._last_call: dict[str, float] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(settings.http_timeout_s),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=True,
            max_redirects=5,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _respect_rate_limit(self, url: str) -> None:
        host = urlsplit(url).netloc
        with self._lock:
            wait = self._last_call.get(host, -1e9) + self.min_interval_s - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._last_call[host] = time.monotonic()

    def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, json_body: object = None
    ) -> FetchedResponse:
        """GET ``url`` with retries; conditional when ``etag``/``last_modified`` are given.

        ``json_body`` turns the request into a POST of that JSON (search APIs such as WAHIS take
        their filters that way); everything else (retries, caps, status mapping) is the same.
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt = 0
        while True:
            try:
                return self._get_once(url, headers, json_body)
            except RetryableFetchError as exc:
                if attempt >= self.retries:
                    raise
                delay = exc.retry_after
                if delay is None:
                    delay = min(self.backoff_cap_s, self.backoff_base_s * 2**attempt) * (
                        0.5 + self._jitter() / 2
                    )
                log.warning(
                    "retrying %s in %.1fs (attempt %d of %d): %s", url, delay, attempt + 1, self.retries, exc
                )
                self._sleep(min(delay, self.backoff_cap_s))
                attempt += 1

    def _get_once(self, url: str, headers: dict[str, str], json_body: object = None) -> FetchedResponse:
        self._respect_rate_limit(url)
        method = "GET" if json_body is None else "POST"
        try:
            with self._client.stream(method, url, headers=headers, json=json_body) as response:
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                classify_status(response.status_code, url, retry_after)
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FatalFetchError(
                        f"{url} declares {declared} bytes, over the {self.max_bytes}-byte cap; "
                        "raise BIOTRACKER_HTTP_MAX_BYTES if the feed really is that large"
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():  # decoded: gzip/deflate are expanded here
                    size += len(chunk)
                    if response.num_bytes_downloaded > self.max_bytes:
                        raise FatalFetchError(
                            f"{url} sent more than {self.max_bytes} bytes; refusing it. "
                            "Raise BIOTRACKER_HTTP_MAX_BYTES if the feed really is that large"
                        )
                    if size > self.max_decompressed_bytes:
                        raise FatalFetchError(
                            f"{url} expands to more than {self.max_decompressed_bytes} bytes after decompression "
                            f"({response.num_bytes_downloaded} bytes on the wire): a compression bomb or a runaway "
                            "export; raise BIOTRACKER_HTTP_MAX_DECOMPRESSED_BYTES only if the feed is legitimate"
                        )
                    chunks.append(chunk)
                return FetchedResponse(
                    url=str(response.url),
                    status=response.status_code,
                    body=b"".join(chunks),
                    content_type=response.headers.get("Content-Type"),
                    headers={k.lower(): v for k, v in response.headers.items()},
                )
        except httpx.TimeoutException as exc:
            raise RetryableFetchError(f"{url} timed out after {self.settings.http_timeout_s}s") from exc
        except httpx.DecodingError as exc:
            raise FatalFetchError(f"{url} sent a body that cannot be decompressed: {exc}") from exc
        except httpx.TransportError as exc:
            raise RetryableFetchError(f"cannot reach {url}: {exc}") from exc
