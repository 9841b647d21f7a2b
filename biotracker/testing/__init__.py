"""Test kits shipped with Biotracker: the connector conformance checks and fixture transports."""
