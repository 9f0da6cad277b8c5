"""gradcheck in both modes: a deliberately wrong rule, in either mode and at either order, fails
it with a message naming the mode, the input, the element, both values, the tolerance and the
random cotangent or tangent used."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import GradcheckError, gradcheck

X = np.array([0.3, -0.8, 1.1])


def _cube(vjp: Callable[..., Any], jvp: Callable[..., Any]) -> mg.Primitive:
    """x**3 as a user primitive with the given rules."""
    p = mg.Primitive("test_cube", lambda x: x ** 3)
    p.defvjp(vjp)
    p.defjvp(jvp)
    return p


RIGHT_VJP = lambda xp, g, ans, x: g * 3 * x * x  # noqa: E731
RIGHT_JVP = lambda xp, t, ans, x: t[0] * 3 * x * x  # noqa: E731


@pytest.fixture
def cube() -> Iterator[Callable[..., mg.Primitive]]:
    yield _cube
    mg.Primitive.registry.pop("test_cube", None)


def test_right_rules_pass_both_modes_and_orders(cube: Any) -> None:
    p = cube(RIGHT_VJP, RIGHT_JVP)
    assert gradcheck(p, [X], order=2, modes=("fwd", "rev"))


def test_a_wrong_jvp_fails_in_forward_mode(cube: Any) -> None:
    p = cube(RIGHT_VJP, lambda xp, t, ans, x: t[0] * 2 * x * x)
    with pytest.raises(GradcheckError, match=r"gradcheck \(fwd\): gradient of input 0 disagrees "
                                             r"at element \(0,\): output 0 element \(0,\): "
                                             r"analytic 0\.18, numeric 0\.27\d* \(\|diff\| .* "
                                             r"atol 1e-05 \+ rtol 1e-05.*\); tangent the unit "
                                             r"vector at element \(0,\)"):
        gradcheck(p, [X], modes=("fwd", "rev"))
    assert gradcheck(p, [X], modes=("rev",))  # reverse mode alone cannot see it


def test_a_wrong_vjp_fails_in_reverse_mode(cube: Any) -> None:
    p = cube(lambda xp, g, ans, x: g * 3 * x, RIGHT_JVP)
    with pytest.raises(GradcheckError, match=r"gradcheck \(rev\): gradient of input 0 disagrees "
                                             r"at element \(0,\): analytic .*, numeric .* "
                                             r"\(\|diff\| .*\); random cotangent \[.*\]"):
        gradcheck(p, [X], modes=("fwd", "rev"))
    assert gradcheck(p, [X], modes=("fwd",))


def test_a_slightly_wrong_rule_is_caught_by_transposition(cube: Any) -> None:
    """Off by 1e-4: inside loose finite-difference tolerances, far outside rounding."""
    p = cube(RIGHT_VJP, lambda xp, t, ans, x: t[0] * 3 * x * x * (1 + 1e-4))
    assert gradcheck(p, [X], atol=1e-3, rtol=1e-3, modes=("fwd",))
    with pytest.raises(GradcheckError, match=r"gradcheck \(fwd vs rev\): gradient of input 0 "
                                             r"breaks u \. \(J v\) = \(J\^T u\) \. v: forward "
                                             r".*, reverse .* \(\|diff\| .* > tolerance .*\); "
                                             r"random cotangent u \[.*\], random tangent v \[.*\]"):
        gradcheck(p, [X], atol=1e-3, rtol=1e-3)


def test_a_rule_wrong_only_on_tensors_fails_at_second_order(cube: Any) -> None:
    """A jvp that drops its dependence on x when run on Tensors (it reads the data): right
    values, wrong derivatives of them. Forward over reverse sees it."""
    def jvp(xp: Any, t: tuple, ans: Any, x: Any) -> Any:
        return t[0] * 3 * mg.tensor(x.data * x.data)  # x.data: a constant, cut from the graph

    def vjp(xp: Any, g: Any, ans: Any, x: Any) -> Any:
        x2 = x * x if isinstance(x, np.ndarray) else mg.tensor(x.data * x.data)
        return g * 3 * x2

    p = cube(vjp, jvp)
    assert gradcheck(p, [X], modes=("fwd", "rev"))
    with pytest.raises(GradcheckError, match=r"gradcheck \((rev|fwd)\): second derivative of "
                                             r"input 0 disagrees"):
        gradcheck(p, [X], order=2, modes=("fwd", "rev"))


def test_random_directions_name_the_tangent() -> None:
    x = np.random.default_rng(0).standard_normal(80)
    wrong = mg.Primitive("test_wrong_scale", lambda x: x * 2)
    wrong.defvjp(lambda xp, g, ans, x: g * 2)
    wrong.defjvp(lambda xp, t, ans, x: t[0] * 2.5)
    try:
        with pytest.raises(GradcheckError, match=r"gradcheck \(fwd\): gradient of input 0 "
                                                 r"disagrees at random direction 0: .*tangent "
                                                 r"\[.*\]"):
            gradcheck(wrong, [x])
    finally:
        del mg.Primitive.registry["test_wrong_scale"]


def test_modes_are_checked() -> None:
    with pytest.raises(ValueError, match=r"gradcheck: modes must be one or both of \('fwd', "
                                         r"'rev'\), got \('bwd',\)"):
        gradcheck(mg.tanh, [X], modes=("bwd",))
    with pytest.raises(ValueError, match="modes must be"):
        gradcheck(mg.tanh, [X], modes=())


def test_float32_inputs_use_float32_tolerances() -> None:
    assert gradcheck(lambda t: mg.tanh(t) * t, [X.astype(np.float32)], order=2)
