"""Every python block of every page under docs/ runs on its own, in a fresh interpreter: a reader
can copy any one of them without the blocks before it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_readme import ROOT, fresh_env, python_blocks

BLOCKS = [(page, i, block) for page in sorted((ROOT / "docs").rglob("*.md"))
          for i, block in enumerate(python_blocks(page))]


def test_the_docs_have_python_blocks() -> None:
    assert len({page for page, _, _ in BLOCKS}) >= 3


@pytest.mark.parametrize(("page", "index", "block"), BLOCKS,
                         ids=[f"{p.name}-{i}" for p, i, _ in BLOCKS])
def test_docs_block_runs_alone(page: Path, index: int, block: str, tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=fresh_env(),
                         capture_output=True, text=True, timeout=600)
    last = run.stderr.strip().splitlines()[-1:] or [""]
    assert run.returncode == 0, f"{page.name} block {index}: {last[0]}\n{run.stderr[-2000:]}"
