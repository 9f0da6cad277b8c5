"""Learning-rate schedulers step by step against torch.optim.lr_scheduler: chaining two
schedulers on one optimizer, groups added after the scheduler, ReduceLROnPlateau and OneCycleLR,
and state dicts that are checked before anything changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import checkpoint
from minigrad import optim as ours_optim
from minigrad.optim import lr_scheduler as ours


def _params(n: int = 2) -> list[mg.Tensor]:
    return [mg.tensor(np.zeros(i + 2), requires_grad=True) for i in range(n)]


def _torch_params(torch: Any, n: int = 2) -> list[Any]:
    return [torch.zeros(i + 2, requires_grad=True) for i in range(n)]


Build = Callable[[Any, Any], list[Any]]  # (lr_scheduler module, optimizer) -> schedulers


def run_both(optimizer: str, opt_kwargs: dict[str, Any], build: Build, steps: int,
             metrics: list[float] | None = None,
             between: Callable[[int, Any, Callable[[], list[Any]]], None] | None = None,
             keys: tuple[str, ...] = ("lr",)) -> None:
    """Step ours and torch's side by side; compare every group's ``keys`` after each step."""
    torch = pytest.importorskip("torch")
    half = opt_kwargs["lr"] / 2

    def groups(ps: list[Any]) -> list[dict[str, Any]]:  # two groups, the second at half the lr
        return [{"params": ps[:1]}, {"params": ps[1:], "lr": half}]

    t_opt = getattr(torch.optim, optimizer)(groups(_torch_params(torch)), **opt_kwargs)
    m_opt = getattr(ours_optim, optimizer)(groups(_params()), **opt_kwargs)
    t_sched = build(torch.optim.lr_scheduler, t_opt)
    m_sched = build(ours, m_opt)

    def compare(where: str) -> None:
        for key in keys:
            t_vals = [g[key] for g in t_opt.param_groups]
            m_vals = [g[key] for g in m_opt.param_groups]
            np.testing.assert_allclose(np.array(m_vals, float), np.array(t_vals, float),
                                       rtol=1e-13, atol=1e-15, err_msg=f"{key} {where}")
        for t_s, m_s in zip(t_sched, m_sched, strict=True):
            np.testing.assert_allclose(m_s.get_last_lr(), t_s.get_last_lr(), rtol=1e-13,
                                       atol=1e-15, err_msg=where)

    compare("after construction")
    for i in range(steps):
        if between is not None:
            between(i, t_opt, lambda: _torch_params(torch, 1))
            between(i, m_opt, lambda: _params(1))
        t_opt.step()
        m_opt.step()
        for t_s, m_s in zip(t_sched, m_sched, strict=True):
            if metrics is None:
                t_s.step()
                m_s.step()
            else:
                t_s.step(metrics[i])
                m_s.step(metrics[i])
        compare(f"after step {i + 1}")


def test_two_schedulers_compose_like_torch() -> None:
    # The example: StepLR then ExponentialLR gives 0.9, 0.405, 0.3645 in PyTorch.
    def build(m: Any, opt: Any) -> list[Any]:
        return [m.StepLR(opt, step_size=2, gamma=0.5), m.ExponentialLR(opt, gamma=0.9)]

    opt = ours_optim.SGD(_params(1), lr=1.0)
    a, b = build(ours, opt)
    got = []
    for _ in range(3):
        a.step()
        b.step()
        got.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(got, [0.9, 0.405, 0.3645], rtol=1e-14)
    run_both("SGD", {"lr": 1.0}, build, 12)


@pytest.mark.parametrize("pair", [
    ("StepLR", {"step_size": 3, "gamma": 0.5}, "CosineAnnealingLR", {"T_max": 5}),
    ("CosineAnnealingLR", {"T_max": 4, "eta_min": 0.01}, "ExponentialLR", {"gamma": 0.8}),
    ("ExponentialLR", {"gamma": 0.9}, "LambdaLR", {"lr_lambda": lambda e: 1 / (1 + e)}),
])
def test_chained_pairs_match_torch(pair: tuple[str, dict[str, Any], str, dict[str, Any]]) -> None:
    a_name, a_kw, b_name, b_kw = pair

    def build(m: Any, opt: Any) -> list[Any]:
        return [getattr(m, a_name)(opt, **a_kw), getattr(m, b_name)(opt, **b_kw)]

    run_both("SGD", {"lr": 0.5}, build, 20)


def test_manual_lr_change_carries_forward_like_torch() -> None:
    def build(m: Any, opt: Any) -> list[Any]:
        return [m.StepLR(opt, step_size=2, gamma=0.5)]

    def halve_at_3(i: int, opt: Any, _: Callable[[], list[Any]]) -> None:
        if i == 3:
            for g in opt.param_groups:
                g["lr"] = g["lr"] * 0.3

    run_both("SGD", {"lr": 1.0}, build, 8, between=halve_at_3)


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", {"step_size": 2, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.7}),
])
def test_step_after_add_param_group_matches_torch(name: str, kwargs: dict[str, Any]) -> None:
    # Before: StepLR.step() after add_param_group raised "zip() argument 2 is shorter ...".
    def build(m: Any, opt: Any) -> list[Any]:
        return [getattr(m, name)(opt, **kwargs)]

    def add_at_2(i: int, opt: Any, make: Callable[[], list[Any]]) -> None:
        if i == 2:
            opt.add_param_group({"params": make(), "lr": 0.25})

    run_both("SGD", {"lr": 1.0}, build, 7, between=add_at_2)


def test_closed_form_schedulers_take_in_a_new_group_at_its_lr() -> None:
    opt = ours_optim.SGD(_params(1), lr=1.0)
    cos = ours.CosineAnnealingLR(opt, T_max=4)
    lam = ours.LambdaLR(opt, lambda e: 0.5**e)
    cos.step()
    lam.step()
    opt.add_param_group({"params": _params(1), "lr": 0.2})
    cos.step()
    lam.step()
    assert cos.base_lrs == [1.0, 0.2] and lam.base_lrs == [1.0, 0.2]
    assert len(opt.param_groups[1]) and opt.param_groups[1]["initial_lr"] == 0.2
    assert np.isfinite([g["lr"] for g in opt.param_groups]).all()
    listed = ours.LambdaLR(ours_optim.SGD(_params(1), lr=1.0), [lambda e: 1.0])
    listed.optimizer.add_param_group({"params": _params(1)})
    with pytest.raises(ValueError, match="LambdaLR: the optimizer now has 2 parameter groups"):
        listed.step()
    assert listed.last_epoch == 0


# ----------------------------------------------------------------------------- ReduceLROnPlateau


@pytest.mark.parametrize("kwargs", [
    {},
    {"patience": 1, "factor": 0.5},
    {"patience": 0, "cooldown": 2, "factor": 0.5, "min_lr": 0.01},
    {"mode": "max", "patience": 1, "threshold": 0.1, "threshold_mode": "abs"},
    {"patience": 2, "min_lr": [0.05, 0.001], "eps": 1e-3},
])
def test_reduce_on_plateau_matches_torch(kwargs: dict[str, Any]) -> None:
    rng = np.random.default_rng(0)
    metrics = list(np.round(rng.uniform(0, 1, 40) + np.linspace(1, 0, 40) ** 4, 2))

    def build(m: Any, opt: Any) -> list[Any]:
        return [m.ReduceLROnPlateau(opt, **kwargs)]

    run_both("SGD", {"lr": 1.0}, build, 40, metrics=[float(x) for x in metrics])


@given(patience=st.integers(0, 4), cooldown=st.integers(0, 3),
       factor=st.floats(0.1, 0.9), mode=st.sampled_from(["min", "max"]),
       metrics=st.lists(st.integers(0, 5).map(float), min_size=5, max_size=25))
def test_random_plateaus_match_torch(patience: int, cooldown: int, factor: float, mode: str,
                                     metrics: list[float]) -> None:
    def build(m: Any, opt: Any) -> list[Any]:
        return [m.ReduceLROnPlateau(opt, mode=mode, factor=factor, patience=patience,
                                    cooldown=cooldown)]

    run_both("SGD", {"lr": 1.0}, build, len(metrics), metrics=metrics)


def test_reduce_on_plateau_hand_example_and_errors() -> None:
    opt = ours_optim.SGD(_params(1), lr=1.0)
    sched = ours.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    lrs = []
    for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0]:
        sched.step(mg.tensor(loss))
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor must be < 1.0, got 1.5"):
        ours.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'up'"):
        ours.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="expected 1 values of min_lr"):
        ours.ReduceLROnPlateau(opt, min_lr=[0.1, 0.2])
    with pytest.raises(TypeError, match="the metric must be a number"):
        sched.step("low")


# ----------------------------------------------------------------------------- OneCycleLR


@pytest.mark.parametrize("optimizer,opt_kwargs,kwargs,keys", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, {"max_lr": 1.0, "total_steps": 30}, ("lr", "momentum")),
    ("SGD", {"lr": 0.1}, {"max_lr": [1.0, 0.5], "epochs": 4, "steps_per_epoch": 5,
                          "anneal_strategy": "linear", "cycle_momentum": False}, ("lr",)),
    ("Adam", {"lr": 0.1}, {"max_lr": 0.01, "total_steps": 25, "three_phase": True,
                           "pct_start": 0.25}, ("lr", "betas")),
    ("Adam", {"lr": 0.1}, {"max_lr": 0.01, "total_steps": 17, "div_factor": 10.0,
                           "final_div_factor": 100.0, "base_momentum": 0.8,
                           "max_momentum": 0.9}, ("lr", "betas")),
])
def test_one_cycle_matches_torch(optimizer: str, opt_kwargs: dict[str, Any],
                                 kwargs: dict[str, Any], keys: tuple[str, ...]) -> None:
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]

    def build(m: Any, opt: Any) -> list[Any]:
        return [m.OneCycleLR(opt, **kwargs)]

    keys = tuple(k for k in keys if k != "betas")  # betas compared below (tuples)
    run_both(optimizer, opt_kwargs, build, total - 1, keys=keys)


def test_one_cycle_momentum_and_end() -> None:
    torch = pytest.importorskip("torch")
    t_opt = torch.optim.Adam(_torch_params(torch, 1), lr=0.1)
    m_opt = ours_optim.Adam(_params(1), lr=0.1)
    t_s = torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=0.01, total_steps=10)
    m_s = ours.OneCycleLR(m_opt, max_lr=0.01, total_steps=10)
    for _ in range(10):
        for tg, mg_ in zip(t_opt.param_groups, m_opt.param_groups, strict=True):
            np.testing.assert_allclose(mg_["betas"], tg["betas"], rtol=1e-14)
            np.testing.assert_allclose(mg_["lr"], tg["lr"], rtol=1e-13)
        t_opt.step()
        m_opt.step()
        t_s.step()
        m_s.step()
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 11 times; the schedule has "
                       "total_steps=10"):
        m_s.step()
    assert m_s.last_epoch == 10  # the failed step changed nothing
    with pytest.raises(ValueError, match="cycle_momentum needs an optimizer with momentum"):
        ours.OneCycleLR(ours_optim.Adagrad(_params(1)), max_lr=0.1, total_steps=5)
    with pytest.raises(ValueError, match="give either total_steps or both epochs"):
        ours.OneCycleLR(m_opt, max_lr=0.1)


# ----------------------------------------------------------------------------- state dicts


@pytest.mark.parametrize("make", [
    lambda o: ours.ReduceLROnPlateau(o, patience=1, factor=0.5),
    lambda o: ours.OneCycleLR(o, max_lr=1.0, total_steps=20),
    lambda o: ours.CosineAnnealingLR(o, T_max=5),
], ids=["plateau", "onecycle", "cosine"])
def test_scheduler_state_round_trip_through_a_checkpoint(
    make: Callable[[Any], Any], tmp_path: Path
) -> None:
    def fresh() -> tuple[Any, Any]:
        opt = ours_optim.SGD(_params(), lr=0.1, momentum=0.9)
        return opt, make(opt)

    def advance(s: Any, i: int) -> None:
        if isinstance(s, ours.ReduceLROnPlateau):
            s.step([3.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0][i % 10])
        else:
            s.step()

    opt, sched = fresh()
    for i in range(6):
        advance(sched, i)
    checkpoint.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "c.npz")
    state = checkpoint.load(tmp_path / "c.npz")
    opt2, sched2 = fresh()
    opt2.load_state_dict(state["opt"])
    sched2.load_state_dict(state["sched"])
    for i in range(6, 12):
        advance(sched, i)
        advance(sched2, i)
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def test_scheduler_bad_state_changes_nothing() -> None:
    ps = _params()
    opt = ours_optim.SGD([{"params": ps[:1]}, {"params": ps[1:]}], lr=0.1)
    sched = ours.ReduceLROnPlateau(opt, patience=1)
    sched.step(1.0)
    before = sched.state_dict()
    lrs = [g["lr"] for g in opt.param_groups]
    for bad, error, message in [
        (dict(before, mode="sideways"), ValueError, "'mode' must be one of"),
        (dict(before, _last_lr=[0.1, float("nan")]), ValueError, "finite learning rates"),
        (dict(before, min_lrs=[0.0]), ValueError, "one per parameter group"),
        (dict(before, num_bad_epochs="2"), TypeError, "must be an integer"),
    ]:
        with pytest.raises(error, match=message):
            sched.load_state_dict(bad)
        assert sched.state_dict() == before
        assert [g["lr"] for g in opt.param_groups] == lrs
