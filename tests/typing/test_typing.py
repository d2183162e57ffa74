"""mypy --strict checks the files in this folder: every `assert_type` must hold and every
`# type: ignore[code]` must be needed (warn_unused_ignores), so each mistake they mark
(a wrong spawn argument, a misspelt option, a method the reply type lacks) is caught."""

from __future__ import annotations

from pathlib import Path

from mypy import api

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def test_mypy_infers_replies_and_rejects_the_marked_mistakes(tmp_path: Path) -> None:
    files = sorted(str(p) for p in HERE.glob("*.py") if not p.name.startswith(("test_", "__")))
    assert files
    out, err, status = api.run(
        [
            "--strict",
            "--warn-unused-ignores",
            "--no-error-summary",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(REPO / ".mypy_cache"),
            *files,
        ]
    )
    assert status == 0, out + err
