"""Saved-value safety: version checks in backward and read-only saved arrays (issue 12 item 1)."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import versions


def test_issue_repro_direct_write_fails_at_once() -> None:
    x = mg.tensor([1.0, 2, 3], requires_grad=True)
    w = mg.tensor([4.0, 5, 6], requires_grad=True)
    y = (x * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        w.data[:] = 100
    y.backward()
    assert x.grad.tolist() == [4.0, 5.0, 6.0]  # the forward-time w
    w.data[:] = 100  # the graph is freed: the leaf's own array is writeable again
    assert w.data.flags.writeable and x.data.flags.writeable


def test_write_through_minigrad_then_backward_raises_with_the_details() -> None:
    x = mg.tensor([1.0, 2, 3], requires_grad=True)
    w = mg.tensor([4.0, 5, 6], requires_grad=True)
    y = (x * w).sum()
    index = y._entry.parents[0].index  # the mul entry
    with mg.no_grad():
        w.fill_(100.0)
    assert w._version == 1 and w.tolist() == [100.0] * 3
    with pytest.raises(RuntimeError, match=(
            rf"shape \(3,\) \(input 1 of mul\) was modified in place after mul "
            rf"\(tape #{index}\) saved it: version 1, expected 0")):
        y.backward()
    assert x.grad is None and w.grad is None  # nothing accumulated


def test_optimizer_step_between_two_backwards() -> None:
    w = mg.tensor([1.0, -2.0], requires_grad=True)
    a = (w * w).sum()
    b = (w * 3.0).sum() + (w * w).sum()
    opt = mg.optim.SGD([w], lr=0.1)
    a.backward()
    before = w.data.copy()
    try:
        opt.step()
    except ValueError as e:  # an optimizer writing numpy directly meets the read-only array
        assert "read-only" in str(e)
        np.testing.assert_array_equal(w.data, before)
        return
    with pytest.raises(RuntimeError, match="modified in place"):  # writes through minigrad
        b.backward()


def test_manual_sgd_between_two_backwards_raises() -> None:
    w = mg.tensor([1.0, -2.0], requires_grad=True)
    a = (w * w).sum()
    b = (w * w * w).sum()
    a.backward()
    with mg.no_grad():
        w -= 0.1 * w.grad
    with pytest.raises(RuntimeError, match=r"version 1, expected 0"):
        b.backward()


def test_output_written_under_no_grad_is_caught() -> None:
    x = mg.tensor([0.5, 1.0], requires_grad=True)
    y = mg.exp(x)  # exp's rule reads its output
    with mg.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"output 0 of exp"):
        y.sum().backward()


def test_a_view_write_bumps_the_shared_version() -> None:
    base = mg.tensor(np.arange(4.0), requires_grad=True)
    y = (base * base).sum()
    alias = base.detach()[1:3]  # shares memory
    with mg.no_grad():
        alias.zero_()
    assert base._version == 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_lock_counts_per_array_and_restores_when_graphs_die() -> None:
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    g1 = (w * 2.0).sum()
    g2 = (w * w).sum()
    assert not w.data.flags.writeable
    g1.backward()
    assert not w.data.flags.writeable  # g2 still holds it
    del g2
    gc.collect()
    assert w.data.flags.writeable
    g3 = (w * 2.0).sum()
    g3.backward(retain_graph=True)
    assert not w.data.flags.writeable  # retained: still held
    del g3
    assert w.data.flags.writeable
    assert not versions._locks


def test_failed_backward_leaves_no_partial_gradients() -> None:
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    u = mg.tensor([3.0, 4.0], requires_grad=True)
    y = (w * u).sum() + (u * u).sum()
    with mg.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward(retain_graph=True)
    with mg.no_grad():
        w.sub_(1.0)  # back to the old value, but the version moved on: still refused
    with pytest.raises(RuntimeError, match="version 2, expected 0"):
        y.backward()
    assert w.grad is None and u.grad is None


def test_a_failed_walk_leaves_no_stale_partial_gradient_in_a_retained_graph() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2.0
    b = a * 3.0
    c = a * 4.0  # visited before b: its share reaches a before b's hook fails

    def fails(g: mg.Tensor) -> None:
        raise KeyError("hook failed")

    handle = b.register_hook(fails)
    loss = (b + c).sum()
    with pytest.raises(KeyError):
        loss.backward(retain_graph=True)
    assert x.grad is None
    handle.remove()
    loss.backward()
    assert x.grad.tolist() == [14.0, 14.0]  # not 14 + a stale 8


def test_writes_elsewhere_do_not_disturb_a_graph() -> None:
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    other = mg.tensor([0.0])
    y = (w * w).sum()
    other.add_(1.0)  # the clock moves, w's memory does not
    y.backward()
    assert w.grad.tolist() == [2.0, 4.0]


# ---- the property: every backward equals the forward-time gradient or raises --------------
def _model_grads(w1: np.ndarray, w2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.tanh(w1 * w2)
    return (1 - t * t) * w2 + 2 * w1, (1 - t * t) * w1


def _loss(w1: mg.Tensor, w2: mg.Tensor) -> mg.Tensor:
    return (mg.tanh(w1 * w2) + w1 * w1).sum()


action = st.one_of(
    st.tuples(st.just("build")),
    st.tuples(st.just("backward"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("update"), st.integers(0, 1), st.sampled_from(["sub_", "mul_", "copy_",
                                                                     "setitem", "iadd"])),
    st.tuples(st.just("numpy_write"), st.integers(0, 1)),
    st.tuples(st.just("drop"), st.integers(0, 5)),
)


@settings(max_examples=60)
@given(st.lists(action, min_size=1, max_size=14))
def test_interleaved_updates_and_backwards(actions: list) -> None:
    ws = [mg.tensor(np.array([0.3, -0.7, 1.1]), requires_grad=True),
          mg.tensor(np.array([0.5, 0.2, -0.4]), requires_grad=True)]
    graphs: list = []  # [loss, forward-time values, modified since?, freed?] or None when dropped
    g = None
    for act in actions:
        kind = act[0]
        live = [g for g in graphs if g is not None and not g[3]]
        if kind == "build":
            graphs.append([_loss(*ws), (ws[0].data.copy(), ws[1].data.copy()), False, False])
        elif kind == "backward" and graphs:
            g = graphs[act[1] % len(graphs)]
            if g is None:
                continue
            for w in ws:
                w.grad = None
            try:
                g[0].backward(retain_graph=act[2])
            except RuntimeError as e:
                msg = str(e)
                if g[3]:
                    assert "freed by an earlier backward" in msg
                else:
                    assert g[2], f"refused an unmodified graph: {msg}"
                    assert "was modified in place" in msg and "expected" in msg
                    graphs[graphs.index(g)] = None  # drop it: a failed walk may have freed part
                continue
            assert not g[3] and not g[2], "a backward through a modified or freed graph ran"
            expect = _model_grads(*g[1])
            for w, e in zip(ws, expect, strict=True):
                np.testing.assert_allclose(w.grad.data, e, rtol=1e-12)
            g[3] = not act[2]
        elif kind == "update":
            w = ws[act[1]]
            with mg.no_grad():
                if act[2] == "sub_":
                    w.sub_(0.1)
                elif act[2] == "mul_":
                    w.mul_(0.9)
                elif act[2] == "copy_":
                    w.copy_(w.data[::-1].copy())
                elif act[2] == "setitem":
                    w[1] = 0.25
                else:
                    w += 0.05
            for g in live:
                g[2] = True
        elif kind == "numpy_write":
            w = ws[act[1]]
            if live:
                with pytest.raises(ValueError, match="read-only"):
                    w.data[0] = 9.0
            else:
                w.data[0] = 9.0  # nobody holds it: a plain numpy write works
        elif kind == "drop" and graphs:
            graphs[act[1] % len(graphs)] = None
    graphs.clear()
    live = g = None  # noqa: F841 - the last references to the graphs
    gc.collect()
    assert all(w.data.flags.writeable for w in ws)


def test_threads_sharing_a_parameter_keep_the_lock_counts_right() -> None:
    import threading

    w = mg.tensor(np.linspace(-1.0, 1.0, 8), requires_grad=True)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            rng = np.random.default_rng(seed)
            for _ in range(200):
                x = mg.tensor(rng.standard_normal(8))
                (g,) = mg.grad((mg.tanh(w * x) * w).sum(), w)
                t = np.tanh(w.data * x.data)
                np.testing.assert_allclose(g.data, (1 - t * t) * x.data * w.data + t)
                if rng.integers(2):
                    _ = (w * x).sum()  # a graph dropped without backward
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    gc.collect()
    assert w.data.flags.writeable and id(w.data) not in versions._locks


def test_the_write_history_goes_with_the_array() -> None:
    x = mg.tensor(np.zeros(3))
    x.add_(1.0)
    key = id(x.data)
    assert key in versions._written and x._version == 1
    del x
    gc.collect()
    assert key not in versions._written
