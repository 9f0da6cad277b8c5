"""Threads and trust in the fused layers: the thread setting, a plan that depends only on shapes
and that setting (bitwise-reproducible results, also beside a busy process), no process-wide side
effects (OpenBLAS's thread count), failures in the team, padding isolation (NaN and Inf beyond
the lengths reach nothing), and parameters read and checked at call time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import rnn
import rnn.fused_ops as fo
from minigrad import Tensor
from minigrad.nn import Parameter
from rnn import backend

pytestmark = pytest.mark.skipif(not rnn.fused_available(), reason="fused kernels unavailable")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CELLS = {"lstm": rnn.LSTM, "gru": rnn.GRU, "rnn_tanh": rnn.RNN, "rnn_relu": rnn.RNN}


@contextmanager
def num_threads(n: int, min_part_gates: int | None = None) -> Iterator[None]:
    """``mg.set_num_threads(n)`` for a block (and optionally smaller parts), restored after."""
    saved, saved_min = mg.get_num_threads(), fo.MIN_PART_GATES
    mg.set_num_threads(n)
    if min_part_gates is not None:
        fo.MIN_PART_GATES = min_part_gates
    try:
        yield
    finally:
        mg.set_num_threads(saved)
        fo.MIN_PART_GATES = saved_min


def make(kind: str, I: int, H: int, dtype: Any = np.float64, **kw: Any) -> Any:
    if kind.startswith("rnn"):
        kw["nonlinearity"] = kind[4:]
    return CELLS[kind](I, H, dtype=dtype, rng=0, **kw)


def step(layer: Any, x: np.ndarray, lengths: Any = None) -> list[np.ndarray]:
    """Outputs, final states and every gradient of one training step."""
    layer.zero_grad()
    xt = Tensor(x, requires_grad=True)
    out, states = layer(xt, lengths=lengths)
    parts = [out] + list(states if isinstance(states, tuple) else [states])
    rng = np.random.default_rng(7)
    loss = sum(((p * Tensor(rng.standard_normal(p.shape).astype(x.dtype))).sum() for p in parts),
               Tensor(np.zeros((), x.dtype)))
    loss.backward()
    return ([p.data.copy() for p in parts] + [xt.grad.data.copy()]
            + [p.grad.data.copy() for p in layer.parameters()])


# ---- the setting --------------------------------------------------------------------------------
def test_set_num_threads_validates_and_is_process_wide() -> None:
    saved = mg.get_num_threads()
    try:
        for bad in (1.5, "2", True, None):
            with pytest.raises(TypeError, match="set_num_threads: n must be an int >= 1"):
                mg.set_num_threads(bad)  # type: ignore[arg-type]
        for bad_n in (0, -3):
            with pytest.raises(ValueError, match=f"n must be >= 1, got {bad_n}"):
                mg.set_num_threads(bad_n)
        assert mg.get_num_threads() == saved  # a refused value changed nothing
        mg.set_num_threads(np.int64(3))  # any integer type, as an index
        seen: list[int] = []
        t = threading.Thread(target=lambda: seen.append(mg.get_num_threads()))
        t.start()
        t.join()
        assert seen == [3]  # global, like torch.set_num_threads
    finally:
        mg.set_num_threads(saved)


def test_default_is_the_cores_this_process_may_use() -> None:
    code = "import os, minigrad as mg; print(mg.get_num_threads(), len(os.sched_getaffinity(0)))"
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT), check=True).stdout.split()
    assert out[0] == out[1]


@pytest.mark.parametrize("n_dir", [1, 2])
@pytest.mark.parametrize("threads", [1, 2, 3, 4, 8, 16])
@pytest.mark.parametrize(("B", "G"), [(1, 4096), (5, 8), (16, 256), (33, 1024), (64, 2048)])
def test_plan_is_a_pure_function_of_shapes_and_threads(B: int, G: int, n_dir: int,
                                                       threads: int) -> None:
    parts = fo.plan(B, G, n_dir, threads)
    assert parts == fo.plan(B, G, n_dir, threads)
    k = len(parts) // n_dir
    assert k == max(1, min(threads // n_dir, B, B * G // fo.MIN_PART_GATES))
    for d in range(n_dir):
        rows = [r for dd, r in parts if dd == d]
        assert [(r.start, r.stop) for r in rows] == [(B * i // k, B * (i + 1) // k)
                                                    for i in range(k)]
        assert all(r.stop - r.start >= B // k for r in rows)  # nearly equal, none empty


# ---- reproducible, and no process-wide side effects ------------------------------------------
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_every_thread_count_repeats_bitwise_and_matches_one_thread(kind: str) -> None:
    rng = np.random.default_rng(0)
    layer = make(kind, 3, 6, np.float32, bidirectional=True)
    x = rng.standard_normal((5, 9, 3)).astype(np.float32)
    lengths = rng.integers(1, 6, 9)
    with num_threads(1, min_part_gates=1):
        single = step(layer, x, lengths)
    for n in range(1, 9):
        with num_threads(n, min_part_gates=1):
            first = step(layer, x, lengths)
            for a, b in zip(first, step(layer, x, lengths), strict=True):
                np.testing.assert_array_equal(a, b)  # bitwise, run after run
        for a, b in zip(single, first, strict=True):  # other settings: the last bits at most
            np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)


@pytest.mark.skipif(not backend.HAVE_CBLAS, reason="needs numpy's bundled OpenBLAS")
def test_eight_threads_of_fused_layers_leave_blas_and_every_result_alone() -> None:
    """8 user threads run fused layers (on the team) and numpy GEMMs at once, while another
    thread keeps reading OpenBLAS's thread count: it never changes, and every gradient equals
    the one the same layer gives alone at the same thread setting (bitwise)."""
    before = backend.get_blas_threads()
    rng = np.random.default_rng(1)
    kinds = ["lstm", "gru", "rnn_tanh", "rnn_relu"] * 2
    layers = [make(k, 4, 12, np.float32, bidirectional=i % 2 == 1) for i, k in enumerate(kinds)]
    xs = [rng.standard_normal((6, 24, 4)).astype(np.float32) for _ in kinds]
    a = rng.standard_normal((300, 300))
    with num_threads(4, min_part_gates=64):
        alone = [step(layer, x) for layer, x in zip(layers, xs, strict=True)]
        counts: list[int] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                counts.append(backend.get_blas_threads())
                np.dot(a, a)  # a user's GEMM beside the layers

        results: list[Any] = [None] * len(layers)
        errors: list[BaseException] = []

        def user(i: int) -> None:
            try:
                for _ in range(3):
                    results[i] = step(layers[i], xs[i])
                    np.dot(a, a)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        watcher = threading.Thread(target=watch)
        watcher.start()
        users = [threading.Thread(target=user, args=(i,)) for i in range(len(layers))]
        for t in users:
            t.start()
        for t in users:
            t.join()
        stop.set()
        watcher.join()
    assert not errors, errors
    assert counts and set(counts) == {before}
    assert backend.get_blas_threads() == before
    for got, want in zip(results, alone, strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


_TRAIN = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np
    import minigrad as mg
    import rnn
    from minigrad import Tensor
    mg.manual_seed(0)
    mg.set_num_threads(int(sys.argv[1]))
    rng = np.random.default_rng(0)
    layers = [rnn.LSTM(8, 64, rng=1), rnn.GRU(8, 64, bidirectional=True, rng=2)]
    params = [p for layer in layers for p in layer.parameters()]
    opt = mg.optim.SGD(params, lr=0.05)
    for _ in range(3):
        x = Tensor(rng.standard_normal((10, 32, 8)).astype(np.float32))
        lengths = rng.integers(1, 11, 32)
        opt.zero_grad()
        loss = sum((layer(x, lengths=lengths)[0] ** 2).mean() for layer in layers)
        loss.backward()
        opt.step()
    print(hashlib.sha256(b"".join(p.data.tobytes() for p in params)).hexdigest())
    """
)


def _train(threads: int) -> str:
    proc = subprocess.run([sys.executable, "-c", _TRAIN, str(threads)], capture_output=True,
                          text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_training_is_bitwise_reproducible_beside_a_busy_process() -> None:
    quiet = _train(2)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        busy = _train(2)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert busy == quiet


# ---- failures on the team --------------------------------------------------------------------
def test_a_failing_part_raises_on_the_caller_and_leaves_the_team_working(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = fo.lstm_forward

    def flaky(*args: Any, **kw: Any) -> Any:
        if threading.current_thread().name == "minigrad-team":
            raise FloatingPointError("a kernel failed on a helper")
        return real(*args, **kw)

    layer = make("lstm", 3, 8, np.float64)
    x = np.random.default_rng(0).standard_normal((4, 6, 3))
    with num_threads(3, min_part_gates=1):
        want = step(layer, x)
        threads_before = threading.active_count()
        monkeypatch.setattr(fo, "lstm_forward", flaky)
        with pytest.raises(FloatingPointError, match="on a helper"):
            layer(Tensor(x, requires_grad=True))
        assert threading.active_count() == threads_before  # no thread hangs, none leaked
        monkeypatch.setattr(fo, "lstm_forward", real)
        for a, b in zip(want, step(layer, x), strict=True):
            np.testing.assert_array_equal(a, b)


# ---- padding isolation ---------------------------------------------------------------------------
@st.composite
def padded_cases(draw: Any) -> dict[str, Any]:
    T, B = draw(st.integers(2, 5)), draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    return dict(kind=draw(st.sampled_from(sorted(CELLS))), T=T, B=B, lengths=lengths,
                bidirectional=draw(st.booleans()), fill=draw(st.sampled_from(
                    [np.nan, np.inf, -np.inf])), threads=draw(st.integers(1, 4)),
                seed=draw(st.integers(0, 2**16)))


@settings(max_examples=30)
@given(case=padded_cases())
def test_nan_and_inf_beyond_the_lengths_reach_nothing(case: dict[str, Any]) -> None:
    """Outputs, final states and every gradient of a padded batch with NaN or Inf beyond each
    length equal those of its sequences run one at a time without padding (float64, 1e-10)."""
    T, B, lengths = case["T"], case["B"], np.array(case["lengths"])
    layer = make(case["kind"], 3, 4, bidirectional=case["bidirectional"], impl="fused")
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((T, B, 3))
    padded = x.copy()
    padded[np.arange(T)[:, None] >= lengths[None, :]] = case["fill"]
    width = layer.num_directions * layer.output_size
    d_out = rng.standard_normal((T, B, width))
    d_h = rng.standard_normal((layer.num_directions, B, layer.output_size))

    def run(xa: np.ndarray, d_o: np.ndarray, d_hn: np.ndarray, lens: Any) -> list[np.ndarray]:
        layer.zero_grad()
        xt = Tensor(xa, requires_grad=True)
        out, states = layer(xt, lengths=lens)
        h_n = states[0] if isinstance(states, tuple) else states
        ((out * Tensor(d_o)).sum() + (h_n * Tensor(d_hn)).sum()).backward()
        return [out.data, h_n.data, xt.grad.data] + [p.grad.data.copy()
                                                      for p in layer.parameters()]

    with num_threads(case["threads"], min_part_gates=1):
        got = run(padded, d_out, d_h, lengths)
    valid = np.arange(T)[:, None] < lengths[None, :]
    assert np.isfinite(got[0]).all() and (got[0][~valid] == 0).all()
    assert np.isfinite(got[2]).all() and (got[2][~valid] == 0).all()
    weight_grads = [np.zeros_like(g) for g in got[3:]]
    for b, L in enumerate(lengths):
        one = run(x[:L, b:b + 1], d_out[:L, b:b + 1], d_h[:, b:b + 1], None)
        np.testing.assert_allclose(got[0][:L, b:b + 1], one[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[1][:, b:b + 1], one[1], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[2][:L, b:b + 1], one[2], rtol=1e-10, atol=1e-12)
        for acc, g in zip(weight_grads, one[3:], strict=True):
            acc += g
    for g, want in zip(got[3:], weight_grads, strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-11)


# ---- parameters read and checked at call time ----------------------------------------------------
def test_parameters_are_read_at_call_time_and_checked() -> None:
    layer = make("lstm", 3, 4, np.float32, bidirectional=True, impl="fused")
    cell = layer._cells[0][1]  # the reverse direction's cell
    x = Tensor(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32))
    before, _ = layer(x)
    new = Parameter(cell.weight_hh.data * 2)
    cell.weight_hh = new  # a new parameter object: the next call must use it
    after, _ = layer(x)
    layer.impl = "reference"
    ref, _ = layer(x)
    np.testing.assert_allclose(after.data, ref.data, rtol=1e-5, atol=1e-6)
    assert not np.allclose(after.data, before.data)
    layer.impl = "fused"
    cell.weight_hh = Parameter(new.data.astype(np.float64))
    # the layer's own check (both paths) names it first
    with pytest.raises(TypeError, match="LSTM: weight_hh_l0_reverse has dtype float64, but "
                                        "weight_ih_l0_reverse is float32"):
        layer(x)
    cell.weight_hh = Parameter(new.data[:, :3])
    with pytest.raises(ValueError, match=r"LSTM: (parameter )?weight_hh_l0_reverse has shape "
                                         r"\(16, 3\), expected \(16, 4\)"):
        layer(x)
