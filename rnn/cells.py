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


#: the floating-point types the recurrent cells and layers compute in
SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def dtype_mismatch(who: str, got: np.dtype, want: np.dtype) -> str:
    """The message for an input whose dtype differs from the weights' (as nn.Linear's)."""
    msg = (f"{who}: input dtype {got} differs from the layer's {want}; convert with "
           f"x.{'float' if want == np.float32 else 'double'}()")
    if np.dtype(got) in SUPPORTED_DTYPES:
        msg += f" or build the layer with dtype={got}"
    return msg


def output_of(state: State) -> Tensor:
    """The part of a state that a layer outputs: the state itself, or its first element."""
    return state[0] if isinstance(state, tuple) else state


def check_size(value: Any, name: str, who: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or an error naming ``who``, the argument and the value.

    Sizes must be integers: a float such as 8.5 (or 8.0), a string or a bool is refused rather
    than truncated or compared as whatever type it happens to be.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{who}: {name} must be an int, got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value}")
    return int(value)


def check_dtype(dtype: Any, who: str) -> np.dtype:
    """``dtype`` as a numpy dtype if it is float32 or float64, else an error naming ``who``.

    NOTE: float16 is refused at construction: the fused kernels have no float16 variant, so a
    float16 layer would run on one path and fail on the other.
    """
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{who}: dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in SUPPORTED_DTYPES:
        raise TypeError(f"{who}: dtype must be float32 or float64, got {dt}")
    return dt


class _CellBase(Module):
    """What the built-in cells share: parameter creation and input checks."""

    _name = "Cell"
    weight_ih: Parameter
    weight_hh: Parameter
    bias_ih: Parameter  # with bias=True
    bias_hh: Parameter

    def __init__(self, input_size: int, hidden_size: int, bias: bool, n_gates: int,
                 dtype: Any, rng: np.random.Generator | int | None,
                 recurrent_size: int | None = None,
                 extra: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> None:
        super().__init__()
        self.input_size = check_size(input_size, "input_size", self._name)
        self.hidden_size = check_size(hidden_size, "hidden_size", self._name)
        self.bias = bool(bias)
        dt = check_dtype(dtype, self._name)
        gen = get_rng(rng)
        bound = 1.0 / math.sqrt(self.hidden_size)
        G = n_gates * self.hidden_size
        R = self.hidden_size if recurrent_size is None else recurrent_size

        # each parameter's name and shape, in PyTorch's order; checked on every call
        shapes: dict[str, tuple[int, ...]] = {"weight_ih": (G, self.input_size),
                                              "weight_hh": (G, R)}
        if bias:
            shapes.update(bias_ih=(G,), bias_hh=(G,))
        shapes.update(extra)  # parameters a subclass adds (LSTM's weight_hr)
        self._shapes = shapes
        for name, shape in shapes.items():
            setattr(self, name, Parameter(gen.uniform(-bound, bound, shape).astype(dt)))

    @property
    def dtype(self) -> np.dtype:
        return self.weight_ih.dtype

    def check_parameters(self, names: dict[str, str] | None = None, who: str | None = None
                         ) -> None:
        """Raise an error naming the parameter if one has the wrong shape or dtype.

        ``names`` maps the cell's parameter names to the names an owning layer registered them
        under (``weight_ih`` -> ``weight_ih_l0``), and ``who`` is the owner's name for messages.
        """
        who = who or self._name
        dt = self.weight_ih.dtype
        for pname, want in self._shapes.items():
            p = getattr(self, pname)
            shown = names[pname] if names else pname
            if p.shape != want:
                raise ValueError(f"{who}: {shown} has shape {p.shape}, expected {want}")
            if p.dtype != dt:
                first = names["weight_ih"] if names else "weight_ih"
                raise TypeError(f"{who}: {shown} has dtype {p.dtype}, but {first} is {dt}; "
                                "convert the whole layer with .float() or .double()")
        if dt not in SUPPORTED_DTYPES:
            raise TypeError(f"{who}: parameters of dtype {dt} are not supported (float32 or "
                            "float64)")

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
        self.check_parameters()
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        if x.ndim != 2:
            raise ValueError(f"{self._name}: expected a 2-D input (B, I), got {x.ndim}-D of "
                             f"shape {x.shape}")
        if x.shape[1] != self.input_size:
            raise ValueError(f"{self._name}: expected input size {self.input_size}, "
                             f"got {x.shape[1]}")
        if x.dtype != self.dtype:
            raise TypeError(dtype_mismatch(self._name, x.dtype, self.dtype))
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
        hidden_size = check_size(hidden_size, "hidden_size", "LSTMCell")
        proj_size = check_size(proj_size, "proj_size", "LSTMCell", minimum=0)
        if not proj_size < hidden_size:
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
