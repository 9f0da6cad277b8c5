"""The engine's behaviour beyond single-op gradients: the tape, backward's contract, threads,
memory, dtypes, numerical stability and the error messages at the public boundary."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import gradcheck


# ---- tensors and dtypes ---------------------------------------------------------------------
def test_default_dtypes() -> None:
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor(3.0).dtype == np.float32
    assert mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor([True]).dtype == np.bool_
    assert mg.tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert mg.tensor([1, 2], dtype=np.float64).dtype == np.float64


def test_tensor_copies_and_asarray_shares() -> None:
    a = np.ones(3)
    t = mg.tensor(a)
    a[0] = 5
    assert t.data[0] == 1
    assert np.asarray(t) is t.data
    assert t.numpy() is t.data
    assert t.shape == (3,) and t.ndim == 1 and t.size == 3
    assert mg.tensor(2.5).item() == 2.5


def test_integer_tensors_cannot_require_grad() -> None:
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, "
                                        "got int64"):
        mg.tensor([1, 2], requires_grad=True)
    t = mg.tensor([1, 2])
    with pytest.raises(TypeError, match="got int64"):
        t.requires_grad = True


def test_python_scalars_keep_the_tensor_dtype() -> None:
    x = mg.tensor([1.0], requires_grad=True)
    assert (x * 2.5).dtype == np.float32
    assert (2 ** x).dtype == np.float32
    assert mg.where(x > 0, x, 0.0).dtype == np.float32


def test_mixed_precision_gradient_comes_back_in_the_input_dtype() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    (x * y).sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32
    assert y.grad is not None and y.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.data, [3, 4])


def test_comparisons_do_not_require_grad() -> None:
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    for c in (x > 0, x >= 0, x < 0, x <= 0, x == 1, x != 1, (x > 0) & (x < 2), ~(x > 0)):
        assert not c.requires_grad and c.dtype == np.bool_
    assert mg.argmax(x).item() == 0


# ---- backward ------------------------------------------------------------------------------
def test_long_chain_has_no_recursion_limit() -> None:
    x = mg.tensor(np.float64(0.5), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad is not None and x.grad.item() == 1.0


def test_second_backward_over_freed_graph_is_an_error() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="was freed by an earlier backward; pass "
                                           "retain_graph=True"):
        y.backward()


def test_retain_graph_accumulates() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])


def test_non_scalar_backward_needs_grad() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one-element output; this one has shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 0.5], np.float32))
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.data, [2.0, 1.0])


def test_fan_out_accumulates() -> None:
    x = mg.tensor(3.0, requires_grad=True)
    y = x * x + x * 2 + x
    y.backward()
    assert x.grad is not None and x.grad.item() == pytest.approx(2 * 3 + 3)


def test_no_grad_records_nothing() -> None:
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        y = x * 2
        with mg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad

    @mg.no_grad()
    def f(t: mg.Tensor) -> mg.Tensor:
        return t * 3

    assert not f(x).requires_grad
    assert mg.is_grad_enabled()


def test_zero_cotangent_gives_zero_gradients() -> None:
    x = mg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    (g,) = mg.grad(mg.tanh(x) @ x.T, x, grad_outputs=np.zeros((3, 3)))
    assert g is not None and np.all(g.data == 0)


def test_grad_api_leaves_dot_grad_alone_and_reaches_interior_tensors() -> None:
    x = mg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    h = x * x
    y = (h * 3).sum()
    gx, gh = mg.grad(y, [x, h])
    assert x.grad is None
    np.testing.assert_allclose(gx.data, 6 * x.data)  # type: ignore[union-attr]
    np.testing.assert_allclose(gh.data, [3.0, 3.0])  # type: ignore[union-attr]
    z = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="input 0 was not used"):
        mg.grad((x * 2).sum(), [z])
    assert mg.grad((x * 2).sum(), [z], allow_unused=True) == (None,)


def test_grad_of_grad() -> None:
    x = mg.tensor([0.3, -0.7], dtype=np.float64, requires_grad=True)
    (g,) = mg.grad((mg.tanh(x) ** 3).sum(), x, create_graph=True)
    assert g is not None and g.requires_grad
    (gg,) = mg.grad(g.sum(), x)
    t = np.tanh(x.data)
    d1 = 3 * t**2 * (1 - t**2)
    np.testing.assert_allclose(g.data, d1)
    d2 = (6 * t * (1 - t**2) - 12 * t**3 * (1 - t**2) + 0 * t) * 1
    d2 = 6 * t * (1 - t**2) ** 2 - 6 * t**3 * (1 - t**2)
    np.testing.assert_allclose(gg.data, d2)  # type: ignore[union-attr]


def test_backward_create_graph_gives_differentiable_dot_grad() -> None:
    x = mg.tensor(2.0, dtype=np.float64, requires_grad=True)
    (x**3).backward(create_graph=True)
    assert x.grad is not None and x.grad.requires_grad
    (gg,) = mg.grad(x.grad, x)
    assert gg is not None and gg.item() == pytest.approx(12.0)


def test_four_threads_get_exact_gradients() -> None:
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            rng = np.random.default_rng(k)
            x = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
            w = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
            for _ in range(200):
                x.grad = w.grad = None
                loss = mg.tanh(x @ w).sum()
                if k % 2:
                    with mg.no_grad():  # a per-thread switch: the other threads keep recording
                        assert not (x * 2).requires_grad
                loss.backward()
            expect = (1 - np.tanh(x.data @ w.data) ** 2) @ w.data.T
            assert x.grad is not None
            np.testing.assert_allclose(x.grad.data, expect, rtol=1e-12)
            results[k] = x.grad.data
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(results) == [0, 1, 2, 3]


def test_dropped_graphs_do_not_leak() -> None:
    w = mg.tensor(np.ones((64, 64)), requires_grad=True)

    def step() -> None:
        h = mg.tanh(w @ w) * 2
        (h.sum() + h.mean()).item()  # forward only, result thrown away

    for _ in range(50):
        step()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(2000):
        step()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 1_000_000, f"memory grew by {grown} bytes over 2000 dropped graphs"
    assert len(mg.current_tape()) < 50  # the thread's tape forgets entries of dropped graphs


def test_backward_frees_saved_arrays() -> None:
    x = mg.tensor(np.ones(3), requires_grad=True)
    y = mg.exp(x * 2)
    entry = y._entry
    assert entry is not None and entry.saved is not None
    y.sum().backward()
    assert entry.saved is None and entry.freed


# ---- the tape ----------------------------------------------------------------------------
def test_each_op_appends_one_entry_in_order() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.Tape() as tape:
        y = x * 2
        z = mg.exp(y).sum()
        c = mg.tensor([1.0]) * 3  # nothing requires grad: not recorded
    del c
    assert [e.op.name for e in tape.entries] == ["mul", "exp", "sum"]
    idx = [e.index for e in tape.entries]
    assert idx == sorted(idx)
    assert z._entry is tape.entries[-1]


def test_failed_op_leaves_no_entry() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.Tape() as tape:
        with pytest.raises(ValueError):
            x + mg.tensor([1.0, 2.0, 3.0])
    assert len(tape) == 0


def test_saved_residuals_are_read_only() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.exp(x)
    with pytest.raises(ValueError, match="read-only"):
        y.data[0] = 0.0
    entry = y._entry
    assert entry is not None and entry.saved is not None
    with pytest.raises(ValueError, match="read-only"):
        entry.saved[0][0] = 5.0  # the leaf's own array, saved
    with pytest.raises(ValueError, match="read-only"):
        x.data[0] = 1.0  # read-only while the graph lives (writes go through x.copy_ etc.)
    y.sum().backward()
    x.data[0] = 1.0  # backward freed the graph: writeable again


# ---- numerical stability at |x| = 1e4 --------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["log_softmax", "softmax", "logsumexp", "sigmoid"])
def test_stable_at_1e4(name: str, dtype: type) -> None:
    x = mg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype), requires_grad=True)
    fn = {"log_softmax": lambda t: mg.log_softmax(t, -1), "softmax": lambda t: mg.softmax(t, -1),
          "logsumexp": lambda t: mg.logsumexp(t, -1), "sigmoid": mg.sigmoid}[name]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = fn(x)
        (y * mg.tensor(np.linspace(-1, 1, y.size).reshape(y.shape).astype(dtype))).sum().backward()
    assert np.all(np.isfinite(y.data))
    assert x.grad is not None and np.all(np.isfinite(x.grad.data))


def test_stable_values_are_right() -> None:
    x = np.array([1e4, -1e4, 0.0])
    np.testing.assert_allclose(mg.log_softmax(mg.tensor(x)).data, [0, -2e4, -1e4])
    np.testing.assert_allclose(mg.logsumexp(mg.tensor(x)).data, 1e4)
    np.testing.assert_allclose(mg.sigmoid(mg.tensor(x)).data, [1, 0, 0.5])


# ---- errors at the public boundary ---------------------------------------------------------
def test_error_messages_name_op_and_numbers() -> None:
    a = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"^add: shapes \(2,\) and \(3,\) do not broadcast$"):
        a + mg.tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"^mul: shapes \(2,\) and \(3,\) do not broadcast$"):
        a * np.ones(3)
    with pytest.raises(ValueError, match=r"^matmul: inner dimensions 3 and 4 differ"):
        mg.tensor(np.ones((2, 3))) @ mg.tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"^reshape: cannot reshape a tensor of shape \(2,\) "
                                         r"\(2 elements\) into shape \(3,\)"):
        a.reshape(3)
    with pytest.raises(IndexError, match=r"^getitem: index 5 is out of bounds"):
        a[5]
    with pytest.raises(ValueError, match=r"^broadcast_to: cannot broadcast \(2,\) to \(3,\)"):
        a.expand(3)
    with pytest.raises(ValueError, match=r"^concatenate: .* got shapes \[\(2,\), \(1, 2\)\]"):
        mg.concatenate([a, mg.tensor(np.ones((1, 2)))])
    with pytest.raises(IndexError, match=r"^gather: index 7 is out of range for dim 0 of "
                                          r"size 2"):
        mg.gather(a, 0, [0, 7])
    with pytest.raises(ValueError, match=r"^max: the tensor is empty"):
        mg.max(mg.tensor(np.ones(0)))
    with pytest.raises(ValueError, match=r"^split: sizes \[1, 2\] add up to 3, but dim 0 has "
                                         r"size 2"):
        mg.split(a, [1, 2])


def test_backward_checks_rule_results() -> None:
    bad = mg.Primitive("test_bad_shape", lambda x: x.sum(axis=0))
    bad.defvjp(lambda xp, g, ans, x: g)  # forgets to broadcast back: wrong shape
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"test_bad_shape \(tape #\d+\): backward gave a "
                                         r"gradient of shape \(3,\) for input 0 of shape \(2, 3\)"):
        bad(x).sum().backward()
    two = mg.Primitive("test_bad_count", lambda x: x * 1)
    two.defvjp(lambda xp, g, ans, x: (g, g))
    with pytest.raises(ValueError, match="test_bad_count .* backward gave 2 gradients for 1 input"):
        two(x).sum().backward()
    del mg.Primitive.registry["test_bad_shape"], mg.Primitive.registry["test_bad_count"]


def test_gradcheck_reports_the_failing_element() -> None:
    wrong = mg.Primitive("test_wrong_rule", lambda x: x * x)
    wrong.defvjp(lambda xp, g, ans, x: g * x)  # should be 2 g x
    try:
        with pytest.raises(AssertionError, match=r"gradient of input 0 disagrees at element "
                                                 r"\(1,\): analytic .* numeric .* atol"):
            gradcheck(lambda t: wrong(t), [np.array([0.0, 1.0, 2.0])])
    finally:
        del mg.Primitive.registry["test_wrong_rule"]


def test_gradcheck_uses_random_directions_for_large_inputs() -> None:
    x = np.random.default_rng(1).standard_normal((20, 30))
    assert gradcheck(lambda t: mg.tanh(t) @ t.T, [x], full_jacobian_max=16, n_directions=4)


# ---- issue 17 items 5 and 7: grad modes on generators, tape re-entry and nesting -------------
def test_no_grad_on_a_generator_function_applies_to_its_body() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    modes: list[bool] = []

    @mg.no_grad()
    def gen(n: int):  # noqa: ANN202
        for i in range(n):
            got = yield x * float(i)
            modes.append(mg.is_grad_enabled())
            assert got == i
        return "done"

    g = gen(2)
    first = next(g)
    assert mg.is_grad_enabled()  # the caller's mode is untouched between resumes
    second = g.send(0)
    assert not first.requires_grad and not second.requires_grad
    with pytest.raises(StopIteration) as stop:
        g.send(1)
    assert stop.value.value == "done" and modes == [False, False]
    try:
        import torch
    except ImportError:
        return
    tx = torch.tensor([1.0], requires_grad=True)

    @torch.no_grad()
    def tgen():  # noqa: ANN202
        yield tx * 2

    assert next(tgen()).requires_grad == first.requires_grad


def test_enable_grad_on_a_generator_and_throw_close() -> None:
    x = mg.tensor([1.0], requires_grad=True)
    seen: list = []

    @mg.enable_grad()
    def gen():  # noqa: ANN202
        try:
            yield x * 2
            yield x * 3
        except KeyError:
            seen.append(mg.is_grad_enabled())
            yield x * 4
        finally:
            seen.append(("closed", mg.is_grad_enabled()))

    with mg.no_grad():
        g = gen()
        assert next(g).requires_grad
        assert g.throw(KeyError("k")).requires_grad
        g.close()
        assert not mg.is_grad_enabled()
    assert seen == [True, ("closed", True)]


def test_entering_the_same_tape_twice_raises_and_changes_nothing() -> None:
    x = mg.tensor([1.0], requires_grad=True)
    default = mg.current_tape()
    tape = mg.Tape()
    with tape:
        with pytest.raises(RuntimeError, match="already open"):
            tape.__enter__()
        assert mg.current_tape() is tape
        x * 2.0
    assert mg.current_tape() is default and len(tape) == 1
    x * 3.0  # recorded on the default tape again, not held by the user's tape
    assert len(tape) == 1


def test_an_outer_tape_records_the_entries_of_an_inner_one() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.Tape() as outer:
        a = x * 2.0
        with mg.Tape() as inner:
            b = a * 3.0
        c = (b + 1.0).sum()
    assert [e.op.name for e in inner] == ["mul"]
    assert [e.op.name for e in outer] == ["mul", "mul", "add", "sum"]
    text = str(outer)
    for e in outer:
        for p in e.parents:  # every parent entry is on the outer tape: no dangling reference
            assert not isinstance(p, mg.Entry) or p in outer.entries
    assert f"#{inner.entries[0].index}" in text
    c.backward()


def test_tape_exit_restores_the_thread_even_on_error_and_out_of_order() -> None:
    default = mg.current_tape()
    with pytest.raises(ZeroDivisionError):
        with mg.Tape():
            1 / 0  # noqa: B018
    assert mg.current_tape() is default
    a, b = mg.Tape(), mg.Tape()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)  # closed out of order, by hand
    assert mg.current_tape() is b
    b.__exit__(None, None, None)
    assert mg.current_tape() is default
    with pytest.raises(RuntimeError, match="exit without a matching enter"):
        b.__exit__(None, None, None)
    with pytest.raises(RuntimeError, match="default tape cannot be entered"):
        default.__enter__()


# ---- issue 12: clear errors for what cannot be a tensor --------------------------------------
@pytest.mark.parametrize("data", [[[1.0, 2.0], [3.0]], [[1, 2], [3, [4]]]])
def test_ragged_lists_are_refused_clearly(data: list) -> None:
    with pytest.raises(ValueError, match="tensor: cannot make a tensor from ragged nested"):
        mg.tensor(data)
    with pytest.raises(ValueError, match="Tensor: cannot make a tensor from ragged nested"):
        mg.Tensor(data)


@pytest.mark.parametrize("data,what", [
    (["a", "b"], "a list of str"), ([1.5, "x"], "a list of float, str"),
    (np.array(["x"]), "a numpy array"), (np.array([1, None], dtype=object), "a numpy array"),
    ({"a": 1}, "a dict"), (None, "a NoneType"),
])
def test_strings_and_objects_are_refused_clearly(data: object, what: str) -> None:
    with pytest.raises(TypeError, match=f"tensor: cannot make a tensor from {what} "
                                        r"\(numpy dtype .*\): only booleans and numbers"):
        mg.tensor(data)
    with pytest.raises(TypeError, match="only booleans and numbers"):
        mg.tensor(data, dtype=np.float64)  # numpy would parse "1.5"; PyTorch refuses strings


def test_plain_data_still_gets_the_default_dtypes() -> None:
    assert mg.tensor([[1.0, 2.0], [3.0, 4.0]]).dtype == np.float32
    assert mg.tensor([1, 2]).dtype == np.int64 and mg.tensor([True]).dtype == np.bool_
    assert mg.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert mg.tensor(np.arange(3.0)).dtype == np.float64


# ---- the engine core imports nothing that imports it back ------------------------------------
ENGINE_CORE = ("tensor", "tape", "primitive", "autograd", "versions", "forward")
#: imports inside functions that are allowed to point back up: Tensor's methods call the engine
#: (``t.backward()``) at call time
CALL_TIME_IMPORTS = {("tensor", "autograd")}


def _core_imports(module: str, *, in_functions: bool) -> set[str]:
    """The engine-core modules ``minigrad/<module>.py`` imports: at module level (anywhere in the
    file outside functions and ``if TYPE_CHECKING``), and with ``in_functions`` inside functions
    too."""
    import ast
    from pathlib import Path

    path = Path(mg.__file__).parent / f"{module}.py"
    found: set[str] = set()

    def visit(nodes: list, in_function: bool) -> None:
        for n in nodes:
            if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
                continue
            if isinstance(n, ast.ImportFrom) and n.level == 1 and (in_functions or
                                                                    not in_function):
                names = [n.module] if n.module else [a.name for a in n.names]
                found.update(m.split(".")[0] for m in names if m.split(".")[0] in ENGINE_CORE)
            inner = in_function or isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            for field in ("body", "orelse", "finalbody", "handlers"):
                sub = getattr(n, field, None)
                if isinstance(sub, list):
                    visit(sub, inner)

    visit(ast.parse(path.read_text()).body, False)
    return found - {module}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def dfs(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = dfs(nxt, [*path, nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in graph:
        if start not in state:
            found = dfs(start, [start])
            if found:
                return found
    return None


def test_engine_core_has_no_import_cycle() -> None:
    """tensor, tape, primitive, autograd, versions and forward import each other in one
    direction only, at module level and (but for Tensor's methods) inside functions."""
    top = {m: _core_imports(m, in_functions=False) for m in ENGINE_CORE}
    assert _cycle(top) is None, f"module-level import cycle: {' -> '.join(_cycle(top) or [])}"
    assert top["primitive"] >= {"tensor", "tape", "forward"}  # the parser sees imports at all
    every = {m: {d for d in _core_imports(m, in_functions=True)
                 if (m, d) not in CALL_TIME_IMPORTS} for m in ENGINE_CORE}
    assert _cycle(every) is None, f"import cycle: {' -> '.join(_cycle(every) or [])}"


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_docs_excerpts_are_the_code() -> None:
    """A ``py`` block after ``<!-- excerpt: path ... -->`` in docs/*.md is a verbatim run of lines
    of that file (up to indentation): the backward loop in docs/tape.md is the loop as it is."""
    import re
    import textwrap
    from pathlib import Path

    root = Path(mg.__file__).resolve().parents[1]
    pattern = re.compile(r"<!-- excerpt: (\S+)[^>]*-->\n```py\n(.*?)^```", re.S | re.M)
    found = 0
    for page in sorted((root / "docs").glob("*.md")):
        for path, block in pattern.findall(page.read_text()):
            lines = (root / path).read_text().splitlines()
            want = textwrap.dedent(block).rstrip("\n")
            n = len(want.splitlines())
            assert any(textwrap.dedent("\n".join(lines[i:i + n])) == want
                       for i in range(len(lines) - n + 1)), \
                f"{page.name}: the excerpt of {path} starting {want.splitlines()[0]!r} is not in it"
            found += 1
    assert found >= 1


def test_one_contract_both_rules_get_aux_and_needs() -> None:
    """A primitive that asks for aux and needs gets both, as keywords, in its vjp (plain and
    recorded backward) and in its jvp; one that asks for neither gets only its params."""
    from minigrad.forward import dual_level

    seen: list[tuple[str, Any, Any]] = []
    p = mg.Primitive("test_contract_scale", lambda x, y, *, k: (x * y * k, np.full(1, 7.0)),
                     has_aux=True, needs=True)

    @p.defvjp
    def _vjp(xp: Any, g: Any, ans: Any, x: Any, y: Any, *, k: float, aux: Any,
             needs: tuple) -> tuple:
        seen.append(("vjp", float(aux[0]), needs))
        return (g * y * k if needs[0] else None), (g * x * k if needs[1] else None)

    @p.defjvp
    def _jvp(xp: Any, t: tuple, ans: Any, x: Any, y: Any, *, k: float, aux: Any,
             needs: tuple) -> Any:
        seen.append(("jvp", float(aux[0]), needs))
        return (t[0] * y * k if needs[0] else 0) + (x * t[1] * k if needs[1] else 0)

    try:
        x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
        c = mg.tensor(np.array([3.0, 4.0]))
        p(x, c, k=2.0).sum().backward()
        assert seen == [("vjp", 7.0, (True, False))]
        np.testing.assert_array_equal(x.grad.data, [6.0, 8.0])  # type: ignore[union-attr]
        (g,) = mg.grad(p(x, c, k=2.0).sum(), [x], create_graph=True)
        assert seen[-1] == ("vjp", 7.0, (True, False)) and g is not None
        with dual_level() as level:
            level.set_tangent(c, mg.tensor(np.array([1.0, 1.0])))
            out = p(x.detach(), c, k=2.0)
            np.testing.assert_array_equal(level.tangent(out).data, [2.0, 4.0])  # type: ignore
        assert seen[-1] == ("jvp", 7.0, (False, True))
        e = p(x, c, k=2.0)._entry
        assert e is not None and set(e.params) == {"k", "aux", "needs"}
        e.release()
        assert set(e.params) == {"k", "needs"}  # the residuals are freed with saved
        plain = (x * c)._entry
        assert plain is not None and plain.params == {}
    finally:
        del mg.Primitive.registry["test_contract_scale"]


def test_no_grad_and_enable_grad_decorate_without_the_call() -> None:
    """``@mg.no_grad`` (no parentheses) works as ``@torch.no_grad`` does."""
    x = mg.tensor([1.0, 2.0], requires_grad=True)

    @mg.no_grad
    def quiet(t: mg.Tensor) -> mg.Tensor:
        return t * 2

    @mg.enable_grad
    def loud(t: mg.Tensor) -> mg.Tensor:
        return t * 2

    assert not quiet(x).requires_grad and quiet.__name__ == "quiet"
    with mg.no_grad():
        assert loud(x).requires_grad
    assert mg.is_grad_enabled()
