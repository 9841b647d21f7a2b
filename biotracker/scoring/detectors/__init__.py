"""Aberration detection: R ``surveillance``'s algorithms, vectorised, with R's alarms.

Methods (R surveillance 1.20.3 semantics and control names): ``farringtonFlexible`` (Noufaily
et al. 2013 or the original Farrington settings), ``farrington`` (the old function), ``earsC``
(C1, C2, C3) and ``cusum``. Why reimplement rather than call R: the pipeline scores thousands of
(agent, place, host) series a day and the product must not depend on R; the shared reference
outputs (tests/fixtures/surveillance) pin every number to R's.

API for the pipeline::

    from biotracker.scoring.detectors import detect

    result = detect(
        method,            # "farringtonFlexible" | "farrington" | "earsC" | "cusum"
        observed,          # float array (n_series, n_weeks), NaN = missing count
        dates,             # datetime64[D] array (n_weeks,) for date-indexed series, or None
        control,           # R control list as a dict, R names (JSON null = R NULL = default)
        range_,            # (start, end), 1-based inclusive; None = R's default range
    )
    result.t           # (n_eval,) evaluated 1-based weeks
    result.upperbound  # (n_series, n_eval) float, NaN where R gives NA
    result.expected    # (n_series, n_eval) float, NaN where missing
    result.alarm       # (n_series, n_eval) 0.0 / 1.0, NaN where R gives NA (never 0 for missing)
    result.score       # (n_series, n_eval) > 1 = beyond the bound (R's score for farringtonFlexible)
    result.observed    # (n_series, n_eval) the counts of the evaluated weeks
    result.extra       # method diagnostics: score, pvalue, phi, trend, mean (Farrington), cusum

All series of one call share one time axis (same dates); group series by axis before calling.
Bad control lists raise :class:`biotracker.errors.ConfigError` naming the entry to fix; short or
all-zero histories warn (``UserWarning``) rather than fail. :class:`SurveillanceDetector` wraps
the same function in the fit/score shape of the detector contract. The command line is
``biotracker detect`` (see ``biotracker/cli/detect.py`` and docs/DETECTORS.md).

Modules, one job each: ``control`` (R control lists -> frozen configs), ``reference_weeks``
(which past weeks, which seasonal block), ``glm`` (batched quasi-Poisson IRLS identical to
R's ``glm.fit``), ``reweighting`` (Farrington's outbreak down-weighting), ``thresholds``
(delta and negative-binomial plug-in bounds), ``farrington_flexible``, ``farrington``,
``ears``, ``cusum``, ``batching``, ``api``, ``detector``, ``io`` (CSV format), ``plot``.
"""

from biotracker.scoring.detectors.api import DetectionResult, detect
from biotracker.scoring.detectors.control import METHODS, parse_control
from biotracker.scoring.detectors.detector import SurveillanceDetector

__all__ = ["METHODS", "DetectionResult", "SurveillanceDetector", "detect", "parse_control"]
