"""Connector framework: base classes, registry, the one HTTP layer, replay, fetch_to_raw, source health."""
