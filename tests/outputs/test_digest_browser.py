"""The digest in a real browser (Debian's chromium, headless): it loads without errors, the map and
the sparklines are drawn, and a screenshot is kept in test-output/ for a human to look at.

One chromium launch. The page under test is the digest as written, plus a small check script that
the test adds (with a CSP nonce) to measure what the browser actually laid out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from biotracker.outputs.digest import build_digest
from tests.outputs.sample_store import DAY, KINDS

REPO = Path(__file__).resolve().parents[2]
SHOT = REPO / "test-output" / "digest-browser.png"

CHECK = """<script nonce="check">
window.__problems = [];
window.addEventListener('error', e => window.__problems.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)))), true);
document.addEventListener('securitypolicyviolation', e => window.__problems.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI));
window.addEventListener('load', () => {
  const box = el => { const b = el.getBBox(); return [b.width, b.height]; };
  const map = document.querySelector('svg#alert-map');
  const out = {
    problems: window.__problems,
    map: map ? box(map) : null,
    countries: document.querySelectorAll('svg#alert-map path.country').length,
    alert_countries: [...document.querySelectorAll('svg#alert-map path.alert-country')].map(p => [p.dataset.iso3, ...box(p)]),
    markers: [...document.querySelectorAll('svg#alert-map circle.alert-marker')].map(c => [c.dataset.iso3, ...box(c)]),
    sparklines: [...document.querySelectorAll('svg.sparkline')].map(s => {
      const line = s.querySelector('polyline.observed');
      return line ? [line.getTotalLength(), s.getBoundingClientRect().width] : [0, 0];
    }),
    tlp: document.querySelector('meta[name=tlp]').content,
  };
  const pre = document.createElement('pre'); pre.id = 'browser-check'; pre.style.whiteSpace = 'pre-wrap'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is required for the digest browser check: install Debian's chromium "
                    "(apt-get install chromium); the project's test command does this")
    return path


def test_digest_renders_in_chromium_with_map_and_sparklines(store, tmp_path):
    settings, engine = store
    files = build_digest(engine, settings, DAY, source_kinds=KINDS)
    html = files.html.read_text(encoding="utf-8")
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert csp in html  # the digest itself runs no script and loads nothing
    harness = tmp_path / "digest-check.html"
    harness.write_text(html.replace(csp, csp + "; script-src 'nonce-check'").replace("</head>", CHECK + "</head>", 1),
                       encoding="utf-8")
    SHOT.parent.mkdir(parents=True, exist_ok=True)
    SHOT.unlink(missing_ok=True)
    run = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2000", f"--screenshot={SHOT}",
         "--dump-dom", harness.as_uri()],
        capture_output=True, text=True, timeout=90,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="browser-check"[^>]*>(.*?)</pre>', run.stdout, re.S)
    assert found, "the check script did not run: " + run.stdout[-500:]
    report = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))

    assert report["problems"] == []
    assert report["tlp"] == "TLP:AMBER+STRICT"
    assert report["map"][0] > 600 and report["map"][1] > 250
    assert report["countries"] == 177
    drawn = {iso: (w, h) for iso, w, h in report["alert_countries"]}
    assert set(drawn) == {"NGA", "FRA", "DEU"} and all(w > 5 and h > 5 for w, h in drawn.values())
    assert sorted(iso for iso, w, h in report["markers"] if w == h == 8) == ["DEU", "FRA", "NGA"]
    assert len(report["sparklines"]) == 3 and all(length > 20 and width > 100 for length, width in report["sparklines"])

    # The screenshot shows the highlighted countries: alert red (#c0392b at some opacity) is on screen.
    image = Image.open(SHOT).convert("RGB")
    assert image.size == (1200, 2000)
    pixels = np.asarray(image).astype(int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    reds = int(((r > 150) & (g < 120) & (b < 120) & (r - g > 60)).sum())
    assert reds > 200, f"only {reds} alert-red pixels in {SHOT}"
