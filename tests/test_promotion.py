"""One dtype rule: PyTorch's type promotion in every op (issue 12 item 10)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.primitive import result_dtype

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover
        pytest.skip("torch not installed")
    return torch


operand = st.one_of(
    st.tuples(st.just("tensor"), st.sampled_from(DTYPES), st.booleans()),  # dtype, 0-d?
    st.tuples(st.just("number"), st.sampled_from([True, 3, 2.5])),
)


def _make(spec: tuple, torch: object) -> tuple:
    if spec[0] == "number":
        return spec[1], spec[1]
    shape = () if spec[2] else (2,)
    arr = np.ones(shape, dtype=spec[1])
    return mg.tensor(arr), torch.from_numpy(arr.copy())  # type: ignore[attr-defined]


@given(operand, operand)
def test_result_dtype_and_add_match_torch(a: tuple, b: tuple) -> None:
    torch = _torch()
    if a[0] == "number" and b[0] == "number":
        return
    (ma, ta), (mb, tb) = _make(a, torch), _make(b, torch)
    expect = str(torch.result_type(ta, tb)).replace("torch.", "")
    values = [m.data if isinstance(m, mg.Tensor) else m for m in (ma, mb)]
    assert str(result_dtype(values)) == expect
    assert str((ma + mb).dtype) == expect


@given(operand, operand)
def test_true_division_matches_torch(a: tuple, b: tuple) -> None:
    # integers and bools used to divide into numpy's float64; PyTorch gives float32
    torch = _torch()
    if a[0] == "number" and b[0] == "number":
        return
    (ma, ta), (mb, tb) = _make(a, torch), _make(b, torch)
    got, expect = ma / mb, ta / tb
    assert str(got.dtype) == str(expect.dtype).replace("torch.", "")
    np.testing.assert_array_equal(np.asarray(got.data), expect.numpy())


@pytest.mark.parametrize("a,b,expect", [
    ("int64", "float32", "float32"), ("float32", "float64", "float64"), ("bool", "int64", "int64"),
    ("int32", "float16", "float16"), ("uint8", "int8", "int16"), ("bool", "float32", "float32"),
])
def test_binary_ops_promote_like_torch(a: str, b: str, expect: str) -> None:
    x = mg.tensor(np.ones(3, dtype=a))
    y = mg.tensor(np.full(3, 2, dtype=b))
    for f in (lambda p, q: p + q, lambda p, q: p * q, lambda p, q: p - q if a != "bool" else p + q,
              lambda p, q: mg.maximum(p, q)):
        assert f(x, y).dtype == np.dtype(expect)
        assert f(y, x).dtype == np.dtype(expect)


def test_python_numbers_are_weak_and_zero_dim_tensors_count_less() -> None:
    i = mg.tensor([1, 2, 3])
    f = mg.tensor([1.0, 2.0])
    assert (i * 2.5).dtype == np.float32  # numpy alone would give float64
    assert (2.5 - i).dtype == np.float32
    assert (i + 2).dtype == np.int64 and (mg.tensor(np.int32([1])) + 2).dtype == np.int32
    assert (f * mg.tensor(np.float64(2.0))).dtype == np.float32  # 0-d: same category
    assert (i * mg.tensor(np.float64(2.0))).dtype == np.float64  # 0-d: higher category decides
    assert (f * np.float64(3.0)).dtype == np.float32  # a numpy scalar is a number
    assert (mg.tensor([True]) + 1).dtype == np.int64


def test_gradients_come_back_in_each_inputs_dtype() -> None:
    f32 = mg.tensor([1.0, 2.0], requires_grad=True)
    f64 = mg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    i = mg.tensor([5, 6])
    z = mg.tensor(np.float64(0.5), requires_grad=True)
    y = (f32 * i + f32 * z) * f64  # float32 * int -> float32; float32 * 0-d float64 -> float32
    assert (f32 * i).dtype == np.float32 and (f32 * z).dtype == np.float32
    assert y.dtype == np.float64
    y.sum().backward()
    assert f32.grad.dtype == np.float32 and f64.grad.dtype == np.float64
    assert z.grad.dtype == np.float64 and z.grad.shape == ()
    np.testing.assert_allclose(f32.grad.data, (5.5 * 3, 6.5 * 4))
    np.testing.assert_allclose(f64.grad.data, (5.5, 13.0))
    np.testing.assert_allclose(z.grad.data, 1 * 3 + 2 * 4)


def test_int_tensor_times_float_tensor_backward_matches_torch() -> None:
    torch = _torch()
    w = mg.tensor([0.5, -1.5], requires_grad=True)
    n = mg.tensor([3, 4])
    (mg.tanh(n * w)).sum().backward()
    tw = torch.tensor([0.5, -1.5], requires_grad=True)
    torch.tanh(torch.tensor([3, 4]) * tw).sum().backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-5, atol=1e-8)


def test_where_keeps_its_condition_and_promotes_the_branches() -> None:
    c = mg.tensor([True, False])
    out = mg.where(c, mg.tensor([1, 2]), mg.tensor([0.5, 0.25]))
    assert out.dtype == np.float32 and out.tolist() == [1.0, 0.25]
