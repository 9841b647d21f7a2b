"""Incidents: clusters of reports about one event, and the count series built from them."""
