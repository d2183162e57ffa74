"""Every code block in README.md and docs/ is a test (collected by Sybil).

- ```python blocks run in order, one namespace per document, in a scratch folder that sees
  the repository's ``examples/`` (files a snippet writes go there); a block that needs set-up
  has it in the block itself (imports, an ``ActorSystem``, ``run_virtual``/``asyncio.run``).
- ```sh blocks: each ``mabeam run|check|schema|--version`` line runs (from a scratch
  folder that sees the repository's ``examples/``) and must exit 0, or the code its
  comment names (``# exit 1``).
  Other lines (``make ...``) are documentation only.
- ``<!-- skip: next -->`` before a block skips it (Sybil's own marker); none is used for
  code that should run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from sybil import Example, Sybil
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

ROOT = Path(__file__).resolve().parent
MABEAM = Path(sys.executable).parent / "mabeam"
_EXIT = re.compile(r"#.*\bexit (\d+)\b")
_COMMANDS = ("run", "check", "schema", "--version")
"""The ``mabeam`` command lines of a shell block that run as tests (redirections dropped)."""


def _mabeam_lines(text: str) -> list[tuple[list[str], int]]:
    """The ``mabeam run`` command lines of a shell block, each with its expected exit code."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():  # join continued lines first
        code, _, comment = line.partition("#")
        words = shlex.split(code)
        if ">" in words or "<" in words:
            words = words[: min(i for i, w in enumerate(words) if w in "<>")]
        if len(words) >= 2 and Path(words[0]).name == "mabeam" and words[1] in _COMMANDS:
            expected = _EXIT.search("#" + comment) if comment else None
            commands.append((words[1:], int(expected.group(1)) if expected else 0))
    return commands


def _run_shell_block(example: Example) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        os.symlink(ROOT / "examples", Path(scratch) / "examples")
        for args, expected in _mabeam_lines(example.parsed):
            done = subprocess.run(
                [str(MABEAM), *args], cwd=scratch, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == expected, (
                f"`mabeam {shlex.join(args)}` exited {done.returncode}, expected {expected}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )


def _enter_scratch(namespace: dict[str, object]) -> None:
    """Each document's Python blocks run in a scratch folder that sees ``examples/``, so a
    snippet that writes files (``ping.svg``) leaves nothing in the repository."""
    scratch = tempfile.TemporaryDirectory()
    os.symlink(ROOT / "examples", Path(scratch.name) / "examples")
    namespace["__scratch__"] = (scratch, Path.cwd())
    os.chdir(scratch.name)


def _leave_scratch(namespace: dict[str, object]) -> None:
    scratch, cwd = namespace.pop("__scratch__")  # type: ignore[misc]
    os.chdir(cwd)
    scratch.cleanup()


pytest_collect_file = Sybil(
    setup=_enter_scratch,
    teardown=_leave_scratch,
    parsers=[
        PythonCodeBlockParser(),
        CodeBlockParser(language="sh", evaluator=_run_shell_block),
        SkipParser(),
    ],
    patterns=["README.md", "*.md"],
    excludes=["node_modules/*"],
).pytest()
