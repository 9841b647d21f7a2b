"""Alerts: rules that turn signals and incidents into ranked, explained alerts."""
