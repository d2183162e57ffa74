"""The documentation builds, strictly, and the README links only inside the repository.

The code blocks themselves run as tests through Sybil (the root ``conftest.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    """A broken link, a missing snippet or an unresolved API reference fails the build."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr
    reference = (tmp_path / "reference" / "protocols" / "index.html").read_text()
    assert "run_auction" in reference  # mkdocstrings rendered the docstrings
    # Included files are rendered into their pages (the --8<-- lines are kept intact:
    # ruff formats Python fences in Markdown, so those fences sit in fmt: off/on).
    testing = (tmp_path / "testing" / "index.html").read_text()
    assert "Thermostat" in testing  # from docs/examples/test_my_agent.py
    service = (tmp_path / "service" / "index.html").read_text()
    assert "create_app" in service  # from examples/service/service.py
    assert "8&lt;" not in testing + service


def test_readme_and_docs_link_only_inside_the_repository() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in _LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
            assert resolved.exists(), f"{page.name}: {target} does not exist"
