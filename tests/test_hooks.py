"""Tensor hooks see and replace gradients; retain_grad keeps interior gradients (PyTorch rules)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import minigrad as mg


def _graph() -> tuple[mg.Tensor, mg.Tensor, mg.Tensor]:
    x = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    h = x * 2  # interior
    loss = (h * h).sum()  # d loss / d h = 2h = 4x, d loss / d x = 8x
    return x, h, loss


def test_hook_on_interior_tensor_sees_its_gradient() -> None:
    x, h, loss = _graph()
    seen: list[np.ndarray] = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    loss.backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 4 * x.data)
    np.testing.assert_allclose(x.grad.data, 8 * x.data)  # type: ignore[union-attr]


def test_hook_on_interior_tensor_scales_what_flows_upstream() -> None:
    x, h, loss = _graph()
    h.register_hook(lambda g: g * 0.5)
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 4 * x.data)  # type: ignore[union-attr]


def test_hook_on_leaf_sees_total_and_replaces_grad() -> None:
    x = mg.tensor(np.array([1.0, -1.0]), requires_grad=True)
    seen: list[np.ndarray] = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)
    (x * 3 + x * x).sum().backward()  # total gradient 3 + 2x from two paths, seen once
    np.testing.assert_allclose(seen, [[5.0, 1.0]])
    np.testing.assert_allclose(x.grad.data, [50.0, 10.0])  # type: ignore[union-attr]


def test_hooks_chain_in_registration_order() -> None:
    x, h, loss = _graph()
    order: list[str] = []

    def first(g: mg.Tensor) -> mg.Tensor:
        order.append("first")
        return g + 1

    def second(g: mg.Tensor) -> None:
        order.append("second")
        np.testing.assert_allclose(g.numpy(), 4 * x.data + 1)  # sees first's result

    h.register_hook(first)
    h.register_hook(second)
    loss.backward()
    assert order == ["first", "second"]
    np.testing.assert_allclose(x.grad.data, 2 * (4 * x.data + 1))  # type: ignore[union-attr]


def test_remove_unregisters_and_is_idempotent() -> None:
    x, h, loss = _graph()
    calls: list[int] = []

    def zero(g: mg.Tensor) -> mg.Tensor:
        calls.append(1)
        return g * 0

    handle = h.register_hook(zero)
    handle.remove()
    handle.remove()
    loss.backward()
    assert calls == []
    np.testing.assert_allclose(x.grad.data, 8 * x.data)  # type: ignore[union-attr]

    y = mg.tensor(np.ones(2), requires_grad=True)
    with y.register_hook(lambda g: g * 0):
        pass  # the context form removes the hook on exit
    (y * 2).sum().backward()
    np.testing.assert_allclose(y.grad.data, [2.0, 2.0])  # type: ignore[union-attr]


def test_remove_one_of_two_leaves_the_other() -> None:
    x = mg.tensor(np.ones(2), requires_grad=True)
    a = x.register_hook(lambda g: g * 2)
    x.register_hook(lambda g: g * 3)
    a.remove()
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])  # type: ignore[union-attr]


def test_register_hook_needs_grad_and_a_callable() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor(np.ones(2)).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="callable"):
        mg.tensor(np.ones(2), requires_grad=True).register_hook(3)  # type: ignore[arg-type]


def test_hook_on_one_output_of_a_multi_output_op() -> None:
    x = mg.tensor(np.arange(4.0), requires_grad=True)
    a, b = mg.split(x, 2)
    a.register_hook(lambda g: g * 100)
    (a.sum() + b.sum()).backward()
    np.testing.assert_allclose(x.grad.data, [100, 100, 1, 1])  # type: ignore[union-attr]


def test_retain_grad_keeps_interior_gradient() -> None:
    x, h, loss = _graph()
    assert h.grad is None
    h.retain_grad()
    loss.backward()
    g = h.grad
    assert g is not None
    np.testing.assert_allclose(g.data, 4 * x.data)
    assert g.dtype == h.dtype
    assert not g.requires_grad


def test_retain_grad_accumulates_and_is_not_doubled() -> None:
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 2
    h.retain_grad()
    h.retain_grad()  # once is enough
    loss = (h * h).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(h.grad.data, 2 * 4 * x.data)  # type: ignore[union-attr]


def test_retain_grad_sees_what_hooks_return_even_registered_later() -> None:
    x, h, loss = _graph()
    h.retain_grad()
    h.register_hook(lambda g: g * 3)  # runs before the retain hook, as in PyTorch
    loss.backward()
    np.testing.assert_allclose(h.grad.data, 12 * x.data)  # type: ignore[union-attr]


def test_retain_grad_on_leaf_is_a_noop() -> None:
    x = mg.tensor(np.ones(2), requires_grad=True)
    x.retain_grad()
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor(np.ones(2)).retain_grad()


def test_retain_grad_with_create_graph_keeps_the_graph() -> None:
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * x
    h.retain_grad()
    (h * h).sum().backward(create_graph=True)  # d/dh = 2h = 2x^2
    assert h.grad is not None and h.grad.requires_grad
    (gx,) = mg.grad(h.grad.sum(), x)  # d/dx sum(2x^2) = 4x
    assert gx is not None
    np.testing.assert_allclose(gx.numpy(), 4 * x.data)


def test_retain_grad_makes_no_reference_cycle() -> None:
    x = mg.tensor(np.ones(3), requires_grad=True)
    h = x * 2
    h.retain_grad()
    entry_ref = weakref.ref(h._entry)  # type: ignore[arg-type]
    h_ref = weakref.ref(h)
    gc.disable()
    try:
        del h
        assert h_ref() is None and entry_ref() is None  # freed by refcount alone
    finally:
        gc.enable()


def test_hook_survives_the_tensor_but_retain_does_not_resurrect_it() -> None:
    x = mg.tensor(np.ones(3), requires_grad=True)
    h = x * 2
    h.retain_grad()
    loss = (h * 3).sum()  # the graph keeps h's entry, not h
    del h
    loss.backward()  # the retain hook finds its tensor gone and does nothing
    np.testing.assert_allclose(x.grad.data, [6.0, 6.0, 6.0])  # type: ignore[union-attr]


# ---- issue 12 item 5, issue 17 item 6: checked returns, self-removal, read-only gradients ----
def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover
        pytest.skip("torch not installed")
    return torch


@pytest.mark.parametrize("interior", [False, True])
def test_a_hook_that_removes_itself_does_not_skip_the_next(interior: bool) -> None:
    torch = _torch()
    for lib in ("mg", "torch"):
        calls: list[str] = []
        if lib == "mg":
            x = mg.tensor([1.0, 2.0], requires_grad=True)
            t = x * 3.0 if interior else x
        else:
            x = torch.tensor([1.0, 2.0], requires_grad=True)
            t = x * 3.0 if interior else x
        handles: list = []

        def first(g: object, calls: list = calls, handles: list = handles) -> None:
            calls.append("first")
            handles[0].remove()

        def second(g: object, calls: list = calls) -> object:
            calls.append("second")
            return g * 2

        handles.append(t.register_hook(first))
        handles.append(t.register_hook(second))
        t.sum().backward()
        grad = np.asarray(x.grad.numpy() if lib == "torch" else x.grad.data)
        assert calls == ["first", "second"], lib
        np.testing.assert_allclose(grad, [6.0, 6.0] if interior else [2.0, 2.0])
        calls.clear()
        x.grad = None
        if interior:  # the graph was freed: hooks on a fresh one
            continue
        t.sum().backward()
        assert calls == ["second"], lib


@pytest.mark.parametrize("interior", [False, True])
def test_a_hook_returning_a_wrong_shape_or_dtype_is_refused(interior: bool) -> None:
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t = x * 2.0 if interior else x

    def bad_shape(g: mg.Tensor) -> mg.Tensor:
        return g.sum()

    h = t.register_hook(bad_shape)
    where = r"output 0 of mul, tape #\d+" if interior else "a leaf tensor of shape"
    with pytest.raises(RuntimeError, match=rf"hook bad_shape on .*{where}.*shape \(\) and dtype "
                                           r"float32; it must .* shape \(3,\) and dtype float32"):
        t.sum().backward(retain_graph=True)
    assert x.grad is None
    h.remove()

    def bad_dtype(g: mg.Tensor) -> np.ndarray:
        return g.data.astype(np.float64)

    t.register_hook(bad_dtype)
    with pytest.raises(RuntimeError, match="hook bad_dtype .* dtype float64"):
        t.sum().backward(retain_graph=True)
    assert x.grad is None


def test_a_hook_returning_a_wrong_shape_under_create_graph_is_refused() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: mg.concatenate([g, g]))
    with pytest.raises(RuntimeError, match=r"hook <lambda> on a leaf tensor of shape \(2,\)"):
        (x * x).sum().backward(create_graph=True)


@pytest.mark.parametrize("how", ["numpy", "minigrad"])
def test_an_in_place_hook_gets_a_clear_error(how: str) -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = x * 1.0

    def double_in_place(g: mg.Tensor) -> mg.Tensor:
        if how == "numpy":
            g.data *= 2
        else:
            g.mul_(2)
        return g

    y.register_hook(double_in_place)
    with pytest.raises(RuntimeError, match=r"hook double_in_place on .* read-only .*g.clone\(\)"):
        (y + z).sum().backward()
    assert x.grad is None


def test_a_cloned_gradient_may_be_changed_in_place() -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = x * 1.0  # add's rule hands the same gradient array to y and z

    def double(g: mg.Tensor) -> mg.Tensor:
        g = g.clone()
        g.mul_(2)
        return g

    y.register_hook(double)
    (y + z).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]  # z's share was not doubled through the shared array
