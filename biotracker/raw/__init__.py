"""Raw archive (immutable, content-addressed payloads) and quarantine."""

from biotracker.raw.archive import RawPayloadMissing, payload_path, read_payload, store_payload
from biotracker.raw.quarantine import quarantine_item

__all__ = ["RawPayloadMissing", "payload_path", "quarantine_item", "read_payload", "store_payload"]
