"""In-place operations: same array, versions, PyTorch's refusal rules and dtype rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg


def _torch():
    try:
        import torch as t
    except ImportError:  # pragma: no cover
        pytest.skip("torch not installed")
    return t


OPS = {
    "add_": lambda t, v: t.add_(v),
    "sub_": lambda t, v: t.sub_(v),
    "mul_": lambda t, v: t.mul_(v),
    "div_": lambda t, v: t.div_(v),
    "add_alpha": lambda t, v: t.add_(v, alpha=-0.5),
    "sub_alpha": lambda t, v: t.sub_(v, alpha=3),
    "iadd": lambda t, v: t.__iadd__(v),
    "isub": lambda t, v: t.__isub__(v),
    "imul": lambda t, v: t.__imul__(v),
    "itruediv": lambda t, v: t.__itruediv__(v),
    "copy_": lambda t, v: t.copy_(v),
    "clamp_": lambda t, v: (t.clamp_(min=-0.25, max=0.5) if isinstance(v, float)
                            else t.clamp_(min=-v, max=v)),
    "clamp_min": lambda t, v: t.clamp_(min=v),
}


@pytest.mark.parametrize("name", sorted(OPS))
@given(a=st.lists(st.floats(-3, 3), min_size=6, max_size=6),
       b=st.lists(st.floats(0.5, 3), min_size=3, max_size=3),
       scalar=st.booleans())
def test_matches_torch_same_array_and_version(name: str, a: list, b: list, scalar: bool) -> None:
    torch_ = _torch()
    x = mg.tensor(np.array(a, dtype=np.float32).reshape(2, 3))
    arr = x.data
    v = b[0] if scalar else mg.tensor(b, dtype=np.float64)  # broadcast (3,) over (2, 3)
    tx = torch_.tensor(np.array(a, dtype=np.float32).reshape(2, 3))
    tv = b[0] if scalar else torch_.tensor(b, dtype=torch_.float64)
    before = x._version
    out = OPS[name](x, v)
    OPS[name](tx, tv)
    assert out is x and x.data is arr and x.dtype == np.float32
    assert x._version == before + 1
    np.testing.assert_allclose(x.data, tx.numpy(), rtol=1e-6, atol=1e-7)


def test_no_grad_sgd_step_keeps_the_leaf() -> None:
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    arr = w.data
    (w * w).sum().backward()
    with mg.no_grad():
        w -= 0.1 * w.grad
    assert w.is_leaf and w.requires_grad and w.data is arr
    np.testing.assert_allclose(w.data, [0.8, 1.6, 2.4], rtol=1e-6)
    assert w._version == 1


def test_leaf_that_requires_grad_refuses_outside_no_grad() -> None:
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    for f in (lambda: w.add_(1), lambda: w.__iadd__(1), lambda: w.zero_(),
              lambda: w.__setitem__(0, 3.0), lambda: w.copy_([0.0, 0.0]),
              lambda: w.clamp_(max=0.0), lambda: w.fill_(2.0)):
        with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad \(shape \(2,\)\)"):
            f()
    assert w.tolist() == [1.0, 2.0] and w._version == 0 and w.is_leaf


def test_plus_equals_outside_no_grad_raises_not_rebinds() -> None:
    w = mg.tensor([1.0], requires_grad=True)
    ref = w
    with pytest.raises(RuntimeError, match="add_: a leaf tensor"):
        w += 1
    assert w is ref and w.is_leaf


def test_graph_tensor_refuses_and_value_requiring_grad_refuses() -> None:
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    with pytest.raises(RuntimeError, match=r"made by mul \(tape #\d+\).*out of place"):
        y.mul_(3)
    z = mg.tensor([0.0, 0.0])
    with pytest.raises(RuntimeError, match="value written .* requires grad"):
        z.copy_(w)
    with pytest.raises(RuntimeError, match="value written .* requires grad"):
        z[0] = w[0]
    assert z.tolist() == [0.0, 0.0] and y.tolist() == [2.0, 4.0]
    with mg.no_grad():  # not recorded: a plain write, the version moves
        y.mul_(3)
        z[0] = w[0]
    assert y.tolist() == [6.0, 12.0] and y._version == 1 and z.tolist() == [1.0, 0.0]


def test_plain_tensor_writes_outside_no_grad() -> None:
    z = mg.tensor(np.zeros((2, 3)))
    z[0] = 1.5
    z[:, 1] += 2
    z.clamp_(max=3.0)
    np.testing.assert_array_equal(z.data, [[1.5, 3.0, 1.5], [0.0, 2.0, 0.0]])
    assert z._version >= 3


def test_dtype_rules_follow_torch() -> None:
    torch_ = _torch()
    i = mg.tensor([1, 2, 3])
    ti = torch_.tensor([1, 2, 3])
    for name, f in [("add_", lambda t: t.add_(1.5)), ("div_", lambda t: t.div_(2)),
                    ("mul_", lambda t: t.mul_(mg.tensor([0.5]) if isinstance(t, mg.Tensor)
                                              else torch_.tensor([0.5])))]:
        with pytest.raises(TypeError, match=f"{name}: the result has dtype float.* int64"):
            f(i)
        with pytest.raises(RuntimeError):
            f(ti)
    assert i.tolist() == [1, 2, 3] and i._version == 0
    i.mul_(2)
    i[0] = 7.9  # setitem/copy_/fill_ convert, as torch does
    ti.mul_(2)
    ti[0] = 7.9
    assert i.tolist() == ti.tolist() == [7, 4, 6]
    f = mg.tensor([1.0, 2.0])
    f.add_(mg.tensor([1, 1]))  # int into float32: fine, stays float32
    f.mul_(mg.tensor([2.0, 2.0], dtype=np.float64))  # float64 computed, cast to float32
    assert f.dtype == np.float32 and f.tolist() == [4.0, 6.0]
    b = mg.tensor([True, False])
    with pytest.raises(TypeError, match="int64"):
        b.add_(mg.tensor([1, 1]))


def test_shape_never_changes() -> None:
    x = mg.tensor(np.zeros(3))
    with pytest.raises(ValueError, match=r"shape \(2, 3\) does not broadcast to .* \(3,\)"):
        x.add_(mg.tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match="copy_"):
        x.copy_(np.ones(4))
    with pytest.raises(ValueError, match="fill_: the value must be a number"):
        x.fill_(mg.tensor([1.0, 2.0]))
    x.fill_(mg.tensor([2.0]))
    assert x.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(IndexError, match=r"setitem: .*tensor shape \(3,\)"):
        x[5] = 1.0
    with pytest.raises(ValueError, match="clamp_: at least one"):
        x.clamp_()


def test_version_is_shared_by_detach_and_views() -> None:
    x = mg.tensor(np.zeros((2, 2)))
    d = x.detach()
    row = x[0]
    assert x._version == d._version == row._version == 0
    row.add_(1)  # a view: writes x's memory
    assert x.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert x._version == d._version == row._version == 1
    d.zero_()
    assert x._version == 2 and x.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_broadcast_view_refuses() -> None:
    e = mg.tensor([1.0, 2.0]).expand(3, 2)
    with pytest.raises(RuntimeError, match="same memory location"):
        e.add_(1)


def test_strings_refused() -> None:
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(TypeError):
        x.copy_(np.array(["a", "b"]))
    assert x.tolist() == [1.0, 2.0]


def test_read_only_memory_not_ours_is_refused() -> None:
    t = mg.Tensor(np.frombuffer(b"\x01\x02\x03\x04", dtype=np.uint8))
    with pytest.raises(RuntimeError, match=r"add_: the tensor's memory \(shape \(4,\)\) is "
                                           "read-only and not owned by minigrad"):
        t.add_(1)
    assert t.tolist() == [1, 2, 3, 4] and t._version == 0 and not t.data.flags.writeable


def test_a_write_into_a_held_leaf_keeps_it_read_only_until_the_graph_goes() -> None:
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with mg.no_grad():
        w.add_(1.0)
        w[0] = 0.5
    assert w.tolist() == [0.5, 3.0] and w._version == 2
    assert not w.data.flags.writeable  # the graph still holds it
    del y
    assert w.data.flags.writeable


def test_an_op_output_can_be_written_under_no_grad_and_stays_read_only_to_numpy() -> None:
    y = mg.tensor([1.0, 2.0]) * 2.0  # an op output (no graph): a fresh, writeable array
    y.add_(1.0)
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    z = mg.exp(x)
    with mg.no_grad():
        z.zero_()
    assert z.tolist() == [0.0, 0.0] and not z.data.flags.writeable
    assert y.tolist() == [3.0, 5.0]
