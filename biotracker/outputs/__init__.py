"""Outputs: the daily digest (HTML and text) and, later, CAP, STIX, JSON and email."""
