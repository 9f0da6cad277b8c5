"""All-or-nothing optimizer updates: a step, a state load or a scheduler load that fails leaves
every parameter and every piece of optimizer state bit-identical; non-leaf tensors are refused at
construction."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.optim import SGD, Adagrad, Adam, AdamW, RMSprop

CONFIGS: list[tuple[type, dict[str, Any]]] = [
    (SGD, {"lr": 0.1, "momentum": 0.9}),
    (Adagrad, {"lr": 0.1}),
    (RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5}),
    (Adam, {"lr": 0.01, "amsgrad": True}),
    (AdamW, {"lr": 0.01}),
]
SHAPES = [(3, 2), (4,), ()]


def bits(opt: Any, params: list[mg.Tensor]) -> tuple[list[bytes], dict[int, dict[str, Any]]]:
    """The parameters' bytes and a deep copy of the optimizer's state (arrays as bytes)."""
    state = {i: {k: (v.tobytes() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
             for i, s in opt.state.items()}
    return [p.data.tobytes() for p in params], state


def warmed_up(config: tuple[type, dict[str, Any]], seed: int = 0) -> tuple[Any, list[mg.Tensor]]:
    cls, kwargs = config
    rng = np.random.default_rng(seed)
    params = [mg.tensor(rng.standard_normal(s), requires_grad=True) for s in SHAPES]
    opt = cls(params, **kwargs)
    for _ in range(3):
        for p in params:
            p.grad = mg.tensor(rng.standard_normal(p.shape))
        opt.step()
    return opt, params


BAD_GRADS = {
    "shape": lambda p: mg.tensor(np.zeros(p.shape + (2,))),
    "strings": lambda p: np.full(p.shape, "x"),
    "objects": lambda p: np.full(p.shape, None, dtype=object),
}


@given(config=st.sampled_from(CONFIGS), bad_at=st.integers(0, len(SHAPES) - 1),
       kind=st.sampled_from(sorted(BAD_GRADS)), seed=st.integers(0, 100))
def test_a_failing_step_changes_nothing(config: tuple[type, dict[str, Any]], bad_at: int,
                                        kind: str, seed: int) -> None:
    opt, params = warmed_up(config, seed)
    rng = np.random.default_rng(seed + 1)
    for p in params:
        p.grad = mg.tensor(rng.standard_normal(p.shape))
    params[bad_at].grad = BAD_GRADS[kind](params[bad_at])
    before = bits(opt, params)
    with pytest.raises((ValueError, TypeError), match=f"gradient of parameter {bad_at}"):
        opt.step()
    assert bits(opt, params) == before


@pytest.mark.parametrize("config", CONFIGS, ids=[c[0].__name__ for c in CONFIGS])
def test_a_bad_hyperparameter_set_between_steps_changes_nothing(
    config: tuple[type, dict[str, Any]]
) -> None:
    opt, params = warmed_up(config)
    for p in params:
        p.grad = mg.tensor(np.ones(p.shape))
    opt.param_groups[0]["lr"] = float("nan")
    before = bits(opt, params)
    with pytest.raises(ValueError, match="invalid learning rate nan"):
        opt.step()
    assert bits(opt, params) == before


@pytest.mark.parametrize("config", CONFIGS, ids=[c[0].__name__ for c in CONFIGS])
def test_a_failing_state_load_changes_nothing(config: tuple[type, dict[str, Any]]) -> None:
    opt, params = warmed_up(config)
    good = opt.state_dict()
    other, _ = warmed_up(config, seed=5)
    bad = copy.deepcopy(other.state_dict())
    last = max(bad["state"])
    name = next(k for k, v in bad["state"][last].items() if isinstance(v, np.ndarray))
    bad["state"][last][name] = np.full(SHAPES[last], "x")
    groups_before = copy.deepcopy([{k: v for k, v in g.items() if k != "params"}
                                   for g in opt.param_groups])
    before = bits(opt, params)
    with pytest.raises(ValueError, match=f"state '{name}' of parameter {last}"):
        opt.load_state_dict(bad)
    assert bits(opt, params) == before
    assert [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups] == \
        groups_before
    opt.load_state_dict(good)  # and the good one still loads


def test_non_leaf_is_refused_at_construction() -> None:
    w = mg.tensor(np.ones((2, 3)), requires_grad=True)
    leaf = mg.tensor(np.ones(4), requires_grad=True)
    with pytest.raises(ValueError, match=r"SGD: can't optimize a non-leaf Tensor: parameter 1 "
                                         r"\(shape \(2, 3\)\)"):
        SGD([leaf, w * 2], lr=0.1)
    opt = Adam([leaf], lr=0.1)
    with pytest.raises(ValueError, match="parameter 1 \\(shape \\(2, 3\\)\\)"):
        opt.add_param_group({"params": [w + 1]})
    assert len(opt.param_groups) == 1
    torch = pytest.importorskip("torch")
    tw = torch.ones(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        torch.optim.SGD([tw * 2], lr=0.1)


def test_step_writes_into_the_same_arrays() -> None:
    p = mg.tensor(np.ones(3), requires_grad=True)
    arr = p.data
    version = getattr(p, "_version", None)
    opt = SGD([p], lr=0.5)
    p.grad = mg.tensor(np.ones(3))
    opt.step()
    assert p.data is arr and (arr == 0.5).all() and p.is_leaf
    if version is not None:
        assert p._version > version


def test_backward_through_a_graph_older_than_a_step_raises() -> None:
    # Issue 12 item 1, the optimizer variant: b's gradient would be taken at the new w.
    w = mg.tensor(np.array([4.0, 5.0, 6.0]), requires_grad=True)
    x = mg.tensor(np.array([1.0, 2.0, 3.0]))
    a = (x * w).sum()
    b = (x * w * w).sum()
    opt = SGD([w], lr=0.1)
    a.backward()
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place after mul"):
        b.backward()


def test_backward_through_a_graph_older_than_a_state_load_raises() -> None:
    lin = mg.nn.Linear(2, 2)
    y = lin(mg.tensor(np.ones((1, 2), np.float32))).sum()
    lin.load_state_dict({"weight": np.zeros((2, 2)), "bias": np.zeros(2)})
    with pytest.raises(RuntimeError, match="modified in place after"):
        y.backward()
    y2 = lin(mg.tensor(np.ones((1, 2), np.float32))).sum()
    y2.backward()  # a graph built after the load is fine
    assert lin.weight.grad is not None


def test_zero_grad_keeps_the_gradient_array() -> None:
    p = mg.tensor(np.ones(3), requires_grad=True)
    (p * p).sum().backward()
    assert p.grad is not None
    arr = p.grad.data
    SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad.data is arr and (arr == 0).all()


def test_state_that_overflows_the_parameter_dtype_is_refused() -> None:
    p = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = Adam([p], lr=0.1)
    p.grad = mg.tensor(np.ones(3, np.float32))
    opt.step()
    state = opt.state_dict()
    state["state"][0]["exp_avg_sq"] = np.full(3, 1e300)
    before = bits(opt, [p])
    with pytest.raises(ValueError, match="state 'exp_avg_sq' of parameter 0 has finite values "
                                         "that overflow the parameter's float32"):
        opt.load_state_dict(state)
    assert bits(opt, [p]) == before
