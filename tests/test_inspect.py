"""The tape as text and as Graphviz DOT: exact content for known small graphs."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.inspect import format_tape, render, tape_to_dot
from minigrad.nn import Parameter
from minigrad.primitive import Primitive


def _split_forward(x: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """A stand-in for a fused kernel: two outputs from one entry, plus an aux residual."""
    return (x * 2, x[..., :1] * 3), x.copy()


split2 = Primitive("test_inspect_split2", _split_forward, n_out=2, has_aux=True)


@split2.defvjp
def _split_vjp(xp, g, ans, x, aux):  # type: ignore[no-untyped-def]
    g0, g1 = g
    gx = np.array(g0 * 2)
    gx[..., :1] += g1 * 3
    return gx


def _small_graph() -> tuple[mg.Tape, mg.Tensor, mg.Tensor, Parameter, Parameter]:
    x = mg.tensor(np.arange(6.0).reshape(2, 3) / 10, requires_grad=True)
    w = Parameter(np.full((3, 2), 0.5))
    b = Parameter(np.zeros(2))
    with mg.Tape() as tape:
        h = mg.tanh(x @ w + b)
        loss = (h * h).sum()
    return tape, loss, x, w, b


def test_tape_text_before_and_after_backward() -> None:
    tape, loss, x, w, b = _small_graph()
    n = tape.entries[0].index
    assert [e.index for e in tape.entries] == list(range(n, n + 5))
    before = str(tape)
    lines = before.splitlines()
    assert lines[0] == "Tape (5 entries)"
    assert lines[1].split() == ["index", "op", "inputs", "outputs", "grad", "norm"]
    assert lines[2].split() == [f"#{n}", "matmul", "leaf", "f64[2,3],", "param", "f64[3,2]",
                                "f64[2,2]", "-"]
    assert lines[3].split() == [f"#{n + 1}", "add", f"#{n}", "f64[2,2],", "param", "f64[2]",
                                "f64[2,2]", "-"]
    assert lines[5].split() == [f"#{n + 3}", "mul", f"#{n + 2}", "f64[2,2],", f"#{n + 2}",
                                "f64[2,2]", "f64[2,2]", "-"]
    assert lines[6].split() == [f"#{n + 4}", "sum", f"#{n + 3}", "f64[2,2]", "f64[]", "-"]

    loss.backward()
    after = str(tape).splitlines()
    # the saved arrays are freed, yet the shapes are still shown (noted at record time)
    assert all(e.saved is None for e in tape.entries)
    h = np.tanh(x.data @ w.data + b.data)
    expected = {
        n + 4: 1.0,                                          # d loss / d loss
        n + 3: np.linalg.norm(np.ones((2, 2))),              # into h*h
        n + 2: np.linalg.norm(2 * h),                        # into tanh's output
        n + 1: np.linalg.norm(2 * h * (1 - h * h)),          # into add's output
        n: np.linalg.norm(2 * h * (1 - h * h)),              # into matmul's output
    }
    for e in tape.entries:
        assert e.grad_norm == pytest.approx(expected[e.index], rel=1e-12)
    for line, e in zip(after[2:], tape.entries, strict=True):
        assert line.split()[-1] == f"{expected[e.index]:.3e}"
        assert line.split()[-2] == ("f64[]" if e.op.name == "sum" else "f64[2,2]")


def test_tape_text_names_leaves_and_parameters() -> None:
    tape, _, x, w, b = _small_graph()
    text = format_tape(tape.entries, names={"x": x, "W": w, "b": b})
    lines = text.splitlines()
    assert "leaf x f64[2,3], param W f64[3,2]" in lines[2]
    assert "param b f64[2]" in lines[3]

    class Model(mg.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = w

    assert "param weight f64[3,2]" in format_tape(tape.entries, names=Model())


def test_tape_text_constants_and_empty() -> None:
    x = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    with mg.Tape() as tape:
        _ = x * mg.tensor(np.full(3, 2.0, np.float32))
        _ = (x * 0.5).sum()
    lines = str(tape).splitlines()
    assert lines[2].split()[1:6] == ["mul", "leaf", "f32[3],", "const", "f32[3]"]
    assert lines[3].split()[1:6] == ["mul", "leaf", "f32[3],", "const", "0.5"]
    assert 'label="const 0.5"' in tape.to_dot()
    with mg.Tape() as empty:
        pass
    assert str(empty) == "Tape (empty)"


def test_tape_dot_content() -> None:
    tape, loss, *_ = _small_graph()
    n = tape.entries[0].index
    loss.backward()
    dot = tape.to_dot()
    assert dot.startswith('digraph "tape" {') and dot.rstrip().endswith("}")
    # one box per op, with the gradient norm after backward
    for k, op in enumerate(["matmul", "add", "tanh", "mul", "sum"]):
        assert re.search(rf'op{n + k} \[label="#{n + k} {op}\\n\|grad\| [0-9.e+-]+", shape=box',
                         dot), op
    # leaves and parameters are marked, each declared once
    assert dot.count('[label="leaf f64[2,3]", shape=ellipse') == 1
    assert dot.count('[label="parameter f64[3,2]", shape=ellipse') == 1
    assert dot.count('[label="parameter f64[2]", shape=ellipse') == 1
    assert f'leaf0 -> op{n} [label="0"];' in dot
    assert f'leaf1 -> op{n} [label="1"];' in dot
    assert f'leaf2 -> op{n + 1} [label="1"];' in dot
    # op-to-op edges carry shapes; x*x uses the tanh output twice
    assert f'op{n} -> op{n + 1} [label="0: f64[2,2]"];' in dot
    assert f'op{n + 1} -> op{n + 2} [label="f64[2,2]"];' in dot
    assert f'op{n + 2} -> op{n + 3} [label="0: f64[2,2]"];' in dot
    assert f'op{n + 2} -> op{n + 3} [label="1: f64[2,2]"];' in dot
    # the one output nobody consumed
    assert f'out{n + 4}_0 [label="output f64[]", shape=doubleoctagon' in dot
    assert f"op{n + 4} -> out{n + 4}_0;" in dot
    assert dot.count("doubleoctagon") == 1
    assert dot.count("->") == 9


def test_dot_names_and_outside_values() -> None:
    x = mg.tensor(np.ones(2), requires_grad=True)
    y = x * 2  # recorded before the tape
    with mg.Tape() as tape:
        z = y.exp()
    del z
    dot = tape_to_dot(tape.entries, names={"x": x})
    m = y._entry.index  # type: ignore[union-attr]
    assert f'op{m} [label="#{m} mul\\n(outside tape)", shape=box, style=dashed];' in dot
    assert "leaf" not in dot  # x is behind the outside entry


def test_fused_entry_is_one_line_and_one_box() -> None:
    x = mg.tensor(np.ones((2, 4)), requires_grad=True)
    with mg.Tape() as tape:
        a, c = split2(x)
        loss = a.sum() + (c * c).sum()
    k = tape.entries[0]
    assert k.op.name == "test_inspect_split2" and k.n_out == 2
    loss.backward()
    np.testing.assert_allclose(x.grad.data, [[2 + 18, 2, 2, 2]] * 2)  # type: ignore[union-attr]
    lines = str(tape).splitlines()
    assert len(lines) == 2 + len(tape.entries)
    first = lines[2].split()
    assert first[:5] == [f"#{k.index}", "test_inspect_split2", "leaf", "f64[2,4]", "f64[2,4],"]
    assert first[5] == "f64[2,1]"
    # both outputs' gradients count: ones(2,4) into a, 2c = 6 into c
    assert k.grad_norm == pytest.approx(np.sqrt(8 + 2 * 36))
    assert first[6] == f"{np.sqrt(8 + 2 * 36):.3e}"
    # the second output is referred to as #k.1
    assert any(f"#{k.index}.1 f64[2,1]" in line for line in lines)
    dot = tape.to_dot()
    assert len(re.findall(rf"^  op{k.index} \[", dot, flags=re.M)) == 1  # one node
    assert f'label="#{k.index} test_inspect_split2\\n2 outputs' in dot
    assert re.search(rf'op{k.index} -> op\d+ \[label="out0 f64\[2,4\]"\]', dot)
    assert re.search(rf'op{k.index} -> op\d+ \[label="0: out1 f64\[2,1\]"\]', dot)


def test_entries_not_reached_by_backward_show_no_norm() -> None:
    x = mg.tensor(np.ones(2), requires_grad=True)
    with mg.Tape() as tape:
        used = (x * 2).sum()
        unused = x.exp()
    used.backward()
    assert tape.entries[-1].op.name == "exp"
    assert str(tape).splitlines()[-1].split()[-1] == "-"
    del unused


def test_default_tape_entries_read_from_saved() -> None:
    x = mg.tensor(np.ones(3), requires_grad=True)
    y = x.sqrt()
    text = format_tape([y._entry])  # type: ignore[list-item]
    assert text.splitlines()[2].split()[1:] == ["sqrt", "leaf", "f64[3]", "f64[3]", "-"]


def test_render_without_graphviz_raises_clearly(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz program 'dot' was not found"):
        render("digraph { a -> b }", tmp_path / "g.png")


def test_render_with_graphviz(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    tape, *_ = _small_graph()
    out = render(tape.to_dot(), tmp_path / "g.svg")
    assert "<svg" in open(out).read()


def test_real_fused_lstm_layer_is_one_entry() -> None:
    rnn = pytest.importorskip("rnn")
    if not rnn.fused_available():
        pytest.skip("the fused kernels need Numba")
    lstm = rnn.LSTM(3, 4, dtype=np.float64, rng=0, impl="fused")
    x = mg.tensor(np.random.default_rng(0).normal(size=(5, 2, 3)))
    with mg.Tape() as tape:
        out, _ = lstm(x)
        loss = (out[-1] ** 2).sum()
    loss.backward()
    kernel = [e for e in tape.entries if e.op.name == "lstm_layer"]
    assert len(kernel) == 1 and kernel[0].n_out == 3
    k = kernel[0]
    h_last = out.numpy()[-1]
    # the gradient reaching the kernel: 2 h_T into out[-1], nothing into h_n, c_n
    assert k.grad_norm == pytest.approx(np.linalg.norm(2 * h_last), rel=1e-12)
    text = format_tape(tape.entries, names=lstm).splitlines()
    row = next(i for i, line in enumerate(text) if "lstm_layer" in line)
    assert text[row].split()[:3] == [f"#{k.index}", "lstm_layer", "const"]
    assert text[row].split()[-4:] == ["f64[5,2,4],", "f64[1,2,4],", "f64[1,2,4]",
                                      f"{k.grad_norm:.3e}"]
    wrapped = " ".join(text[row:row + 4])  # seven inputs continue over the next lines
    for name, shape in [("weight_ih_l0", "f64[16,3]"), ("weight_hh_l0", "f64[16,4]"),
                        ("bias_ih_l0", "f64[16]"), ("bias_hh_l0", "f64[16]")]:
        assert f"param {name} {shape}" in wrapped
    assert text[row + 1].split()[0] == "param"  # a continuation line has no index
    dot = tape.to_dot()
    assert len(re.findall(rf"^  op{k.index} \[", dot, flags=re.M)) == 1  # one node
    assert f'label="#{k.index} lstm_layer\\n3 outputs\\n|grad| {k.grad_norm:.3e}"' in dot
    assert dot.count(f"-> op{k.index} ") == 7
    assert re.search(rf'op{k.index} -> op\d+ \[label="out0 f64\[5,2,4\]"\]', dot)
