"""Optimizer steps run in place after checking everything: the parameters' and the state's own
arrays are updated with no parameter-sized allocation per step; whatever could make the update
fail half-way (state edited by hand, memory that cannot be written, floating-point errors turned
into exceptions) is refused before the first write or reported after the last."""

from __future__ import annotations

import tracemalloc
import warnings
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad.optim import SGD, Adagrad, Adam, AdamW, RMSprop

# Every branch of every update: weight decay, maximize, momentum with and without dampening,
# Nesterov, amsgrad, centered, lr_decay.
CONFIGS: list[tuple[type, dict[str, Any]]] = [
    (SGD, {"lr": 0.1}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "maximize": True}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    (Adam, {"lr": 0.01}),
    (Adam, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    (AdamW, {"lr": 0.01, "betas": (0.3, 0.6)}),
    (AdamW, {"lr": 0.01, "amsgrad": True, "maximize": True}),
    (RMSprop, {"lr": 0.01}),
    (RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    (RMSprop, {"lr": 0.01, "alpha": 0.3, "momentum": 0.5, "maximize": True}),
    (Adagrad, {"lr": 0.1}),
    (Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5,
               "maximize": True}),
]
IDS = [f"{cls.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for cls, kw in CONFIGS]
SHAPES = [(3, 2), (4,), ()]


def bits(opt: Any, params: list[Any]) -> tuple[list[bytes], dict[int, dict[str, Any]]]:
    state = {i: {k: (v.tobytes() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
             for i, s in opt.state.items()}
    return [p.data.tobytes() for p in params], state


def warmed_up(config: tuple[type, dict[str, Any]], shapes: list[tuple[int, ...]] = SHAPES,
              dtype: Any = np.float64, seed: int = 0) -> tuple[Any, list[mg.Tensor]]:
    cls, kwargs = config
    rng = np.random.default_rng(seed)
    params = [mg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    opt = cls(params, **kwargs)
    for _ in range(3):
        for p in params:
            p.grad = mg.tensor(rng.standard_normal(p.shape).astype(dtype))
        opt.step()
    return opt, params


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_a_step_updates_the_parameter_and_state_arrays_in_place(
    config: tuple[type, dict[str, Any]]
) -> None:
    opt, params = warmed_up(config)
    arrays = [p.data for p in params]
    state = {i: {k: v for k, v in s.items() if isinstance(v, np.ndarray)}
             for i, s in opt.state.items()}
    versions = [p._version for p in params]
    before = bits(opt, params)
    opt.step()
    assert bits(opt, params) != before
    assert all(p.data is a for p, a in zip(params, arrays, strict=True))
    assert all(p._version == v + 1 for p, v in zip(params, versions, strict=True))
    for i, s in state.items():
        assert bool(s) == (config is not CONFIGS[0])  # plain SGD has no state
        assert all(opt.state[i][k] is v for k, v in s.items())


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_a_step_allocates_no_parameter_sized_array(config: tuple[type, dict[str, Any]]) -> None:
    n = 50_000  # 400 kB per float64 array; numpy reports its allocations to tracemalloc
    opt, params = warmed_up(config, shapes=[(n,), (100, n // 100), (7,)])
    for p in params:
        p.grad = mg.tensor(np.ones(p.shape))
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < n * 8 // 4


def test_a_float32_parameter_with_a_float64_gradient_is_updated_in_float32() -> None:
    p = mg.tensor(np.ones(4, np.float32), requires_grad=True)
    q = mg.tensor(np.ones(4, np.float32), requires_grad=True)
    opt, ref = Adam([p], lr=0.1), Adam([q], lr=0.1)
    for step in range(3):
        g = np.full(4, 0.1 * (step + 1))
        p.grad = mg.tensor(g)  # float64
        q.grad = mg.tensor(g.astype(np.float32))
        opt.step()
        ref.step()
    assert p.data.dtype == np.float32 and p.data.tobytes() == q.data.tobytes()


BAD_STATE = {
    "wrong shape": (lambda s, k: s.__setitem__(k, np.zeros(5)), r"state '{k}' of parameter 1 must "
                    r"be a float array of the parameter's shape \(4,\), got float64 of shape"),
    "ints": (lambda s, k: s.__setitem__(k, np.zeros(4, np.int64)), "got int64 of shape"),
    "read-only": (lambda s, k: s[k].setflags(write=False), "state '{k}' of parameter 1 is "
                  "read-only"),
    "a list": (lambda s, k: s.__setitem__(k, [0.0] * 4), "got list"),
    "missing": (lambda s, k: s.pop(k), r"state of parameter 1 lacks \['{k}'\]"),
}


@pytest.mark.parametrize("kind", sorted(BAD_STATE))
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_state_edited_by_hand_is_refused_before_any_write(
    config: tuple[type, dict[str, Any]], kind: str
) -> None:
    opt, params = warmed_up(config)
    arrays = [k for k, v in opt.state[1].items() if isinstance(v, np.ndarray)]
    if not arrays:
        pytest.skip("no state arrays (plain SGD)")
    key = arrays[-1]
    if kind == "missing":
        if not opt._state_needed:
            pytest.skip("SGD starts a missing momentum buffer afresh, as torch does")
        key = opt._state_needed[-1]
    for p in params:
        p.grad = mg.tensor(np.ones(p.shape))
    edit, message = BAD_STATE[kind]
    edit(opt.state[1], key)
    before = bits(opt, params)
    with pytest.raises(ValueError, match=message.format(k=key)):
        opt.step()
    assert bits(opt, params) == before


@pytest.mark.parametrize("count", [-1, 1.5, "3", None])
def test_a_bad_step_count_is_refused_before_any_write(count: Any) -> None:
    opt, params = warmed_up((Adam, {"lr": 0.1}))
    opt.state[2]["step"] = count
    before = bits(opt, params)
    with pytest.raises(ValueError, match="state 'step' of parameter 2 must be a count >= 0"):
        opt.step()
    assert bits(opt, params) == before


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_memory_that_cannot_be_written_is_refused_before_any_write(
    config: tuple[type, dict[str, Any]]
) -> None:
    opt, params = warmed_up(config)
    expanded = mg.tensor([1.0, 2.0]).expand(3, 2)  # a broadcast view: rows share memory
    opt.add_param_group({"params": [expanded]})
    for p in [*params, expanded]:
        p.grad = mg.tensor(np.ones(p.shape))
    before = bits(opt, [*params, expanded])
    with pytest.raises(RuntimeError, match="parameter 3: more than one element .* same memory"):
        opt.step()
    assert bits(opt, [*params, expanded]) == before


class Plain:
    """A parameter-like object that is not a minigrad tensor."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.grad: np.ndarray | None = None


def test_a_read_only_plain_parameter_is_refused_before_any_write() -> None:
    a, b = Plain(np.ones(3)), Plain(np.ones(2))
    b.data.setflags(write=False)
    a.grad, b.grad = np.ones(3), np.ones(2)
    opt = SGD([a, b], lr=0.5, momentum=0.9)
    with pytest.raises(ValueError, match=r"parameter 1: the parameter's .data array \(shape "
                                         r"\(2,\)\) is read-only"):
        opt.step()
    assert (a.data == 1).all() and opt.state == {}
    b.data = np.ones(2)
    opt.step()
    assert (a.data == 0.5).all() and (b.data == 0.5).all()


def test_a_parameter_held_read_only_by_a_live_graph_is_updated() -> None:
    w = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (w * w).sum()  # the graph holds w's array read-only
    assert not w.data.flags.writeable
    w.grad = mg.tensor(np.ones(2))
    Adam([w], lr=0.5).step()
    np.testing.assert_allclose(w.data, [0.5, 1.5])
    assert not w.data.flags.writeable  # still the graph's
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def overflowing(cls: type, kwargs: dict[str, Any]) -> tuple[Any, list[mg.Tensor], list[Any]]:
    """An optimizer whose next step overflows in parameter 0 only (float32 g * g), and a
    reference optimizer holding copies of parameters 1 and 2 with the same gradients."""
    opt, params = warmed_up((cls, kwargs), dtype=np.float32)
    ref_params = [mg.tensor(p.data.copy(), requires_grad=True) for p in params[1:]]
    ref = cls(ref_params, **kwargs)
    ref.load_state_dict({"state": {i - 1: s for i, s in opt.state_dict()["state"].items()
                                   if i > 0},
                         "param_groups": [{**opt.state_dict()["param_groups"][0],
                                           "params": [0, 1]}]})
    params[0].grad = mg.tensor(np.full(params[0].shape, 1e30, np.float32))
    for p, r in zip(params[1:], ref_params, strict=True):
        p.grad = mg.tensor(np.ones(p.shape, np.float32))
        r.grad = mg.tensor(np.ones(p.shape, np.float32))
    return opt, params, [ref, ref_params]


@pytest.mark.parametrize("config", [c for c in CONFIGS if c[0] is not SGD],
                         ids=[i for c, i in zip(CONFIGS, IDS, strict=True) if c[0] is not SGD])
def test_a_float_error_is_reported_after_every_parameter_was_updated(
    config: tuple[type, dict[str, Any]]
) -> None:
    opt, params, (ref, ref_params) = overflowing(*config)
    steps = [s["step"] for s in opt.state.values()]
    with pytest.warns(RuntimeWarning, match=rf"{config[0].__name__}.step: overflow encountered "
                                            r"in the update of parameter\(s\) \[0\]"):
        opt.step()  # under pytest's -W error a mid-step warning would have stopped the step
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref.step()
    assert [s["step"] for s in opt.state.values()] == [s + 1 for s in steps]
    for p, r in zip(params[1:], ref_params, strict=True):
        assert p.data.tobytes() == r.data.tobytes()

    opt, params, (ref, ref_params) = overflowing(*config)
    with np.errstate(all="raise"), pytest.raises(
            FloatingPointError, match=r"overflow .* parameter\(s\) \[0\] .*the step was applied"):
        opt.step()
    ref.step()
    for p, r in zip(params[1:], ref_params, strict=True):
        assert p.data.tobytes() == r.data.tobytes()

    opt, params, _ = overflowing(*config)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()  # ignored floating-point errors stay ignored
