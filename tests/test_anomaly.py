"""detect_anomaly names the op, its tape index and the user's line, forward and backward."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad.anomaly import AnomalyError, is_anomaly_enabled, origin
from minigrad.tape import _state

HERE = __file__


def _line_of(marker: str) -> int:
    with open(HERE) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


def test_forward_nan_names_op_index_and_line() -> None:
    x = mg.tensor(np.array([1.0, -1.0]), requires_grad=True)
    with np.errstate(invalid="ignore"), mg.detect_anomaly():
        before = mg.tensor(np.ones(1), requires_grad=True) * 1  # takes a tape index
        with pytest.raises(AnomalyError) as info:
            mg.log(x)  # MARK-forward-log
    msg = str(info.value)
    assert "forward pass" in msg
    assert re.search(r"\blog \(tape #(\d+)\) returned nan in its output", msg)
    index = int(re.search(r"tape #(\d+)", msg).group(1))  # type: ignore[union-attr]
    assert index > before._entry.index  # type: ignore[union-attr]
    assert f"{HERE}:{_line_of('MARK-forward-log')}" in msg
    assert "mg.log(x)" in msg  # the source line itself


def test_forward_inf_in_exp_even_without_grad() -> None:
    with np.errstate(over="ignore"), mg.detect_anomaly():
        with pytest.raises(AnomalyError, match=r"exp \(tape #\d+\) returned inf"):
            mg.exp(mg.tensor(np.array([1000.0])))  # MARK-exp
    assert not is_anomaly_enabled()


def test_forward_names_one_output_of_a_multi_output_op() -> None:
    x = mg.tensor(np.array([[0.0, 1.0], [2.0, 3.0]]), requires_grad=True)
    with np.errstate(divide="ignore"), mg.detect_anomaly():
        with pytest.raises(AnomalyError, match=r"returned inf in its output"):
            mg.log(mg.split(x, 1, dim=0)[0])


def test_backward_inf_born_in_sqrt_reaches_a_leaf() -> None:
    # sqrt(0) is fine forward; its backward g / (2 sqrt x) divides by zero
    x = mg.tensor(np.array([0.0, 4.0]), requires_grad=True)
    with np.errstate(divide="ignore"), mg.detect_anomaly():
        y = mg.sqrt(x)  # MARK-sqrt
        loss = (y * 3).sum()
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    msg = str(info.value)
    assert "backward pass" in msg
    assert re.search(rf"backward of sqrt \(tape #{y._entry.index}\) returned inf in the "  # type: ignore[union-attr]
                     r"gradient for its input 0", msg)
    assert f"{HERE}:{_line_of('MARK-sqrt')}" in msg
    assert x.grad is None  # stopped before writing a bad gradient


def test_backward_inf_born_in_log_with_finite_forward() -> None:
    # log(1e-320) = -737 is finite, but 1 / 1e-320 overflows
    x = mg.tensor(np.array([1e-320, 1.0]), requires_grad=True)
    with np.errstate(over="ignore", divide="ignore"), mg.detect_anomaly():
        h = x * 1.0
        y = mg.log(h)  # MARK-log-backward
        loss = (y * 2).sum()
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    msg = str(info.value)
    assert f"backward of log (tape #{y._entry.index})" in msg  # type: ignore[union-attr]
    assert f"{HERE}:{_line_of('MARK-log-backward')}" in msg


def test_hook_that_makes_nan_with_an_op_is_caught_at_that_op() -> None:
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with mg.detect_anomaly():
        y = mg.exp(x)
        y.register_hook(lambda g: g * np.nan)  # MARK-hook-op
        with pytest.raises(AnomalyError) as info:
            y.sum().backward()
    msg = str(info.value)
    assert re.search(r"mul \(tape #\d+\) returned nan", msg)
    assert f"{HERE}:{_line_of('MARK-hook-op')}" in msg


def test_backward_nan_from_a_hook_is_caught_at_the_entry() -> None:
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    with mg.detect_anomaly():
        y = mg.exp(x)  # MARK-hooked
        y.register_hook(lambda g: np.full_like(g.data, np.nan))  # no op: nothing to blame
        with pytest.raises(AnomalyError) as info:
            y.sum().backward()
    msg = str(info.value)
    assert f"gradient arriving at the output of exp (tape #{y._entry.index}) holds nan" in msg  # type: ignore[union-attr]
    assert f"{HERE}:{_line_of('MARK-hooked')}" in msg


def test_backward_check_also_with_create_graph() -> None:
    x = mg.tensor(np.array([0.0, 1.0]), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"), mg.detect_anomaly():
        y = mg.sqrt(x).sum()  # MARK-sqrt2
        with pytest.raises(AnomalyError) as info:
            mg.grad(y, x, create_graph=True)  # the rule runs on Tensors: its ops are checked
    msg = str(info.value)
    assert re.search(r"backward pass: while computing the backward of sqrt \(tape #\d+\), "
                     r"truediv \(tape #\d+\) returned inf", msg), msg
    assert f"{HERE}:{_line_of('MARK-sqrt2')}" in msg


def test_silent_on_clean_graphs_and_results_unchanged() -> None:
    rng = np.random.default_rng(0)
    xv, wv = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))

    def run() -> tuple[np.ndarray, np.ndarray, float]:
        x = mg.tensor(xv, requires_grad=True)
        w = mg.tensor(wv, requires_grad=True)
        h = mg.tanh(x @ w)
        loss = mg.log_softmax(h, -1).sum() + mg.log(mg.sigmoid(h) + 1).mean()
        loss.backward()
        return x.grad.data, w.grad.data, loss.item()  # type: ignore[union-attr]

    plain = run()
    with np.errstate(all="raise"), mg.detect_anomaly():
        watched = run()
    for a, b in zip(plain, watched, strict=True):
        np.testing.assert_array_equal(a, b)


def test_off_by_default_and_restored_on_exit_and_error() -> None:
    assert _state.anomaly is False
    with mg.detect_anomaly():
        assert is_anomaly_enabled()
        with mg.detect_anomaly():
            pass
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()
    with pytest.raises(KeyError), mg.detect_anomaly():
        raise KeyError
    assert not is_anomaly_enabled()
    # off: NaNs pass silently and entries keep their plain op
    x = mg.tensor(np.array([-1.0]), requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = mg.log(x)
    assert np.isnan(y.data).all()
    assert y._entry.op is mg.primitives.log  # type: ignore[union-attr]
    assert origin(y._entry) is None  # type: ignore[arg-type]


def test_per_thread() -> None:
    seen: list[bool] = []
    with mg.detect_anomaly():
        t = threading.Thread(target=lambda: seen.append(is_anomaly_enabled()))
        t.start()
        t.join()
    assert seen == [False]


def test_decorator_form() -> None:
    @mg.detect_anomaly()
    def f() -> bool:
        return is_anomaly_enabled()

    assert f() and not is_anomaly_enabled()


def test_origin_is_the_users_line() -> None:
    x = mg.tensor(np.ones(2), requires_grad=True)
    with mg.detect_anomaly():
        y = mg.softmax(x, -1)  # MARK-softmax: a composite; its primitives live in minigrad
    o = origin(y._entry)  # type: ignore[arg-type]
    assert o is not None and o[0] == HERE and o[1] == _line_of("MARK-softmax")
    assert y._entry.op.name in {"truediv", "exp", "sub", "sum", "mul"}  # type: ignore[union-attr]
    # the entry keeps its primitive itself (no proxy): anomaly mode wraps the rule at backward
    assert type(y._entry.op) is mg.Primitive  # type: ignore[union-attr]
    assert y._entry.op is mg.Primitive.registry[y._entry.op.name]  # type: ignore[union-attr]


def test_fused_kernel_is_named_in_forward_and_backward() -> None:
    rnn = pytest.importorskip("rnn")
    if not rnn.fused_available():
        pytest.skip("the fused kernels need Numba")
    lstm = rnn.LSTM(2, 3, dtype=np.float64, rng=0, impl="fused")
    bad = np.random.default_rng(0).normal(size=(4, 1, 2))
    bad[1, 0, 0] = np.nan
    with mg.detect_anomaly():
        with pytest.raises(AnomalyError, match=r"forward pass: lstm_layer \(tape #\d+\) "
                                               r"returned nan in its output 0"):
            lstm(mg.tensor(bad))  # MARK-fused-forward
        out, _ = lstm(mg.tensor(np.ones((4, 1, 2))))  # MARK-fused-ok
        with pytest.raises(AnomalyError) as info:
            (out * mg.tensor(np.array(np.inf))).sum().backward()  # inf times a gradient
    msg = str(info.value)
    assert "forward pass: mul" in msg  # the product is already inf in the forward pass
    with mg.detect_anomaly():
        out, _ = lstm(mg.tensor(np.ones((4, 1, 2))))  # MARK-fused-seed
        with pytest.raises(AnomalyError) as info:
            out.backward(np.full(out.shape, np.nan))
    msg = str(info.value)
    assert re.search(r"gradient arriving at the output 0 of lstm_layer \(tape #\d+\) holds nan",
                     msg)
    assert f"{HERE}:{_line_of('MARK-fused-seed')}" in msg
