"""Normalisation stage: turn a report's free text into the shared vocabulary.

``extract`` (diseases, agents, syndromes, hosts, places, counts, dates with evidence) lives in
:mod:`biotracker.normalise.extract`; ``country_iso3`` for structured feeds in
:mod:`biotracker.normalise.geo`. Nothing is loaded at import time: vocabularies are built on
first use and cached for the life of the process.
"""
