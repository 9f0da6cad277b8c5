"""Look at a recorded tape: as text, one line per entry, or as a Graphviz graph.

    >>> import numpy as np, minigrad as mg
    >>> x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    >>> with mg.Tape() as tape:
    ...     y = (x * 2).sum()
    >>> y.backward()
    >>> print(tape)                                      # doctest: +SKIP
    ...

A user's :class:`~minigrad.Tape` (``with minigrad.Tape() as tape``) calls :func:`capture` on every
entry it records: backward frees an entry's saved arrays, so the shapes and dtypes shown here are
noted at record time, and the entry is marked so that backward stores the norm of the gradient
that flowed through it in ``entry.grad_norm`` (see :func:`minigrad.anomaly.after_grads`).
Entries from elsewhere (the thread's default tape, say) are shown from their saved arrays while
those still exist.

:func:`tape_to_dot` writes DOT text without needing Graphviz; :func:`render` runs the ``dot``
program on it when that program is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import tape as _tape
from .tape import Entry
from .tensor import Tensor

__all__ = ["EntryInfo", "Tape", "UNSEEN", "capture", "format_tape", "info", "render", "tape_to_dot"]

#: ``entry.grad_norm`` of an entry that a user's tape watches but no backward has reached yet.
#: A norm is never negative, so this cannot be mistaken for one (a NaN gradient gives ``nan``).
UNSEEN = -1.0

Spec = tuple[tuple[int, ...], str]  # (shape, dtype name)


@dataclass(frozen=True)
class EntryInfo:
    """The shapes and dtypes of one entry's inputs and outputs, noted when it was recorded."""

    inputs: tuple[Spec, ...]
    outputs: tuple[Spec, ...]


_INFO: weakref.WeakKeyDictionary[Entry, EntryInfo] = weakref.WeakKeyDictionary()


def _spec(a: Any) -> Spec:
    if type(a) is not np.ndarray:  # a Python number the engine passed to numpy as is
        return (), f"={a!r}"
    return tuple(a.shape), a.dtype.name


def capture(entry: Entry) -> None:
    """Note ``entry``'s shapes and dtypes and watch its gradient (called by a user's Tape)."""
    saved = entry.saved
    if saved is not None:
        n_in = len(entry.parents)
        _INFO[entry] = EntryInfo(tuple(_spec(a) for a in saved[:n_in]),
                                 tuple(_spec(a) for a in saved[n_in:]))
    entry.grad_norm = UNSEEN


def info(entry: Entry) -> EntryInfo | None:
    """What is known of ``entry``'s shapes: noted at capture, else read from its saved arrays."""
    known = _INFO.get(entry)
    if known is not None:
        return known
    saved = entry.saved
    if saved is None:
        return None
    n_in = len(entry.parents)
    return EntryInfo(tuple(_spec(a) for a in saved[:n_in]), tuple(_spec(a) for a in saved[n_in:]))


# ---- names of leaves ------------------------------------------------------------------------
Names = Mapping[str, Tensor] | Any  # a mapping name -> tensor, or anything with named_parameters()


def _leaf_names(names: Names | None) -> dict[int, str]:
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        pairs: Iterable[tuple[str, Tensor]] = names.named_parameters()
    else:
        pairs = names.items()
    return {id(t): n for n, t in pairs}


def _is_param(t: Tensor) -> bool:
    from .nn import Parameter

    return isinstance(t, Parameter)


def _short_dtype(name: str) -> str:
    for long, short in (("float", "f"), ("uint", "u"), ("int", "i"), ("complex", "c")):
        if name.startswith(long) and name[len(long):].isdigit():
            return short + name[len(long):]
    return name


def _fmt_spec(spec: Spec | None) -> str:
    """``f64[4,3]`` for a float64 array of shape (4, 3); ``f32[]`` for a scalar."""
    if spec is None:
        return "?"
    shape, dtype = spec
    if dtype.startswith("="):  # a Python number: show its value
        return dtype[1:]
    return f"{_short_dtype(dtype)}[{','.join(str(n) for n in shape)}]"


def _fmt_norm(norm: float | None) -> str:
    if norm is None or norm == UNSEEN:
        return "-"
    return f"{norm:.3e}"


def _source(entry: Entry, i: int, leaf_names: dict[int, str]) -> str:
    """Where input ``i`` of ``entry`` came from: ``#7`` (``#7.1`` for output 1), or a leaf."""
    p = entry.parents[i]
    if isinstance(p, Entry):
        return f"#{p.index}" if p.n_out == 1 else f"#{p.index}.{entry.slots[i]}"
    if p is None:
        return "const"
    kind = "param" if _is_param(p) else "leaf"
    name = leaf_names.get(id(p))
    return f"{kind} {name}" if name else kind


# ---- text -----------------------------------------------------------------------------------
def format_tape(entries: Sequence[Entry], names: Names | None = None) -> str:
    """One line per entry, in execution order: index, op, inputs, outputs, gradient norm.

    An input reads ``#7 f32[4,3]`` when it is the output of entry #7 (``#7.1`` for its second
    output), ``leaf``/``param`` for a leaf tensor or a :class:`~minigrad.nn.Parameter` that
    requires grad (with its name when ``names`` maps names to tensors or is a Module), and
    ``const`` for a value that does not. The last column is the norm of the gradient that flowed
    through the entry's outputs in the latest backward (``-`` before one, or if none reached it).
    """
    leaf_names = _leaf_names(names)
    head = ("index", "op", "inputs", "outputs", "grad norm")
    rows: list[tuple[str, str, list[str], list[str], str]] = []
    for e in entries:
        meta = info(e)
        ins = []
        for i in range(len(e.parents)):
            spec = meta.inputs[i] if meta is not None else None
            ins.append(f"{_source(e, i, leaf_names)} {_fmt_spec(spec)}")
        outs = ([_fmt_spec(s) for s in meta.outputs] if meta is not None
                else ["?"] * e.n_out)
        rows.append((f"#{e.index}", e.op.name, _wrap(ins, _INPUTS_WIDTH),
                     _wrap(outs, _OUTPUTS_WIDTH), _fmt_norm(e.grad_norm)))
    if not rows:
        return "Tape (empty)"
    widths = [max(len(head[c]), *(len(r[c]) for r in rows)) for c in range(2)]
    widths += [max(len(head[c]), *(len(x) for r in rows for x in r[c])) for c in (2, 3)]
    lines = [f"Tape ({len(rows)} entr{'y' if len(rows) == 1 else 'ies'})"]

    def line(cells: Sequence[str], norm: str) -> None:
        text = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        lines.append(("  " + text + "  " + norm.rjust(9)).rstrip())

    line(head[:4], head[4])
    for index, op, ins_lines, outs_lines, norm in rows:
        for k in range(max(len(ins_lines), len(outs_lines))):
            first = k == 0
            line([index if first else "", op if first else "",
                  ins_lines[k] if k < len(ins_lines) else "",
                  outs_lines[k] if k < len(outs_lines) else ""], norm if first else "")
    return "\n".join(lines)


_INPUTS_WIDTH = 56  # wider lists of inputs (a fused kernel's) continue on the next lines
_OUTPUTS_WIDTH = 36


def _wrap(items: list[str], width: int) -> list[str]:
    """``items`` joined by ", " into lines of at most ``width`` characters (one item at least)."""
    lines: list[str] = []
    for k, item in enumerate(items):
        piece = item + ("," if k < len(items) - 1 else "")
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines.append(piece)
    return lines or [""]


# ---- DOT ------------------------------------------------------------------------------------
def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def tape_to_dot(entries: Sequence[Entry], names: Names | None = None,
                title: str = "tape") -> str:
    """Graphviz DOT text of the captured graph; no Graphviz program is needed to make it.

    Nodes: one box per op (``#index op``, and the gradient norm after a backward); leaves
    (ellipses, ``leaf``), parameters (green ellipses, ``parameter``), constants (dashed), values
    made before the tape started (``#index (outside tape)``), and the outputs: entry outputs
    that no captured op consumed (double octagons). Edges carry the value's dtype and shape. A
    fused kernel is one box with one edge per output.
    """
    leaf_names = _leaf_names(names)
    inside = {e.index for e in entries}
    used: set[tuple[int, int]] = set()
    lines = [f"digraph {_quote(title)} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    declared: set[str] = set()
    leaf_ids: dict[int, str] = {}  # id(tensor) -> node name, numbered in order of appearance

    def node(name: str, attrs: str) -> None:
        if name not in declared:
            declared.add(name)
            lines.append(f"  {name} [{attrs}];")

    edges: list[str] = []
    for e in entries:
        meta = info(e)
        op_label = f"#{e.index} {e.op.name}"
        if e.n_out > 1:
            op_label += f"\n{e.n_out} outputs"
        if e.grad_norm is not None and e.grad_norm != UNSEEN:
            op_label += f"\n|grad| {e.grad_norm:.3e}"
        node(f"op{e.index}", f"label={_quote(op_label)}, shape=box, style=\"rounded,filled\", "
                             'fillcolor="#f2f2f2"')
        for i, p in enumerate(e.parents):
            spec = _fmt_spec(meta.inputs[i] if meta is not None else None)
            if isinstance(p, Entry):
                slot = e.slots[i]
                src = f"op{p.index}"
                if p.index in inside:
                    used.add((p.index, slot))
                else:
                    outside = f"#{p.index} {p.op.name}\n(outside tape)"
                    node(src, f"label={_quote(outside)}, shape=box, style=dashed")
                label = f"out{slot} {spec}" if p.n_out > 1 else spec
            elif p is None:
                src = f"const{e.index}_{i}"
                node(src, f"label={_quote('const ' + spec)}, shape=ellipse, style=dashed, "
                          "fontsize=9")
                label = ""
            else:
                src = leaf_ids.setdefault(id(p), f"leaf{len(leaf_ids)}")
                name = leaf_names.get(id(p))
                if _is_param(p):
                    text = (name + "\n" if name else "") + f"parameter {spec}"
                    node(src, f"label={_quote(text)}, shape=ellipse, style=filled, "
                              'fillcolor="#c8e6c9"')
                else:
                    text = (name + "\n" if name else "") + f"leaf {spec}"
                    node(src, f"label={_quote(text)}, shape=ellipse, style=filled, "
                              'fillcolor="#bbdefb"')
                label = ""
            text = (f"{i}: " if len(e.parents) > 1 else "") + label
            text = text.rstrip(": ") if not label else text
            edges.append(f"  {src} -> op{e.index} [label={_quote(text)}];" if text
                         else f"  {src} -> op{e.index};")
    for e in entries:
        meta = info(e)
        for k in range(e.n_out):
            if (e.index, k) in used:
                continue
            spec = _fmt_spec(meta.outputs[k] if meta is not None else None)
            text = f"output {spec}" if e.n_out == 1 else f"output {k}\n{spec}"
            node(f"out{e.index}_{k}", f"label={_quote(text)}, shape=doubleoctagon, "
                                      'style=filled, fillcolor="#ffe0b2"')
            edges.append(f"  op{e.index} -> out{e.index}_{k};")
    lines.extend(edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot: str, path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """Draw DOT text to ``path`` with the Graphviz ``dot`` program; returns the path.

    The format comes from ``fmt`` or the file's extension (``.png``, ``.svg``, ``.pdf``, ...).
    Raises ``RuntimeError`` when ``dot`` is not installed (the DOT text itself never needs it).
    """
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError("render: the Graphviz program 'dot' was not found on PATH; install "
                           "Graphviz (e.g. apt install graphviz, brew install graphviz) or paste "
                           "the DOT text into any Graphviz viewer")
    path = os.fspath(path)
    fmt = fmt or os.path.splitext(path)[1].lstrip(".") or "png"
    done = subprocess.run([exe, f"-T{fmt}", "-o", path], input=dot, text=True,
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"render: dot failed ({done.returncode}): {done.stderr.strip()}")
    return path


class Tape(_tape.Tape):
    """``with minigrad.Tape() as tape: ...`` captures, and keeps, every entry recorded in the
    block, notes their shapes (backward frees the arrays) and watches their gradients;
    ``print(tape)`` shows them, :meth:`to_dot` draws them."""

    def __init__(self) -> None:
        super().__init__()
        self._capture = capture

    def __str__(self) -> str:
        return format_tape(self.entries)

    def to_dot(self) -> str:
        """Graphviz DOT text of the captured graph (inputs, ops, outputs; leaves marked)."""
        return tape_to_dot(self.entries)
