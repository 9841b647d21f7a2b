"""The shared repository server (``biotracker serve``): accounts, sessions, the REST API, the audit log.

Every route decides visibility through :mod:`biotracker.access.policy`; see docs/ACCESS.md.
"""
