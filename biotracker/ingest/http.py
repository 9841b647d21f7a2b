"""The one HTTP layer every connector fetches through.

Time-outs and an overall deadline per fetch, a descriptive User-Agent, retries with exponential
back-off and jitter, ``Retry-After`` on 429/503 (capped to what is left of the deadline), a
per-host rate limit, a cap on the (decompressed) body size, conditional GET, and the single place
where HTTP status codes become ``RetryableFetchError`` / ``FatalFetchError``.

Outbound requests go only where they may (server-side request forgery): ``get`` takes the
connector's allowed hosts and refuses any other address, for the first request, for every
redirect (followed here, one hop at a time, never by httpx) and, through the caller, for paging
links. The production transport (``GuardedTransport``) resolves each host itself and connects
only to public addresses, so a name that resolves to a private, loopback or link-local address
(DNS rebinding included) is refused before a byte is sent. The one exception is explicit and
narrow: ``RewriteTransport``, which only ever connects to the local replay server.
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import math
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from biotracker.config import Settings
from biotracker.errors import FatalFetchError, RefusedAddressError, RetryableFetchError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
REDIRECT_STATUS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5
Resolver = Callable[[str, int], list[str]]

#: Monotonic time by which the fetch in progress (in this thread) must be finished.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("fetch_deadline", default=None)


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
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None  # "nan", "inf": no usable delay


def check_address(url: str, allowed_hosts: Iterable[str] | None) -> None:
    """Refuse ``url`` unless it is http(s) to one of ``allowed_hosts`` (None: any host)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises for a port that is not a number in range
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise RefusedAddressError(f"refused {url[:200]!r}: not a valid address ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise RefusedAddressError(f"refused {url[:200]!r}: only http(s) addresses with a host are fetched")
    if allowed_hosts is not None and host not in {h.lower() for h in allowed_hosts}:
        raise RefusedAddressError(
            f"refused {url[:200]!r}: host {host!r} is not one this connector may fetch from "
            f"({', '.join(sorted(allowed_hosts))}); declare it in the connector's extra_hosts if it is legitimate"
        )


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the guard then refuses the lot if one is not public)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    return [str(info[4][0]) for info in infos]


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged by its IPv4 part)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _remaining(timeout: float | None) -> float | None:
    """``timeout`` shortened to what is left of the current fetch's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the fetch's overall deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most until the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Self:
        return type(self)(self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects only to vetted addresses and bounds every socket wait by the fetch's deadline."""

    def __init__(self, allow_private: bool, resolve: Resolver) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private
        self._resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        target = host
        if not self._allow_private:
            addresses = self._resolve(host, port)
            refused = [a for a in addresses if not is_public(a)]
            if refused or not addresses:
                raise RefusedAddressError(
                    f"refused {host}:{port}: it resolves to {', '.join(refused) or 'nothing'}, a private, "
                    "loopback or link-local address; production fetches reach public addresses only"
                )
            target = addresses[0]  # connect to the address vetted here, not to a second lookup
        stream = self._inner.connect_tcp(target, port, _remaining(timeout), local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise RefusedAddressError("unix sockets are never fetched from")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """The production transport: public addresses only, every wait bounded by the fetch's deadline.

    ``allow_private`` is for ``RewriteTransport`` alone (its only destination is the local replay
    server); ``resolve`` is a seam for tests (a name that resolves to a private address).
    Environment proxies are not used: the guard must see the address it connects to.
    """

    def __init__(self, *, allow_private: bool = False, resolve: Resolver = resolve_host) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=_GuardedBackend(allow_private, resolve),
        )


class RewriteTransport(httpx.BaseTransport):
    """Send every request to a local replay server, keeping the original URL in the path.

    ``https://www.who.int/api/x?y=1`` becomes ``http://127.0.0.1:PORT/https/www.who.int/api/x?y=1``.
    Connectors stay unchanged: only the transport knows it is replaying. This is the one transport
    allowed to reach a loopback address, because it never connects anywhere but ``base_url``.
    """

    def __init__(self, base_url: str) -> None:
        self._base = httpx.URL(base_url)
        self._inner = GuardedTransport(allow_private=True)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        original = request.url
        request.url = self._base.copy_with(
            raw_path=f"/{original.scheme}/{original.host}{original.raw_path.decode('ascii')}".encode("ascii")
        )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class _BodyDecoder:
    """Content-Encoding undone chunk by chunk, never producing more than ``cap`` bytes in total.

    Done here rather than by httpx so the decompressed size is bounded *while* inflating (a gzip
    bomb never expands in memory) and every raw chunk passes the deadline check.
    """

    def __init__(self, encoding: str, url: str, cap: int) -> None:
        encoding = encoding.strip().lower()
        self.url = url
        self.cap = cap
        self.produced = 0
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(47 if encoding != "deflate" else 15)  # 47: gzip or zlib header
        else:
            raise FatalFetchError(
                f"{url} sent Content-Encoding {encoding!r}, which this client never asked for"
            )

    def feed(self, raw: bytes, wire_bytes: int) -> bytes:
        if self._zlib is None:
            return self._count(raw, wire_bytes)
        out = []
        data = raw
        try:
            while data:
                chunk = self._zlib.decompress(data, self.cap - self.produced + 1)
                out.append(self._count(chunk, wire_bytes))
                data = self._zlib.unconsumed_tail
        except zlib.error as exc:
            raise FatalFetchError(f"{self.url} sent a body that cannot be decompressed: {exc}") from exc
        return b"".join(out)

    def _count(self, chunk: bytes, wire_bytes: int) -> bytes:
        self.produced += len(chunk)
        if self.produced > self.cap:
            raise FatalFetchError(
                f"{self.url} expands to more than {self.cap} bytes after decompression "
                f"({wire_bytes} bytes on the wire): a compression bomb or a runaway "
                "export; raise BIOTRACKER_HTTP_MAX_DECOMPRESSED_BYTES only if the feed is legitimate"
            )
        return chunk

    def finish(self) -> bytes:
        if self._zlib is None:
            return b""
        try:
            return self._count(self._zlib.flush(), 0)
        except zlib.error as exc:
            raise FatalFetchError(f"{self.url} sent a body that cannot be decompressed: {exc}") from exc


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
        self.deadline_s = settings.http_deadline_s
        self.min_interval_s = min_interval_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._sleep = sleep
        self._jitter = jitter
        self._last_call: dict[str, float] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(
            transport=transport if transport is not None else GuardedTransport(),
            timeout=httpx.Timeout(settings.http_timeout_s),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            follow_redirects=False,  # followed by ``_get_once``, one checked hop at a time
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
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        json_body: object = None,
        allowed_hosts: Iterable[str] | None = None,
    ) -> FetchedResponse:
        """GET ``url`` with retries, within ``settings.http_deadline_s``; conditional when validators are given.

        ``json_body`` turns the request into a POST of that JSON (search APIs such as WAHIS take
        their filters that way); everything else (retries, caps, status mapping) is the same.
        ``allowed_hosts`` (a connector's ``hosts()``) limits the address and every redirect.
        """
        allowed = frozenset(allowed_hosts) if allowed_hosts is not None else None
        check_address(url, allowed)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        deadline = time.monotonic() + self.deadline_s
        token = _DEADLINE.set(deadline)
        try:
            return self._get_with_retries(url, headers, json_body, allowed, deadline)
        finally:
            _DEADLINE.reset(token)

    def _get_with_retries(
        self,
        url: str,
        headers: dict[str, str],
        json_body: object,
        allowed: frozenset[str] | None,
        deadline: float,
    ) -> FetchedResponse:
        attempt = 0
        while True:
            try:
                return self._follow(url, headers, json_body, allowed)
            except RetryableFetchError as exc:
                if attempt >= self.retries:
                    raise
                left = deadline - time.monotonic()
                delay = exc.retry_after
                if delay is None:
                    delay = min(self.backoff_cap_s, self.backoff_base_s * 2**attempt) * (
                        0.5 + self._jitter() / 2
                    )
                if delay >= left:  # Retry-After is never shortened: waiting less would be refused again
                    raise RetryableFetchError(
                        f"{exc} (waiting {delay:.0f}s would pass this fetch's {self.deadline_s:.0f}s deadline, "
                        f"{max(left, 0):.0f}s away; the task will be retried later)",
                        exc.retry_after,
                    ) from exc
                log.warning(
                    "retrying %s in %.1fs (attempt %d of %d): %s", url, delay, attempt + 1, self.retries, exc
                )
                self._sleep(delay)
                attempt += 1

    def _follow(
        self, url: str, headers: dict[str, str], json_body: object, allowed: frozenset[str] | None
    ) -> FetchedResponse:
        """One request, following redirects only to addresses ``check_address`` allows."""
        for _hop in range(MAX_REDIRECTS + 1):
            response = self._get_once(url, headers, json_body)
            if isinstance(response, FetchedResponse):
                return response
            target = urljoin(url, response)
            check_address(target, allowed)
            log.info("%s redirects to %s", url, target)
            url = target
            json_body = None  # a redirected POST search is not re-posted elsewhere
        raise FatalFetchError(f"{url}: more than {MAX_REDIRECTS} redirects; check the connector's url")

    def _get_once(self, url: str, headers: dict[str, str], json_body: object = None) -> FetchedResponse | str:
        """The response, or the ``Location`` of a redirect (to be checked before following)."""
        self._respect_rate_limit(url)
        method = "GET" if json_body is None else "POST"
        try:
            timeout = _remaining(self.settings.http_timeout_s)
            with self._client.stream(
                method, url, headers=headers, json=json_body, timeout=timeout
            ) as response:
                location = response.headers.get("Location")
                if response.status_code in REDIRECT_STATUS and location:
                    return location
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
                classify_status(response.status_code, url, retry_after)
                return self._read_body(url, response)
        except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
            raise RetryableFetchError(
                f"{url} timed out ({exc or 'no answer'}; time-out {self.settings.http_timeout_s:g}s, "
                f"overall deadline {self.deadline_s:g}s per fetch)"
            ) from exc
        except httpx.TransportError as exc:
            raise RetryableFetchError(f"cannot reach {url}: {exc}") from exc

    def _read_body(self, url: str, response: httpx.Response) -> FetchedResponse:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FatalFetchError(
                f"{url} declares {declared} bytes, over the {self.max_bytes}-byte cap; "
                "raise BIOTRACKER_HTTP_MAX_BYTES if the feed really is that large"
            )
        # An in-memory response (``httpx.MockTransport`` in tests) arrives already read and decoded.
        in_memory = response.is_stream_consumed
        encoding = "" if in_memory else response.headers.get("Content-Encoding", "")
        decoder = _BodyDecoder(encoding, url, self.max_decompressed_bytes)
        chunks: list[bytes] = []
        raws = [response.content] if in_memory else response.iter_raw()
        for raw in raws:  # raw: the size caps apply before and while inflating
            if response.num_bytes_downloaded > self.max_bytes:
                raise FatalFetchError(
                    f"{url} sent more than {self.max_bytes} bytes; refusing it. "
                    "Raise BIOTRACKER_HTTP_MAX_BYTES if the feed really is that large"
                )
            _remaining(None)  # past the deadline: stop even if the server keeps dripping
            chunks.append(decoder.feed(raw, response.num_bytes_downloaded))
        chunks.append(decoder.finish())
        return FetchedResponse(
            url=str(response.url),
            status=response.status_code,
            body=b"".join(chunks),
            content_type=response.headers.get("Content-Type"),
            headers={k.lower(): v for k, v in response.headers.items()},
        )
