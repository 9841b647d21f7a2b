"""Aberration detection: R ``surveillance``'s earsC, cusum, farrington and farringtonFlexible.

Placeholder docstring; completed below.
"""

from biotracker.scoring.detectors.api import DetectionResult, detect
from biotracker.scoring.detectors.control import METHODS, parse_control

__all__ = ["DetectionResult", "METHODS", "detect", "parse_control"]
