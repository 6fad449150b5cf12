"""report.html in a real browser (headless Chromium through selenium): nothing overflows, Table 4 is near the top.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)
and ``selenium`` (the ``dev`` extra); without them these tests are skipped with the reason.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from analysis.batch import process_dataset
from analysis.config import AnalysisConfig
from analysis.report import build_report
from tests.analysis.bids_fixture import ARTWORK_CATEGORY, write_bids_dataset

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="headless Chromium not installed (apt-get install chromium chromium-driver)")

#: Flags that run Chromium headless in a container without network or GPU.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")

#: For every table: its box, its scroll wrapper's box and overflow style, its container's box.
_TABLE_BOXES = """
return Array.from(document.querySelectorAll('table')).map(t => {
  const w = t.parentElement, c = w.parentElement;
  const tr = t.getBoundingClientRect(), wr = w.getBoundingClientRect(), cr = c.getBoundingClientRect();
  return {id: t.id, wrapper: w.className, table_w: tr.width, wrap_client_w: w.clientWidth,
          wrap_left: wr.left, wrap_right: wr.right, box_left: cr.left, box_right: cr.right,
          overflow_x: getComputedStyle(w).overflowX, caption: t.caption ? t.caption.textContent : ''};
});"""

_FIGURE_BOXES = """
return Array.from(document.querySelectorAll('figure img')).map(i => {
  const f = i.closest('figure'), c = f.parentElement;
  const r = i.getBoundingClientRect(), cr = c.getBoundingClientRect();
  return {id: f.id, loaded: i.complete && i.naturalWidth > 0, left: r.left, right: r.right,
          box_left: cr.left, box_right: cr.right};
});"""


def _trials() -> list[dict]:
    return [{"stimulus_id": f"{a}_{m}", "artwork": a, "category": c, "method": m, "duration_s": 1.5,
             "aoi": (240.0, 112.0, 1040.0, 912.0), "gaze": None}
            for a, c in ARTWORK_CATEGORY.items() for m in ("ours", "pix2pix")]


@pytest.fixture(scope="module")
def report_html(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cohort") / "raw"
    write_bids_dataset(root, participants=("sub-01", "sub-02", "sub-03", "sub-04"), trials=_trials(), seed=3)
    result = process_dataset(root, AnalysisConfig(), jobs=1, progress=False)
    out = tmp_path_factory.mktemp("report")
    return build_report(result, out, data_dir=root, progress=False, parallel=False)["html"]


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="artgaze-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(drv, html: Path, width: int, height: int = 900, *, open_appendix: bool = True) -> None:
    drv.set_window_size(width, height)
    drv.get(html.resolve().as_uri())
    if open_appendix:
        drv.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")


@pytest.mark.parametrize("width", [1280, 760])
def test_no_table_or_figure_overflows_its_container(browser, report_html, width, tmp_path):
    _open(browser, report_html, width)
    inner_w = browser.execute_script("return window.innerWidth")
    # the page itself never scrolls sideways ...
    assert browser.execute_script("return document.documentElement.scrollWidth") <= inner_w
    tables = browser.execute_script(_TABLE_BOXES)
    assert len(tables) >= 15 and all(t["caption"] for t in tables)
    for t in tables:
        # ... every table sits in its own wrapper, inside its section ...
        assert t["wrapper"] == "wrap", t["id"]
        assert t["box_left"] - 1 <= t["wrap_left"] and t["wrap_right"] <= t["box_right"] + 1, t
        # ... and either fits it or scrolls inside it (caption and notes scroll with it, nothing is clipped)
        assert t["table_w"] <= t["wrap_client_w"] + 1 or t["overflow_x"] in ("auto", "scroll"), t
    figures = browser.execute_script(_FIGURE_BOXES)
    assert len(figures) >= 5
    for f in figures:
        assert f["loaded"] and f["box_left"] - 1 <= f["left"] and f["right"] <= f["box_right"] + 1, f
    if width >= 1280:
        # on a desktop screen the main tables need no scrolling at all
        fit = {t["id"]: t["table_w"] <= t["wrap_client_w"] + 1 for t in tables}
        assert fit["tab-table4"] and fit["tab-headline"], fit
        browser.save_screenshot(str(tmp_path / "report_top.png"))


def test_table4_is_reachable_from_the_top(browser, report_html):
    _open(browser, report_html, 1280, open_appendix=False)
    # the appendix is collapsed by default, so what follows Table 4 is the analysis, not hashes
    assert browser.execute_script("const d = document.querySelectorAll('details');"
                                  "return d.length >= 4 && Array.from(d).every(x => !x.open)")
    inner_h = browser.execute_script("return window.innerHeight")
    link = browser.execute_script(
        "const a = document.querySelector('nav a[href=\"#table4\"]'); const r = a.getBoundingClientRect();"
        "return {top: r.top, bottom: r.bottom, text: a.textContent}")
    assert link["bottom"] <= inner_h and link["text"] == "Table 4, replicated"     # in the first screen
    top = browser.execute_script("return document.getElementById('tab-table4').getBoundingClientRect().top"
                                 " + window.scrollY")
    assert top < 1.5 * inner_h, top                                                   # less than 1.5 screens down
    browser.find_element("css selector", 'nav a[href="#table4"]').click()
    r = browser.execute_script("return document.getElementById('tab-table4').getBoundingClientRect().top")
    assert 0 <= r < inner_h                                                           # the link lands on it
