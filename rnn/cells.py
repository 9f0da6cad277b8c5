"""Recurrent cells: one time step of a recurrent network, composed of minigrad ops.

A cell maps ``(x_t, state) -> state``. The state is a Tensor (RNN, GRU) or a tuple of Tensors
whose first element is the output (LSTM: ``(h, c)``); ``state=None`` means zeros. Any object
with this interface, including one you write yourself, runs in the sequence machinery of
:mod:`rnn.layers`::

    class MinimalCell(Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.input_size, self.hidden_size = input_size, hidden_size
            self.weight = Parameter(np.random.uniform(-0.1, 0.1, (hidden_size, input_size)))

        def __call__(self, x, state=None):
            h = minigrad.tanh(x @ self.weight.T)
            return h if state is None else h + state

Shape legend: B batch, I input size, H hidden size, P projection size (LSTM with ``proj_size``).
Weights act as ``x @ W.T`` and have PyTorch's names, shapes, gate order and initialisation
(every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))), so a cell's ``state_dict`` is exchangeable
with ``torch.nn.RNNCell``, ``LSTMCell`` and ``GRUCell``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor
from minigrad.nn import Module, Parameter
from minigrad.nn.init import get_rng

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "State"]

#: the state a cell carries from one step to the next: h, or a tuple whose first element is h
State = Tensor | tuple[Tensor, ...]


def output_of(state: State) -> Tensor:
    """The part of a state that a layer outputs: the state itself, or its first element."""
    return state[0] if isinstance(state, tuple) else state


class _CellBase(Module):
    """What the built-in cells share: parameter creation and input checks."""

    _name = "Cell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, n_gates: int,
                 dtype: Any, rng: np.random.Generator | int | None,
                 recurrent_size: int | None = None,
                 extra: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"{self._name}: input_size and hidden_size must be >= 1, "
                             f"got {input_size} and {hidden_size}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        gen = get_rng(rng)
        dt = np.dtype(dtype)
        bound = 1.0 / math.sqrt(hidden_size)
        G = n_gates * hidden_size
        R = hidden_size if recurrent_size is None else recurrent_size

        def uniform(*shape: int) -> Parameter:
            return Parameter(gen.uniform(-bound, bound, shape).astype(dt))

        self.weight_ih = uniform(G, input_size)
        self.weight_hh = uniform(G, R)
        if bias:
            self.bias_ih = uniform(G)
            self.bias_hh = uniform(G)
        for name, shape in extra:  # parameters a subclass adds (LSTM's weight_hr)
            setattr(self, name, uniform(*shape))

    @property
    def dtype(self) -> np.dtype:
        return self.weight_ih.dtype

    def _affine(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """``x W_ih^T + b_ih`` and ``h W_hh^T + b_hh``, each (B, n_gates * H)."""
        gx = x @ self.weight_ih.T
        gh = h @ self.weight_hh.T
        if self.bias:
            gx = gx + self.bias_ih
            gh = gh + self.bias_hh
        return gx, gh

    def _check(self, x: Any, states: dict[str, tuple[Any, int]]) -> Tensor:
        """``x`` as a Tensor, after checking it and the given states (name -> (tensor, width))."""
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        if x.ndim != 2:
            raise ValueError(f"{self._name}: expected a 2-D input (B, I), got {x.ndim}-D of "
                             f"shape {x.shape}")
        if x.shape[1] != self.input_size:
            raise ValueError(f"{self._name}: expected input size {self.input_size}, "
                             f"got {x.shape[1]}")
        if x.dtype != self.dtype:
            raise TypeError(f"{self._name}: input dtype {x.dtype} does not match the "
                            f"weights' {self.dtype}")
        for name, (s, width) in states.items():
            if s is None:
                continue
            want = (x.shape[0], width)
            if not isinstance(s, Tensor) or s.shape != want or s.dtype != self.dtype:
                got = (f"{s.shape} {s.dtype}" if isinstance(s, Tensor)
                       else type(s).__name__)
                raise ValueError(f"{self._name}: expected {name} of shape {want} and dtype "
                                 f"{self.dtype}, got {got}")
        return x

    def _zeros(self, batch: int, width: int) -> Tensor:
        return Tensor(np.zeros((batch, width), dtype=self.dtype))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_CellBase):
    r"""The Elman RNN cell.

        h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh),    act = tanh or relu

    Parameters: ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias_ih`` (H,), ``bias_hh`` (H,).

    Call: ``h' = cell(x, h=None)`` with x (B, I), h and h' (B, H); h = None means zeros.
    Shape legend: B batch, I input size, H hidden size.
    """

    _name = "RNNCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", *, dtype: Any = np.float32,
                 rng: np.random.Generator | int | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', "
                             f"got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, 1, dtype, rng)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        x = self._check(x, {"h": (h, self.hidden_size)})
        if h is None:
            h = self._zeros(x.shape[0], self.hidden_size)
        gx, gh = self._affine(x, h)
        act = mg.tanh if self.nonlinearity == "tanh" else mg.relu
        return act(gx + gh)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class LSTMCell(_CellBase):
    r"""The long short-term memory cell (Hochreiter and Schmidhuber 1997, with a forget gate).

    With (.) = x W_ih^T + b_ih + h W_hh^T + b_hh cut into four blocks of H, in the order i, f, g, o:

        i = sigma(.)_i    f = sigma(.)_f    g = tanh(.)_g    o = sigma(.)_o
        c' = f * c + i * g
        h' = o * tanh(c')                       (then h' = h' W_hr^T when proj_size > 0)

    Parameters: ``weight_ih`` (4H, I), ``weight_hh`` (4H, P), ``bias_ih`` (4H,), ``bias_hh``
    (4H,), and with ``proj_size`` P > 0 ``weight_hr`` (P, H); without projection P = H.

    Call: ``(h', c') = cell(x, (h, c))`` with x (B, I), h (B, P), c (B, H); the state, or
    either part of it, may be None for zeros.
    Shape legend: B batch, I input size, H hidden size, P projection size.
    """

    _name = "LSTMCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 proj_size: int = 0, *, dtype: Any = np.float32,
                 rng: np.random.Generator | int | None = None) -> None:
        if not 0 <= proj_size < hidden_size:
            raise ValueError(f"LSTMCell: proj_size must be in [0, hidden_size) = "
                             f"[0, {hidden_size}), got {proj_size}")
        extra = (("weight_hr", (proj_size, hidden_size)),) if proj_size else ()
        super().__init__(input_size, hidden_size, bias, 4, dtype, rng,
                         recurrent_size=proj_size or hidden_size, extra=extra)
        self.proj_size = int(proj_size)

    @property
    def output_size(self) -> int:
        """The width of h: P with a projection, else H."""
        return self.proj_size or self.hidden_size

    def forward(self, x: Tensor, state: tuple[Tensor | None, Tensor | None] | None = None
                ) -> tuple[Tensor, Tensor]:
        h, c = (None, None) if state is None else state
        x = self._check(x, {"h": (h, self.output_size), "c": (c, self.hidden_size)})
        B, H = x.shape[0], self.hidden_size
        h = self._zeros(B, self.output_size) if h is None else h
        c = self._zeros(B, H) if c is None else c
        gx, gh = self._affine(x, h)
        z = gx + gh
        i = mg.sigmoid(z[:, :H])
        f = mg.sigmoid(z[:, H:2 * H])
        g = mg.tanh(z[:, 2 * H:3 * H])
        o = mg.sigmoid(z[:, 3 * H:])
        c_new = f * c + i * g
        h_new = o * mg.tanh(c_new)
        if self.proj_size:
            h_new = h_new @ self.weight_hr.T  # type: ignore[attr-defined]
        return h_new, c_new

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", proj_size={self.proj_size}" if self.proj_size else "")


class GRUCell(_CellBase):
    r"""The gated recurrent unit (Cho et al. 2014), gates stacked r, z, n.

        r = sigma(x W_ir^T + b_ir + h W_hr^T + b_hr)
        z = sigma(x W_iz^T + b_iz + h W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))      reset_after=True (PyTorch, cuDNN)
        n = tanh(x W_in^T + b_in + (r * h) W_hn^T + b_hn)      reset_after=False (Cho et al.)
        h' = (1 - z) * n + z * h

    Parameters: ``weight_ih`` (3H, I) = [W_ir; W_iz; W_in], ``weight_hh`` (3H, H) =
    [W_hr; W_hz; W_hn], ``bias_ih`` (3H,), ``bias_hh`` (3H,). Only the default reset-after form
    computes what ``torch.nn.GRUCell`` computes; the classic form is the one most textbooks print.

    Call: ``h' = cell(x, h=None)`` with x (B, I), h and h' (B, H).
    Shape legend: B batch, I input size, H hidden size.
    """

    _name = "GRUCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 reset_after: bool = True, *, dtype: Any = np.float32,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype, rng)
        self.reset_after = bool(reset_after)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        x = self._check(x, {"h": (h, self.hidden_size)})
        H = self.hidden_size
        if h is None:
            h = self._zeros(x.shape[0], H)
        if self.reset_after:
            gx, gh = self._affine(x, h)
            r = mg.sigmoid(gx[:, :H] + gh[:, :H])
            z = mg.sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
            n = mg.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
        else:
            # the reset gate acts on h before W_hn, so the n rows of W_hh get their own matmul
            gx = x @ self.weight_ih.T
            W_rz, W_hn = self.weight_hh[:2 * H], self.weight_hh[2 * H:]
            grz = h @ W_rz.T
            if self.bias:
                gx = gx + self.bias_ih
                grz = grz + self.bias_hh[:2 * H]
            r = mg.sigmoid(gx[:, :H] + grz[:, :H])
            z = mg.sigmoid(gx[:, H:2 * H] + grz[:, H:])
            rhn = (r * h) @ W_hn.T
            if self.bias:
                rhn = rhn + self.bias_hh[2 * H:]
            n = mg.tanh(gx[:, 2 * H:] + rhn)
        return (1 - z) * n + z * h

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")
