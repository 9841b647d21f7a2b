"""The one exception tree of Biotracker.

Callers decide what to do from the type alone: retry a ``RetryableFetchError``, fail only this
feed on a ``FatalFetchError``, quarantine and continue on a ``RecordError``. Every message says
what the user should do next.
"""

from __future__ import annotations


class BiotrackerError(Exception):
    """Base of every error Biotracker raises on purpose."""


class ConfigError(BiotrackerError):
    """Bad settings or connector metadata: fail fast, before any work is done."""


class FetchError(BiotrackerError):
    """A feed could not be fetched."""


class RetryableFetchError(FetchError):
    """429, 5xx, time-outs: the same request may succeed later (Airflow retries the task)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalFetchError(FetchError):
    """401/403/404 or an unusable payload: retrying will not help; fail this feed only."""


class RefusedAddressError(FatalFetchError):
    """A request, paging link or redirect to an address this connector may not reach.

    Raised before any byte is sent: a host outside the connector's declared hosts, or (outside
    replay) a private, loopback or link-local address. Nothing from such an address is stored.
    """


class RecordError(BiotrackerError):
    """One bad item: quarantine it with this message as the reason, count it, continue."""


class SchemaDriftError(BiotrackerError):
    """A source changed the shape of its payload: re-record the fixture and update the connector."""


class NotFittedError(BiotrackerError, ValueError):
    """A detector or model was used before ``fit``."""


class PublishError(BiotrackerError):
    """Delivery failed; the content is already stored, so retrying is safe."""


class DeliveryInDoubtError(PublishError):
    """An SMTP session broke after DATA was sent: the message may have been delivered, so it is not
    sent again automatically; check the recipient's mailbox for its Message-ID first."""
