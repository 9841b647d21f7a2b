"""Biotracker: early warning of biological incidents for law-enforcement analysts.

Data flows one way: connectors -> raw archive -> normalise -> incidents -> scoring -> alerts ->
outputs. See docs/ARCHITECTURE.md for where each part lives.
"""

__version__ = "0.1.0"
