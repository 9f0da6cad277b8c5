"""Primitives for the losses of :mod:`minigrad.nn.functional`: fused where it pays.

``cross_entropy`` fuses log-softmax and the negative log-likelihood into one primitive, and
``softplus`` gives ``binary_cross_entropy_with_logits`` its stable form. Both vjp rules use only
operators, methods and ``xp.exp`` / ``xp.where``, which numpy arrays and Tensors share, so one rule
serves the fast backward on arrays and the recorded one on Tensors (gradients of gradients).

These are the raw primitives, without argument checks: call them through
:mod:`minigrad.nn.functional`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import Primitive

__all__ = ["cross_entropy_primitive", "softplus_primitive", "stable_sigmoid"]


# ---- cross-entropy: log-softmax + NLL ------------------------------------------------------
def _cross_entropy(x: np.ndarray, t: np.ndarray, *, ignore_index: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-position loss ``lse(x[n, :, d]) - x[n, t[n, d], d]`` (0 where ``t == ignore_index``).

    ``x`` has shape ``(N, C, *d)`` and ``t`` integer shape ``(N, *d)``, labels already checked.
    The auxiliary residual is the max over classes (the shift), kept with shape ``(N, 1, *d)``.
    """
    # NOTE: the trap is log(softmax(x)): exp overflows past |x| ~ 88 (float32), and once a
    # probability underflows to 0 its log is -inf and its gradient 1/p is inf, giving nan. Here
    # the max m is subtracted before exp, so every exponent is <= 0 and the sum is in [1, C], and
    # the loss is log(sum(exp(x - m))) - (x_t - m): no log of a tiny probability is ever taken.
    # (Written so, not as lse - x_t with lse = m + log(...): at |x| = 1e4 in float32, lse is
    # rounded to a unit of ~1e-3 before the large parts cancel.) The loss and its gradient stay
    # finite, and accurate, at |x| = 1e4 in float32.
    m = np.max(x, axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype)  # all -inf: avoid inf - inf = nan
    log_s = np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))
    valid = t != ignore_index
    picked = np.take_along_axis(x, np.expand_dims(np.where(valid, t, 0), 1), axis=1)
    loss = np.where(valid, np.squeeze(log_s - (picked - m), 1), 0).astype(x.dtype, copy=False)
    return loss, m


cross_entropy_primitive = Primitive("cross_entropy", _cross_entropy, has_aux=True)


@cross_entropy_primitive.defvjp
def _cross_entropy_vjp(xp: Any, g: Any, ans: Any, x: Any, t: Any, *, ignore_index: int,
                       aux: np.ndarray) -> tuple:
    """d loss[n, d] / d x[n, c, d] = softmax(x)[n, c, d] - [c == t[n, d]] (0 where ignored).

    NOTE: the softmax is ``exp(x - m) / sum(exp(x - m))`` with the forward's max ``m`` as a
    constant shift: every exponent is <= 0 (no overflow) and the sum is in [1, C]. As a function
    of ``x`` the expression is exactly the softmax for any constant shift, so when the rule runs
    on Tensors its own derivative (the softmax Jacobian) is right too. Subtracting the one-hot
    from p (never computing log p) keeps the gradient finite when p underflows.
    """
    e = xp.exp(x - aux)
    p = e / e.sum(axis=1, keepdims=True)
    shape = (t.shape[0], 1) + tuple(t.shape[1:])
    tt = t.reshape(shape)
    classes = np.arange(x.shape[1]).reshape((1, x.shape[1]) + (1,) * (len(shape) - 2))
    gx = xp.where(tt != ignore_index, g.reshape(shape) * xp.where(tt == classes, p - 1, p), 0)
    return gx, None


@cross_entropy_primitive.defjvp
def _cross_entropy_jvp(xp: Any, tangents: tuple, ans: Any, x: Any, t: Any, *,
                       ignore_index: int) -> Any:
    """d loss[n, d] = sum_c (softmax(x) - onehot(t))[n, c, d] * dx[n, c, d] (0 where ignored);
    ``xp.softmax`` subtracts the max first, as the forward does."""
    p = xp.softmax(x, axis=1)
    shape = (t.shape[0], 1) + tuple(t.shape[1:])
    tt = t.reshape(shape)
    classes = np.arange(x.shape[1]).reshape((1, x.shape[1]) + (1,) * (len(shape) - 2))
    d = (xp.where(tt == classes, p - 1, p) * tangents[0]).sum(axis=1)
    return xp.where(t != ignore_index, d, 0)


# ---- softplus ------------------------------------------------------------------------------
def _softplus(x: np.ndarray) -> np.ndarray:
    # NOTE: log(1 + exp(x)) overflows exp for x >~ 88 (float32); logaddexp(0, x) computes
    # max(x, 0) + log1p(exp(-|x|)), finite everywhere and accurate for x << 0 as well.
    return np.logaddexp(np.zeros((), dtype=x.dtype), x)


def stable_sigmoid(xp: Any, x: Any) -> Any:
    """sigmoid(x) for arrays or Tensors without overflow, smooth at 0 to every order.

    NOTE: with u = -|x| written as ``where(x >= 0, -x, x)`` (not ``-abs(x)``, whose derivative
    sign(0) = 0 would be wrong at x = 0), z = exp(u) is in (0, 1] and both branches
    1 / (1 + z) (x >= 0) and z / (1 + z) (x < 0) are finite.
    """
    pos = x >= 0
    z = xp.exp(xp.where(pos, -x, x))
    return xp.where(pos, 1 / (1 + z), z / (1 + z))


softplus_primitive = Primitive("softplus", _softplus)
softplus_primitive.defvjp(lambda xp, g, ans, x: g * stable_sigmoid(xp, x))
softplus_primitive.defjvp(lambda xp, t, ans, x: t[0] * stable_sigmoid(xp, x))
