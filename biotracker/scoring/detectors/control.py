"""The R control-list layer: turn an R ``control`` list (as a dict) into a frozen, validated config.

Analysts arrive with control lists that already work in R ``surveillance``; they must be able to
paste them unchanged. So this module speaks R's names (``b``, ``w``, ``pThresholdTrend``,
``limit54`` …), fills R's defaults the way each R function does (which differ: ``earsC`` does not
merge the user list with its formal defaults, ``farringtonFlexible`` uses ``modifyList``), and
fails fast with a :class:`~biotracker.errors.ConfigError` that names the offending entry.

Each configuration is a frozen pydantic model that forbids unknown fields, and its fields are the
only names a control list may use (besides R's display-only entries in ``_IGNORED``): R silently
ignores a misspelt entry such as ``minSigm = 1``, which then changes nothing while the analyst
believes it does; here it is a ``ConfigError`` naming the entry.

A JSON ``null`` means R's ``NULL``, i.e. "use the default"; ``range`` may be given here as
``[start, end]`` (1-based, inclusive) or as the full vector of time points.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from biotracker.errors import ConfigError

METHODS = ("farringtonFlexible", "farrington", "earsC", "cusum")

#: Keys R accepts that change nothing numerically (printing, plotting, R-side fitting function).
_IGNORED = {"verbose", "plot", "glmWarnings", "fitFun", "name", "data"}


class _Control(BaseModel):
    """Frozen, and refuses any field it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EarsControl(_Control):
    """``earsC`` settings; ``alpha`` defaults to 0.001 (C1, C2) or 0.025 (C3) as in R."""

    method: str = "C1"
    baseline: int = 7
    minSigma: float = 0.0
    alpha: float = 0.001


class CusumControl(_Control):
    """``cusum`` settings; ``m=None`` means R's mean of the weeks before the range."""

    k: float = 1.04
    h: float = 2.26
    m: float | tuple[float, ...] | None = None
    trans: str = "standard"
    alpha: float = 0.1


class FarringtonControl(_Control):
    """Settings of the old ``farrington()`` (Farrington et al. 1996 as first coded in R)."""

    b: int = 5
    w: int = 3
    reweight: bool = True
    alpha: float = 0.05
    trend: bool = True
    limit54: tuple[int, int] = (5, 4)
    powertrans: str = "2/3"


class FarringtonFlexibleControl(_Control):
    """Settings of ``farringtonFlexible()`` (Noufaily et al. 2013 or the original method)."""

    b: int = 5
    w: int = 3
    reweight: bool = True
    weightsThreshold: float = 2.58
    alpha: float = 0.05
    trend: bool = True
    pThresholdTrend: float = 0.05
    limit54: tuple[int, int] = (5, 4)
    powertrans: str = "2/3"
    populationOffset: bool = False
    noPeriods: int = 1
    pastWeeksNotIncluded: int | None = None  # None -> w, as in R
    thresholdMethod: str = "delta"

    @property
    def past_weeks_not_included(self) -> int:
        return self.w if self.pastWeeksNotIncluded is None else self.pastWeeksNotIncluded


Control = EarsControl | CusumControl | FarringtonControl | FarringtonFlexibleControl


def _scalar(name: str, value: Any) -> Any:
    """R stores scalars as length-1 vectors; jsonlite may write them as one-element lists."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ConfigError(f"control entry {name!r} must be a single value, got {value!r}")
        return value[0]
    return value


def _number(name: str, value: Any, *, minimum: float | None = None, strict: bool = False) -> float:
    value = _scalar(name, value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
        raise ConfigError(f"control entry {name!r} must be a number, got {value!r}")
    value = float(value)
    if minimum is not None and (value <= minimum if strict else value < minimum):
        op = ">" if strict else ">="
        raise ConfigError(f"control entry {name!r} must be {op} {minimum:g}, got {value:g}")
    return value


def _integer(name: str, value: Any, *, minimum: int) -> int:
    number = _number(name, value, minimum=minimum)
    if number != int(number):
        raise ConfigError(f"control entry {name!r} must be a whole number, got {number:g}")
    return int(number)


def _flag(name: str, value: Any) -> bool:
    value = _scalar(name, value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.upper() in ("TRUE", "FALSE", "T", "F"):
        return value.upper() in ("TRUE", "T")
    raise ConfigError(f"control entry {name!r} must be TRUE or FALSE, got {value!r}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    value = _scalar(name, value)
    if not isinstance(value, str):
        raise ConfigError(f"control entry {name!r} must be one of {', '.join(choices)}; got {value!r}")
    # R's match.arg accepts unambiguous prefixes.
    matches = [c for c in choices if c == value] or [c for c in choices if c.startswith(value)]
    if len(matches) != 1:
        raise ConfigError(f"control entry {name!r} must be one of {', '.join(choices)}; got {value!r}")
    return matches[0]


def _alpha(name: str, value: Any) -> float:
    alpha = _number(name, value)
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"control entry {name!r} must lie strictly between 0 and 1, got {alpha:g}")
    return alpha


def _limit54(value: Any) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"control entry 'limit54' must be two numbers c(cases, weeks), got {value!r}")
    cases = _integer("limit54[1]", value[0], minimum=0)
    weeks = _integer("limit54[2]", value[1], minimum=1)
    return cases, weeks


def _given(control: Mapping[str, Any]) -> dict[str, Any]:
    """Drop R NULLs (JSON null): in every R function here they mean "use the default"."""
    return {k: v for k, v in control.items() if v is not None}


def _check_keys(method: str, given: Mapping[str, Any], model: type[_Control]) -> None:
    """Every entry must be a setting of ``model`` (or one R uses only for display)."""
    known = set(model.model_fields)
    unknown = sorted(set(given) - known - _IGNORED - {"range"})
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"control entry {name!r} is not a setting of {method} (check its spelling; {hint}"
            f"known: {', '.join(sorted(known))})"
        )


def parse_control(method: str, control: Mapping[str, Any] | None) -> Control:
    """Build the typed config of ``method`` from an R control list, with R's defaults.

    Raises :class:`ConfigError` for an unknown method or a value R would reject (or silently
    misuse, such as a non-positive ``alpha``).
    """
    if method not in METHODS:
        raise ConfigError(f"unknown detection method {method!r}; use one of {', '.join(METHODS)}")
    if control is not None and not isinstance(control, Mapping):
        raise ConfigError('the control list must be a JSON object (R named list), e.g. {"b": 5, "w": 3}')
    given = _given(control or {})
    if method == "earsC":
        return _ears(given)
    if method == "cusum":
        return _cusum(given)
    if method == "farrington":
        return _farrington(given)
    return _farrington_flexible(given)


def _ears(given: Mapping[str, Any]) -> EarsControl:
    _check_keys("earsC", given, EarsControl)
    method = _choice("method", given.get("method", "C1"), ("C1", "C2", "C3"))
    baseline = _integer("baseline", given.get("baseline", 7), minimum=3)
    min_sigma = _number("minSigma", given.get("minSigma", 0), minimum=0)
    default_alpha = 0.025 if method == "C3" else 0.001
    alpha = _alpha("alpha", given.get("alpha", default_alpha))
    return EarsControl(method=method, baseline=baseline, minSigma=min_sigma, alpha=alpha)


_CUSUM_TRANS = ("standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin", "none")


def _cusum(given: Mapping[str, Any]) -> CusumControl:
    _check_keys("cusum", given, CusumControl)
    k = _number("k", given.get("k", 1.04))
    h = _number("h", given.get("h", 2.26))
    trans = _choice("trans", given.get("trans", "standard"), _CUSUM_TRANS)
    m_raw = given.get("m")
    m: float | tuple[float, ...] | None
    if m_raw is None:
        m = None
    elif isinstance(m_raw, str):
        raise ConfigError(
            f"cusum control m={m_raw!r} is not supported; give m as a number (or a vector, one per "
            "evaluated week) or null for the mean of the weeks before the range"
        )
    elif isinstance(m_raw, (list, tuple)) and len(m_raw) > 1:
        m = tuple(_number("m", v, minimum=0, strict=True) for v in m_raw)
    else:
        m = _number("m", m_raw, minimum=0, strict=True)
    alpha = _number("alpha", given.get("alpha", 0.1))
    return CusumControl(k=k, h=h, m=m, trans=trans, alpha=alpha)


_POWERTRANS = ("2/3", "1/2", "none")


def _powertrans(value: Any) -> str:
    value = _scalar("powertrans", value)
    if value not in _POWERTRANS:
        raise ConfigError(
            f"control entry 'powertrans' must be one of {', '.join(_POWERTRANS)}; got {value!r}"
        )
    return str(value)


def _farrington(given: Mapping[str, Any]) -> FarringtonControl:
    _check_keys("farrington", given, FarringtonControl)
    fit_fun = given.get("fitFun", "algo.farrington.fitGLM.fast")
    if _scalar("fitFun", fit_fun) not in ("algo.farrington.fitGLM.fast", "algo.farrington.fitGLM"):
        raise ConfigError(
            f'farrington fitFun={fit_fun!r} is not supported; use "algo.farrington.fitGLM.fast" '
            "(populationOffset fits are available through farringtonFlexible)"
        )
    return FarringtonControl(
        b=_integer("b", given.get("b", 5), minimum=1),
        w=_integer("w", given.get("w", 3), minimum=0),
        reweight=_flag("reweight", given.get("reweight", True)),
        alpha=_alpha("alpha", given.get("alpha", 0.05)),
        trend=_flag("trend", given.get("trend", True)),
        limit54=_limit54(given.get("limit54", [5, 4])),
        powertrans=_powertrans(given.get("powertrans", "2/3")),
    )


def _farrington_flexible(given: Mapping[str, Any]) -> FarringtonFlexibleControl:
    _check_keys("farringtonFlexible", given, FarringtonFlexibleControl)
    fit_fun = given.get("fitFun", "algo.farrington.fitGLM.flexible")
    if _scalar("fitFun", fit_fun) != "algo.farrington.fitGLM.flexible":
        raise ConfigError(
            f'farringtonFlexible fitFun must be "algo.farrington.fitGLM.flexible", got {fit_fun!r}'
        )
    threshold = _choice(
        "thresholdMethod", given.get("thresholdMethod", "delta"), ("delta", "nbPlugin", "muan")
    )
    if threshold == "muan":
        raise ConfigError('thresholdMethod "muan" is not implemented; use "delta" or "nbPlugin"')
    past = given.get("pastWeeksNotIncluded")
    return FarringtonFlexibleControl(
        b=_integer("b", given.get("b", 5), minimum=1),
        w=_integer("w", given.get("w", 3), minimum=0),
        reweight=_flag("reweight", given.get("reweight", True)),
        weightsThreshold=_number("weightsThreshold", given.get("weightsThreshold", 2.58)),
        alpha=_alpha("alpha", given.get("alpha", 0.05)),
        trend=_flag("trend", given.get("trend", True)),
        pThresholdTrend=_number("pThresholdTrend", given.get("pThresholdTrend", 0.05)),
        limit54=_limit54(given.get("limit54", [5, 4])),
        powertrans=_powertrans(given.get("powertrans", "2/3")),
        populationOffset=_flag("populationOffset", given.get("populationOffset", False)),
        noPeriods=_integer("noPeriods", given.get("noPeriods", 1), minimum=1),
        pastWeeksNotIncluded=None if past is None else _integer("pastWeeksNotIncluded", past, minimum=0),
        thresholdMethod=threshold,
    )


def parse_range(value: Any, n_weeks: int) -> tuple[int, int] | list[int]:
    """Accept ``[start, end]`` (inclusive, 1-based) or R's full vector ``start:end``."""
    if isinstance(value, (list, tuple)) and len(value) >= 1:
        points = [_integer("range", v, minimum=1) for v in value]
        if len(points) == 2:
            start, end = points
            if start > end:
                raise ConfigError(f"range [start, end] needs start <= end, got {points}")
            result: tuple[int, int] | list[int] = (start, end)
            top = end
        else:
            result = points
            top = max(points)
        if top > n_weeks:
            raise ConfigError(f"range ends at t={top} but the series has only {n_weeks} weeks")
        return result
    raise ConfigError(f"'range' must be [start, end] (1-based, inclusive), got {value!r}")
