"""The README works as written: its python blocks run, in order, in a fresh interpreter, and
everything they import comes with the quick-start install (``pip install .``: the runtime
dependencies, not the extras)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.S | re.M)
PROJECT_PACKAGES = {"minigrad", "rnn"}


def python_blocks(path: Path) -> list[str]:
    """The fenced ``python`` blocks of a Markdown file, in order."""
    return [body for lang, body in FENCE.findall(path.read_text(encoding="utf-8"))
            if lang == "python"]


def fresh_env() -> dict[str, str]:
    """This checkout first on the path, a plotting backend without a display."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}


def test_readme_blocks_run_in_order(tmp_path: Path) -> None:
    blocks = python_blocks(README)
    assert len(blocks) >= 3
    run = subprocess.run([sys.executable, "-c", "\n\n".join(blocks)], cwd=tmp_path,
                         env=fresh_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # the tour leaves no files behind (beside Hypothesis's example database)
    assert {p.name for p in tmp_path.iterdir()} <= {".hypothesis"}


def _top_level_imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_readme_imports_come_with_the_quick_start_install() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower()
               for dep in meta["dependencies"]}
    imported = set().union(*map(_top_level_imports, python_blocks(README)))
    assert {"numpy", "minigrad", "hypothesis"} <= imported   # what the blocks need today
    third_party = imported - PROJECT_PACKAGES - set(sys.stdlib_module_names)
    missing = sorted(third_party - runtime)
    assert not missing, f"README blocks import {missing}, which `pip install .` does not install"


def test_quick_start_installs_and_runs_the_demo() -> None:
    text = README.read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^```sh\n(.*?)\n```", quick, re.S | re.M)
    assert commands[0].endswith("pip install . && .venv/bin/minigrad demo")
    # the test command that CI reads: the line after the marker's fence
    marker = quick.split("<!-- test-command -->\n", 1)[1].splitlines()
    assert marker[0] == "```sh" and "pip install -e \".[dev,all]\"" in marker[1]
