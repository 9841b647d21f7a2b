"""Speed of the detection engine against R ``surveillance`` on the same input, same machine.

Usage::

    python benchmarks/detect_vs_r.py [TIMING_DIR] [--sizes 200 1000] [--r-sizes 200] [--no-r]

TIMING_DIR defaults to ``../shared/reference/surveillance_timing`` relative to the repository
(files ``input_200.csv`` and ``input_1000.csv``: weekly series, header ``series_id,t,date,
observed``). As in the R timing protocol of that folder's README, every method scores all
series for the last 52 weeks (``range = 264:315``) with the reference control lists, starting
from data already in memory; only the algorithm call is timed.

When ``Rscript`` with the ``surveillance`` package is on the PATH, R is timed on the same
input in the same run (one multi-column ``sts``, one call per method) and the script prints
the speed ratio and the agreement of alarms and upper bounds. R takes minutes per method on
the larger file, so by default R runs on the 200-series file only (``--r-sizes`` changes that).
Without R the script prints the Python figures only. Python times are the best of
``--repeat`` runs (default 3); R's is one run (a run takes minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from biotracker.scoring.detectors import detect

RANGE = (264, 315)

#: name -> (R function, control list); identical to the timing README and the reference fixtures.
CASES: dict[str, tuple[str, dict]] = {
    "ff_noufaily": (
        "farringtonFlexible",
        {
            "b": 5,
            "w": 3,
            "reweight": True,
            "weightsThreshold": 2.58,
            "glmWarnings": False,
            "alpha": 0.05,
            "trend": True,
            "pThresholdTrend": 1,
            "limit54": [5, 4],
            "powertrans": "2/3",
            "populationOffset": False,
            "noPeriods": 10,
            "pastWeeksNotIncluded": 26,
            "thresholdMethod": "nbPlugin",
        },
    ),
    "ff_farrington": (
        "farringtonFlexible",
        {
            "b": 5,
            "w": 3,
            "reweight": True,
            "weightsThreshold": 1,
            "glmWarnings": False,
            "alpha": 0.05,
            "trend": True,
            "pThresholdTrend": 0.05,
            "limit54": [5, 4],
            "powertrans": "2/3",
            "populationOffset": False,
            "noPeriods": 1,
            "pastWeeksNotIncluded": 3,
            "thresholdMethod": "delta",
        },
    ),
    "farrington": (
        "farrington",
        {
            "b": 5,
            "w": 3,
            "reweight": True,
            "alpha": 0.05,
            "trend": True,
            "limit54": [5, 4],
            "powertrans": "2/3",
            "fitFun": "algo.farrington.fitGLM.fast",
        },
    ),
    "earsC1": ("earsC", {"method": "C1", "baseline": 7, "minSigma": 0, "alpha": 0.001}),
    "earsC2": ("earsC", {"method": "C2", "baseline": 7, "minSigma": 0, "alpha": 0.001}),
    "earsC3": ("earsC", {"method": "C3", "baseline": 7, "minSigma": 0, "alpha": 0.001}),
    "cusum": ("cusum", {"k": 1.04, "h": 2.26, "m": None, "trans": "standard"}),
}

#: Speed targets of issue 5 (multiples of R's speed).
TARGET = {
    "ff_noufaily": 50,
    "ff_farrington": 50,
    "farrington": 50,
    "earsC1": 100,
    "earsC2": 100,
    "earsC3": 100,
    "cusum": 100,
}

R_SCRIPT = r"""
suppressPackageStartupMessages(library(surveillance))
args <- commandArgs(trailingOnly = TRUE)
infile <- args[1]; outdir <- args[2]; methods <- strsplit(args[3], ",")[[1]]
d <- read.csv(infile, stringsAsFactors = FALSE)
ids <- unique(d$series_id)
nT <- max(d$t)
obs <- matrix(d$observed, nrow = nT, ncol = length(ids))
dates <- as.Date(d$date[d$series_id == ids[1]])
s <- sts(observed = obs, epoch = as.numeric(dates), epochAsDate = TRUE, frequency = 52)
rng <- RANGE_START:RANGE_END
ctl <- list(
 ff_noufaily = list(fun = "farringtonFlexible", control = list(b=5,w=3,reweight=TRUE,weightsThreshold=2.58,glmWarnings=FALSE,alpha=0.05,trend=TRUE,pThresholdTrend=1,limit54=c(5,4),powertrans="2/3",populationOffset=FALSE,noPeriods=10,pastWeeksNotIncluded=26,thresholdMethod="nbPlugin")),
 ff_farrington = list(fun = "farringtonFlexible", control = list(b=5,w=3,reweight=TRUE,weightsThreshold=1,glmWarnings=FALSE,alpha=0.05,trend=TRUE,pThresholdTrend=0.05,limit54=c(5,4),powertrans="2/3",populationOffset=FALSE,noPeriods=1,pastWeeksNotIncluded=3,thresholdMethod="delta")),
 farrington = list(fun = "farrington", control = list(b=5,w=3,reweight=TRUE,alpha=0.05,trend=TRUE,limit54=c(5,4),powertrans="2/3",fitFun="algo.farrington.fitGLM.fast")),
 earsC1 = list(fun = "earsC", control = list(method="C1",baseline=7,minSigma=0,alpha=0.001)),
 earsC2 = list(fun = "earsC", control = list(method="C2",baseline=7,minSigma=0,alpha=0.001)),
 earsC3 = list(fun = "earsC", control = list(method="C3",baseline=7,minSigma=0,alpha=0.001)),
 cusum = list(fun = "cusum", control = list(k=1.04,h=2.26,m=NULL,trans="standard"))
)
for (m in methods) {
  cc <- ctl[[m]]$control; cc$range <- rng
  fun <- get(ctl[[m]]$fun)
  el <- system.time(invisible(capture.output(r <- suppressWarnings(fun(s, control = cc)))))[["elapsed"]]
  out <- data.frame(series_id = rep(ids, each = length(rng)), t = rep(rng, length(ids)),
                    upperbound = as.vector(upperbound(r)), alarm = as.integer(as.vector(alarms(r))))
  write.csv(out, file.path(outdir, paste0(m, ".csv")), row.names = FALSE, na = "NA")
  cat(sprintf("%s\t%.4f\n", m, el)); flush(stdout())
}
"""


def r_available() -> bool:
    """True when Rscript exists and can load surveillance (the product itself never needs R)."""
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "suppressPackageStartupMessages(library(surveillance))"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    return probe.returncode == 0


def load(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    frame = pd.read_csv(path)
    wide = frame.pivot(index="series_id", columns="t", values="observed").sort_index()
    first = frame[frame["series_id"] == wide.index[0]].sort_values("t")
    dates = pd.to_datetime(first["date"]).to_numpy().astype("datetime64[D]")
    return list(wide.index), wide.to_numpy(dtype=float), dates


def run_python(
    observed: np.ndarray, dates: np.ndarray, methods: list[str], repeat: int = 1
) -> dict[str, tuple[float, object]]:
    """Best wall time of ``repeat`` runs per method (as ``timeit`` reports), and the result."""
    out = {}
    for name in methods:
        function, control = CASES[name]
        best = float("inf")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(repeat):
                start = time.perf_counter()
                result = detect(function, observed, dates, control, RANGE)
                best = min(best, time.perf_counter() - start)
        out[name] = (best, result)
    return out


def run_r(path: Path, methods: list[str], workdir: Path) -> dict[str, tuple[float, pd.DataFrame]]:
    script = workdir / "timing.R"
    script.write_text(R_SCRIPT.replace("RANGE_START", str(RANGE[0])).replace("RANGE_END", str(RANGE[1])))
    proc = subprocess.run(
        ["Rscript", str(script), str(path), str(workdir), ",".join(methods)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"R failed: {proc.stderr[-2000:]}")
    out = {}
    for line in proc.stdout.splitlines():
        name, seconds = line.split("\t")
        out[name] = (float(seconds), pd.read_csv(workdir / f"{name}.csv"))
    return out


def agreement(result, ids: list[str], r_frame: pd.DataFrame) -> tuple[float, float]:
    """Share of (series, week) cells with the same alarm and the same upper bound (1e-6 rel.)."""
    r_alarm = r_frame.pivot(index="series_id", columns="t", values="alarm").loc[ids].to_numpy(dtype=float)
    r_ub = r_frame.pivot(index="series_id", columns="t", values="upperbound").loc[ids].to_numpy(dtype=float)
    same_alarm = (np.nan_to_num(result.alarm, nan=-1) == np.nan_to_num(r_alarm, nan=-1)).mean()
    both_na = np.isnan(result.upperbound) & np.isnan(r_ub)
    with np.errstate(invalid="ignore"):
        close = np.isclose(result.upperbound, r_ub, rtol=1e-6, atol=1e-9)
    same_ub = (both_na | close).mean()
    return 100 * same_alarm, 100 * same_ub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "timing_dir",
        nargs="?",
        type=Path,
        default=REPO.parent / "shared" / "reference" / "surveillance_timing",
    )
    parser.add_argument(
        "--sizes", nargs="+", type=int, default=[200, 1000], help="input_<N>.csv files to run"
    )
    parser.add_argument("--r-sizes", nargs="+", type=int, default=[200], help="sizes on which R is timed too")
    parser.add_argument("--methods", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--no-r", action="store_true", help="skip R even if it is installed")
    parser.add_argument("--repeat", type=int, default=3, help="Python runs per method; the best is reported")
    args = parser.parse_args()

    have_r = not args.no_r and r_available()
    print(f"timing inputs: {args.timing_dir}")
    print(
        f"R surveillance: {'found, timed on sizes ' + str(args.r_sizes) if have_r else 'not used (Python figures only)'}"
    )
    print(
        f"evaluated weeks per series: {RANGE[1] - RANGE[0] + 1} (range {RANGE[0]}:{RANGE[1]}); "
        f"Python: best of {args.repeat} runs, R: one run (wall-clock seconds of the algorithm call)"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start\n")
    header = f"{'size':>5} {'method':<14} {'python s':>9} {'series-weeks/s':>15}"
    if have_r:
        header += f" {'R s':>9} {'R sw/s':>9} {'speed-up':>9} {'target':>7} {'alarms =':>9} {'bounds =':>9}"
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        path = args.timing_dir / f"input_{size}.csv"
        if not path.exists():
            print(f"{size:>5} missing {path}")
            continue
        ids, observed, dates = load(path)
        cells = observed.shape[0] * (RANGE[1] - RANGE[0] + 1)
        py = run_python(observed, dates, args.methods, repeat=args.repeat)
        r_res: dict = {}
        if have_r and size in args.r_sizes:
            with tempfile.TemporaryDirectory() as tmp:
                r_res = run_r(path, args.methods, Path(tmp))
        for name in args.methods:
            seconds, result = py[name]
            line = f"{size:>5} {name:<14} {seconds:>9.3f} {cells / seconds:>15,.0f}"
            if name in r_res:
                r_seconds, r_frame = r_res[name]
                same_alarm, same_ub = agreement(result, ids, r_frame)
                ratio = r_seconds / seconds
                line += (
                    f" {r_seconds:>9.2f} {cells / r_seconds:>9,.0f} {ratio:>8.0f}x {TARGET[name]:>6}x"
                    f" {same_alarm:>8.2f}% {same_ub:>8.2f}%"
                )
            print(line, flush=True)


if __name__ == "__main__":
    main()
