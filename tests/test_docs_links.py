"""The docs point at real code: links resolve, ``path::name`` references exist, quoted kernel
lines are in the kernel, and the printed examples are what the code really prints.

Conventions checked here (see docs/*.md):

- a relative link ``[text](../minigrad/tape.py)`` must name an existing file or folder;
- an inline code span ``path/to/file.py::name`` (``name`` may be dotted: ``Class.method``) must
  name a function, class or assignment in that file, the path taken from the repository root;
- after ``<!-- quotes: path/to/file.py -->``, every table row's first cell that is a code span
  must occur in that file (spaces collapsed), until ``<!-- /quotes -->``;
- a fenced ``text`` block right after ``<!-- output -->`` must equal what the page's ``python``
  blocks print, run in order in a fresh interpreter, since the previous output block.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
REQUIRED = ["tape.md", "bptt.md", "lstm-backward.md", "fused-kernels.md"]

FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_REF = re.compile(r"^([\w./-]+\.py)::([A-Za-z_][\w.]*)$")
QUOTES = re.compile(r"<!--\s*quotes:\s*(\S+)\s*-->(.*?)(?:<!--\s*/quotes\s*-->|\Z)", re.S)


def _prose(text: str) -> str:
    """The page without fenced blocks (code there is not a link)."""
    return FENCE.sub("", text)


@cache
def _names(path: Path) -> frozenset[str]:
    """Every top-level and class-level name defined in a Python file, dotted for members."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found.add(prefix + node.name)
                if isinstance(node, ast.ClassDef):
                    visit(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        found.add(prefix + t.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                found.add(prefix + node.target.id)

    visit(tree.body, "")
    return frozenset(found)


def test_the_pages_exist() -> None:
    names = {p.name for p in PAGES}
    for page in REQUIRED:
        assert page in names, page


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = _prose(page.read_text(encoding="utf-8"))
    targets = [t for t in LINK.findall(text)
               if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]
    bad = [t for t in targets if not (page.parent / t.split("#", 1)[0]).exists()]
    assert not bad, f"{page.name}: broken links {bad}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_references_resolve(page: Path) -> None:
    text = _prose(page.read_text(encoding="utf-8"))
    refs = [m.groups() for span in INLINE.findall(text) if (m := CODE_REF.match(span.strip()))]
    if page.name in REQUIRED:
        assert len(refs) >= 3, f"{page.name}: expected references to the code"
    bad = []
    for path, name in refs:
        file = ROOT / path
        if not file.is_file():
            bad.append(f"{path} (no such file)")
        elif name not in _names(file):
            bad.append(f"{path}::{name} (no such name)")
    assert not bad, f"{page.name}: {bad}"


def _squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_quoted_code_lines_exist(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    bad = []
    for path, body in QUOTES.findall(text):
        source = _squash((ROOT / path).read_text(encoding="utf-8"))
        rows = [line for line in body.splitlines() if line.startswith("| `")]
        assert rows, f"{page.name}: a quotes block for {path} without table rows"
        for row in rows:
            first = row.split("|")[1]
            for quote in INLINE.findall(first):
                if _squash(quote) not in source:
                    bad.append(f"{path}: {quote}")
    assert not bad, f"{page.name}: quoted lines not in the code: {bad}"


MARK = "@@minigrad-docs-block@@"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_printed_examples_are_real(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    blocks = [(m.start(), m.group(1), m.group(2)) for m in FENCE.finditer(text)]
    code = [body for _, lang, body in blocks if lang == "python"]
    expected: list[tuple[int, str]] = []  # (how many python blocks precede it, text)
    n_py = 0
    for start, lang, body in blocks:
        if lang == "python":
            n_py += 1
        elif lang == "text" and text[:start].rstrip().endswith("<!-- output -->"):
            expected.append((n_py, body))
    if not expected:
        return
    program = "".join(f"{body}\nprint({MARK!r})\n" for body in code)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout.split(MARK + "\n")
    previous = 0
    for n, body in expected:
        got = "".join(printed[previous:n])
        assert got.rstrip() == body.rstrip(), f"{page.name}: output after block {n} differs"
        previous = n
