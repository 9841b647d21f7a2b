"""A partner's MISP static feed (events from another Biotracker instance or any MISP).

Copy this module for each partner: set ``url`` to the address of the partner's ``manifest.json``,
``clearance`` to the most restrictive marking the partnership lets you hold, and ``kind`` to what
the partner is (a police partner's events are law-enforcement intake). The bundled recording is a
feed that ``biotracker export misp`` wrote from the demo, replayed at the placeholder address.
"""

from __future__ import annotations

from typing import ClassVar

from biotracker.ingest.misp_feed import MispFeedConnector
from biotracker.schema import SourceKind, Tlp


class MispPartner(MispFeedConnector):
    """Partner public-health MISP feed; TLP:AMBER at most, stricter events are refused."""

    name = "misp_partner"
    title = "Partner MISP feed (public health)"
    kind = SourceKind.PUBLIC_HEALTH
    url = "https://misp.partner.example/feeds/biotracker/manifest.json"
    tlp = Tlp.AMBER
    clearance = Tlp.AMBER
    terms = (
        "Shared under the partnership's MISP sharing agreement; each event keeps the TLP marking and "
        "originating organisation the partner gave it. Not for redistribution beyond that marking."
    )
    cadence = "@hourly"
    skip_checks: ClassVar[dict[str, str]] = {
        "malformed_item_quarantined": "a MISP feed payload holds one event (or the manifest), so a malformed "
        "item is a malformed payload; tests/connectors/test_misp_partner.py quarantines a broken event file "
        "and a refused event while the others land",
    }
