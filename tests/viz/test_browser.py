"""The HTML report in a real headless browser: it renders, and the console stays quiet."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from mabeam.viz import report

from ._support import gallery_run

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


def screenshot(page: Path, tmp_path: Path) -> tuple[Path, str]:
    shot = tmp_path / "shot.png"
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,1400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return shot, done.stderr


def test_report_renders_in_chromium_without_console_errors(tmp_path: Path) -> None:
    run, network = gallery_run("bargaining")
    assert network.trace is not None
    page = tmp_path / "report.html"
    report(run, network.trace, page)
    shot, log = screenshot(page, tmp_path)
    console = [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []
    with Image.open(shot) as image:
        assert image.size == (1000, 1400)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert colours is not None
        assert len(colours) > 50  # text, the plot's lines and markers: not a blank page
        white = sum(count for count, colour in colours if colour == (255, 255, 255))
        assert white < 0.95 * 1000 * 1400
