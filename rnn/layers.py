"""Recurrent layers: any cell run over a sequence, in either direction, both, and stacked.

The building blocks work for every cell with the interface of :mod:`rnn.cells`
(``state = cell(x_t, state)``, ``state=None`` for zeros), built-in or user-written:

    Recurrent(cell, reverse=False)          one direction
    Bidirectional(forward_cell, reverse_cell)
    Stacked([layer, layer, ...], dropout)   layer k > 0 reads layer k - 1's output

Each is called as ``output, states = block(x, states=None, lengths=None)`` on time-major input,
with ``states`` a list of one state per direction (per layer and direction for ``Stacked``, in
the order layer 0 forward, layer 0 reverse, layer 1 forward, ...).

:class:`RNN`, :class:`LSTM` and :class:`GRU` are these blocks assembled with PyTorch's
constructor, call, parameter names and output layout (PyTorch's own documentation of torch.nn.LSTM),
plus two execution paths: ``impl="reference"`` runs the cells step by step through minigrad ops;
``impl="fused"`` (the default) runs one whole-sequence Numba kernel per layer, recorded as one
tape entry (:mod:`rnn.fused_ops`).

Variable lengths (``lengths=``, one per batch entry, padded at the end) follow PyTorch's packed
sequences: a row stops changing after its last step, its outputs there are zero, its reverse
direction starts at its own last step, and padded steps contribute nothing to any gradient.

Shape legend: T time steps, B batch, I input size, H hidden size, D = 2 if bidirectional else 1,
L number of layers, P LSTM projection size (P = H without projection).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np

import minigrad as mg
from minigrad import Tensor
from minigrad.nn import Module, Parameter
from minigrad.nn.init import get_rng

from .cells import (
    GRUCell,
    LSTMCell,
    RNNCell,
    State,
    check_dtype,
    check_size,
    dtype_mismatch,
    output_of,
)

__all__ = [
    "Recurrent", "Bidirectional", "Stacked", "RNN", "LSTM", "GRU",
    "run_cell", "run_stack", "reversal_index", "check_lengths", "fused_available",
    "MERGE_MODES", "merge_directions",
]

States = list[State | None]


class SequenceLayer(Protocol):
    """What :func:`run_stack` needs of a layer: its number of directions, and a call."""

    num_directions: int

    def __call__(self, x: Tensor, states: States | None = None,
                 lengths: np.ndarray | None = None) -> tuple[Tensor, list[State]]: ...


# ---- variable lengths --------------------------------------------------------------------------
def check_lengths(lengths: Any, T: int, B: int, who: str, minimum: int = 1
                  ) -> np.ndarray | None:
    """``lengths`` (array, list or Tensor) as an int64 array of shape (B,) with
    ``minimum <= lengths[b] <= T``, or None."""
    if lengths is None:
        return None
    arr = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{who}: lengths must be integers, got dtype {arr.dtype}")
    if arr.shape != (B,):
        raise ValueError(f"{who}: expected lengths of shape ({B},), one per batch entry, "
                         f"got {arr.shape}")
    for b, n in enumerate(arr.tolist()):
        if n < minimum:
            raise ValueError(f"{who}: lengths[{b}] = {n} is below {minimum}")
        if n > T:
            raise ValueError(f"{who}: lengths[{b}] = {n} exceeds sequence length {T}")
    return arr.astype(np.int64)


def reversal_index(T: int, lengths: np.ndarray | None) -> np.ndarray:
    """Time indices (T, B) that reverse each sequence within its own length.

    ``x[idx, arange(B)]`` puts step ``L_b - 1 - t`` of row b at step t for t < L_b and leaves
    the padded steps where they are. Applying it twice gives back x, so the same index turns the
    reverse direction's outputs back into the input's time order.
    """
    t = np.arange(T)[:, None]
    if lengths is None:
        return np.broadcast_to(T - 1 - t, (T, 1))
    return np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)


def flip_sequences(x: Tensor, lengths: np.ndarray | None) -> Tensor:
    """``x`` (T, B, ...) with every sequence reversed within its length (see reversal_index)."""
    if lengths is None:
        return x[::-1]
    idx = reversal_index(x.shape[0], lengths)
    return x[idx, np.arange(x.shape[1])[None, :]]


# ---- one direction ------------------------------------------------------------------------------
def _where(valid: Tensor, new: State, old: State) -> State:
    """``new`` in the rows that are ``valid``, ``old`` elsewhere (each part of a state tuple)."""
    if isinstance(new, tuple):
        assert isinstance(old, tuple)
        # a part given as None (an LSTM's c0 in (h0, None)) is the cell's zeros
        return tuple(mg.where(valid, n, Tensor(np.zeros(n.shape, n.dtype)) if o is None else o)
                     for n, o in zip(new, old, strict=True))
    assert isinstance(old, Tensor)
    return mg.where(valid, new, old)


def _zeros_like(state: State) -> State:
    if isinstance(state, tuple):
        return tuple(Tensor(np.zeros(s.shape, s.dtype)) for s in state)
    return Tensor(np.zeros(state.shape, state.dtype))


def run_cell(cell: Any, x: Any, state: State | None = None, lengths: Any = None, *,
             reverse: bool = False) -> tuple[Tensor, State]:
    """Run ``cell`` over ``x`` (T, B, I): the output (T, B, H) and the final state.

    The cell contract: ``cell(x_t, state=None) -> state``, with ``x_t`` (B, I) one time step and
    ``state`` a Tensor (B, H) or a tuple of Tensors whose first element is the output (B, H), as
    an LSTM's ``(h, c)``; ``state=None`` means the cell's own initial state (zeros). Any callable
    with this signature runs here and in :class:`Recurrent`, :class:`Bidirectional` and
    :class:`Stacked`; its parameters train if it is a Module::

        class Leaky(Module):                    # h' = (1 - a) h + a tanh(x W^T)
            def __init__(self, input_size, hidden_size, a=0.5):
                super().__init__()
                self.hidden_size, self.a = hidden_size, a
                self.weight = Parameter(np.random.uniform(-0.3, 0.3, (hidden_size, input_size)))

            def __call__(self, x, state=None):
                new = self.a * minigrad.tanh(x @ self.weight.T)
                return new if state is None else (1 - self.a) * state + new

        out, h = run_cell(Leaky(3, 4), np.ones((5, 2, 3)), lengths=[5, 2])   # (5, 2, 4), (2, 4)
        out, [h] = Recurrent(Leaky(3, 4), reverse=True)(np.ones((5, 2, 3)))  # the same, as a layer

    ``state`` is the initial state (None: the cell's zeros). With ``reverse`` the cell reads each
    sequence from its last step back to step 0, and the outputs are returned in the input's time
    order. ``lengths`` (B,) integers in [0, T] (array, list or Tensor): row b stops at its own
    length, its state is carried unchanged and its output is zero from step ``lengths[b]`` on;
    a row of length 0 keeps its initial state.

    Padded steps are isolated: the cell reads 0 there instead of x, and the state is selected
    (``where``), so NaN or Inf in the padding reaches no output, state or gradient.
    Shape legend: T time steps, B batch, I input size, H the cell's output size.
    """
    x = _check_sequence(x, "run_cell")
    T, B = x.shape[0], x.shape[1]
    lens = check_lengths(lengths, T, B, "run_cell", minimum=0)
    if reverse:
        out, final = run_cell(cell, flip_sequences(x, lens), state, lens)
        return flip_sequences(out, lens), final
    # a row of length 0 still needs the state's structure: run (masked) at least one step
    steps = T if lens is None else max(int(lens.max()), 1)
    shortest = T if lens is None else int(lens.min())
    outputs = []
    for t in range(steps):
        if t < shortest:  # every row is still running
            state = _checked_state(cell(x[t], state), cell, B, t)
            outputs.append(output_of(state))
            continue
        assert lens is not None
        valid = Tensor(lens[:, None] > t)
        # NOTE: select the INPUT, not just the result. With x[t] fed as it is, NaN or Inf in
        # the padding makes the cell's local derivatives NaN there, and the backward of a
        # select still multiplies them by its zero: 0 * NaN = NaN reaches the weights. Reading
        # 0 at padded steps keeps every value in the unselected branch finite.
        new = _checked_state(cell(mg.where(valid, x[t], 0), state), cell, B, t)
        old = _zeros_like(new) if state is None else state
        state = _where(valid, new, old)
        outputs.append(mg.where(valid, output_of(new), 0))
    out = mg.stack(outputs)
    if steps < T:  # steps where every row is padding: zeros
        out = mg.pad(out, ((0, T - steps), (0, 0), (0, 0)))
    assert state is not None
    return out, state


def _checked_state(state: Any, cell: Any, B: int, t: int) -> State:
    """What a cell returned, if it keeps the cell contract; else an error saying what it was."""
    parts = state if isinstance(state, tuple) else (state,)
    if parts and all(isinstance(p, Tensor) for p in parts):
        out = parts[0]
        if out.ndim == 2 and out.shape[0] == B:
            return state  # type: ignore[no-any-return]
        got = f"an output of shape {out.shape}"
    else:
        got = "a tuple holding " + ", ".join(type(p).__name__ for p in parts) if isinstance(
            state, tuple) else type(state).__name__
    name = getattr(cell, "__name__", type(cell).__name__)
    raise TypeError(f"run_cell: cell {name} returned {got} at step {t}; a cell returns its new "
                    f"state: a Tensor ({B}, H) for a batch of {B}, or a tuple of Tensors whose "
                    f"first element is one (cell(x_t, state=None) -> state)")


def _check_sequence(x: Any, who: str) -> Tensor:
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    if x.ndim != 3:
        raise ValueError(f"{who}: expected a 3-D input (T, B, I), got {x.ndim}-D of shape "
                         f"{x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{who}: expected at least one time step and one batch entry, "
                         f"got shape {x.shape}")
    return x


def _states_or_none(states: Sequence[State | None] | None, n: int, who: str) -> States:
    if states is None:
        return [None] * n
    if len(states) != n:
        raise ValueError(f"{who}: expected {n} initial states, got {len(states)}")
    return list(states)


class Recurrent(Module):
    """Run one cell over a sequence, forwards or (``reverse=True``) backwards.

    Call: ``output, [state] = layer(x, states=None, lengths=None)`` with x (T, B, I),
    output (T, B, H) in x's time order, and the final state after each row's last step.
    Shape legend: T time steps, B batch, I input size, H the cell's output size.
    """

    num_directions = 1

    def __init__(self, cell: Any, reverse: bool = False) -> None:
        super().__init__()
        self.cell = cell
        self.reverse = bool(reverse)

    def forward(self, x: Tensor, states: Sequence[State | None] | None = None,
                lengths: Any = None) -> tuple[Tensor, list[State]]:
        x = _check_sequence(x, "Recurrent")
        (state,) = _states_or_none(states, 1, "Recurrent")
        lens = check_lengths(lengths, x.shape[0], x.shape[1], "Recurrent")
        out, final = run_cell(self.cell, x, state, lens, reverse=self.reverse)
        return out, [final]


#: how a bidirectional layer combines its two directions' outputs at each step
MERGE_MODES = ("concat", "sum", "mean", "mul")


def check_merge_mode(merge_mode: Any, bidirectional: bool, who: str) -> str:
    """``merge_mode`` if it is one of :data:`MERGE_MODES` and fits the number of directions."""
    if merge_mode not in MERGE_MODES:
        raise ValueError(f"{who}: merge_mode must be one of {', '.join(map(repr, MERGE_MODES))}, "
                         f"got {merge_mode!r}")
    if merge_mode != "concat" and not bidirectional:
        raise ValueError(f"{who}: merge_mode={merge_mode!r} merges two directions; it needs "
                         "bidirectional=True")
    return str(merge_mode)


def merge_directions(out_f: Tensor, out_r: Tensor, mode: str) -> Tensor:
    """The forward and reverse outputs (T, B, H) each, combined by ``mode``:

        concat  [out_f | out_r]      (T, B, 2H)     PyTorch's layout
        sum     out_f + out_r        (T, B, H)
        mean    (out_f + out_r) / 2  (T, B, H)
        mul     out_f * out_r        (T, B, H)

    Padded steps stay zero in every mode, since both directions' outputs are zero there.
    """
    if mode == "concat":
        return mg.concatenate([out_f, out_r], axis=-1)
    if mode == "sum":
        return out_f + out_r
    if mode == "mean":
        return (out_f + out_r) * 0.5
    if mode == "mul":
        return out_f * out_r
    raise ValueError(f"merge_directions: unknown mode {mode!r}")


class Bidirectional(Module):
    """Two cells over a sequence, one forwards and one backwards, outputs merged at each step.

    ``out_f[t]`` is the forward state after x[0..t] and ``out_r[t]`` the reverse state after
    x[T-1..t], so the reverse direction's final state is ``out_r[0]``. ``merge_mode`` combines
    them (:func:`merge_directions`): "concat" (the default, PyTorch's) gives
    ``[out_f | out_r]`` (T, B, 2H); "sum", "mean" and "mul" give (T, B, H).

    Call: ``output, [state_fwd, state_rev] = layer(x, states=None, lengths=None)`` with x
    (T, B, I); the final states are per direction whatever the merge mode.
    Shape legend: T time steps, B batch, I input size, H each cell's output size.
    """

    num_directions = 2

    def __init__(self, forward_cell: Any, reverse_cell: Any, merge_mode: str = "concat") -> None:
        super().__init__()
        self.forward_cell = forward_cell
        self.reverse_cell = reverse_cell
        self.merge_mode = check_merge_mode(merge_mode, True, "Bidirectional")

    def forward(self, x: Tensor, states: Sequence[State | None] | None = None,
                lengths: Any = None) -> tuple[Tensor, list[State]]:
        x = _check_sequence(x, "Bidirectional")
        s_fwd, s_rev = _states_or_none(states, 2, "Bidirectional")
        lens = check_lengths(lengths, x.shape[0], x.shape[1], "Bidirectional")
        out_f, final_f = run_cell(self.forward_cell, x, s_fwd, lens)
        out_r, final_r = run_cell(self.reverse_cell, x, s_rev, lens, reverse=True)
        return merge_directions(out_f, out_r, self.merge_mode), [final_f, final_r]

    def extra_repr(self) -> str:
        return "" if self.merge_mode == "concat" else f"merge_mode={self.merge_mode!r}"


# ---- stacks -----------------------------------------------------------------------------------
def dropout(x: Tensor, p: float, rng: np.random.Generator) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p)."""
    if p == 0.0:
        return x
    keep = rng.random(x.shape) >= p
    return x * Tensor((keep / (1.0 - p)).astype(x.dtype))


def _check_stack_layers(layers: Sequence[Any], who: str) -> None:
    """Refuse what does not follow the sequence-layer contract, before any of it runs."""
    for k, layer in enumerate(layers):
        kind = type(layer).__name__
        if isinstance(layer, _RecurrentLayer):
            raise TypeError(f"{who}: layer {k} is an rnn.{kind}, which stacks itself: use "
                            f"{kind}(..., num_layers=N, dropout=p), or wrap its cells in "
                            f"rnn.Recurrent / rnn.Bidirectional")
        if not isinstance(getattr(layer, "num_directions", None), int) or not callable(layer):
            raise TypeError(f"{who}: layer {k} is a {kind}, not a sequence layer "
                            f"(layer(x, states, lengths) -> (output, [state per direction]) "
                            f"with num_directions); wrap a cell as rnn.Recurrent(cell)")


def run_stack(layers: Sequence[SequenceLayer], x: Tensor, states: Sequence[State | None] | None,
              lengths: np.ndarray | None, dropout_p: float = 0.0,
              rng: np.random.Generator | None = None) -> tuple[Tensor, list[State]]:
    """Run ``layers`` one on top of the other: layer k > 0 reads layer k - 1's output.

    ``states`` holds one initial state per layer and direction (layer 0 forward, layer 0 reverse,
    layer 1 forward, ...), or is None for zeros; the final states come back in the same order.
    ``dropout_p`` in [0, 1) applies dropout to every layer's output except the last one's (pass
    0 outside training), drawing its masks from ``rng``, or with ``rng=None`` from the
    generator that :func:`minigrad.manual_seed` seeds, read when the mask is drawn.
    """
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"run_stack: dropout_p must be in [0, 1), got {dropout_p}")
    _check_stack_layers(layers, "run_stack")
    n_states = sum(layer.num_directions for layer in layers)
    initial = _states_or_none(states, n_states, "Stacked")
    finals: list[State] = []
    for k, layer in enumerate(layers):
        D = layer.num_directions
        x, final = layer(x, initial[len(finals):len(finals) + D], lengths)
        finals.extend(final)
        if dropout_p > 0 and k < len(layers) - 1:
            x = dropout(x, dropout_p, get_rng(rng))
    return x, finals


class Stacked(Module):
    """Layers (each a :class:`Recurrent`, :class:`Bidirectional` or alike) stacked in depth.

    Dropout with probability ``dropout`` is applied to the output of every layer but the last,
    in training mode only (``.train()`` / ``.eval()``). Its masks come from ``rng`` (a seed or
    Generator), or without one from the generator :func:`minigrad.manual_seed` seeds, read at
    each call, so ``manual_seed(s)`` before a call makes its masks reproducible.

    Call: ``output, states = stack(x, states=None, lengths=None)`` with x (T, B, I), output the
    last layer's (T, B, D*H), and one final state per layer and direction.
    Shape legend: T time steps, B batch, I input size, H the last layer's cell output size,
    D its number of directions.
    """

    def __init__(self, layers: Sequence[Any], dropout: float = 0.0,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Stacked: dropout must be in [0, 1), got {dropout}")
        if len(layers) == 0:
            raise ValueError("Stacked: need at least one layer")
        _check_stack_layers(layers, "Stacked")
        self.layers = list(layers)
        for k, layer in enumerate(self.layers):
            setattr(self, f"layer{k}", layer)
        self.dropout = float(dropout)
        # None: the module-level generator, looked up when a mask is drawn (manual_seed may
        # have replaced or reseeded it since construction)
        self._rng = None if rng is None else get_rng(rng)

    def forward(self, x: Tensor, states: Sequence[State | None] | None = None,
                lengths: Any = None) -> tuple[Tensor, list[State]]:
        x = _check_sequence(x, "Stacked")
        lens = check_lengths(lengths, x.shape[0], x.shape[1], "Stacked")
        p = self.dropout if self.training else 0.0
        return run_stack(self.layers, x, states, lens, p, self._rng)


# ---- the PyTorch-compatible layers -----------------------------------------------------------
def _merge_concatenated(out: Tensor, mode: str) -> Tensor:
    """A fused bidirectional layer's output (T, B, 2P) = [forward | reverse], merged by
    ``mode`` (:func:`merge_directions`) with minigrad ops."""
    P = out.shape[2] // 2
    return merge_directions(out[:, :, :P], out[:, :, P:], mode)


class _MergedFused:
    """A fused bidirectional layer whose output is merged by a mode other than "concat"."""

    num_directions = 2

    def __init__(self, layer: Any, mode: str) -> None:
        self.layer, self.mode = layer, mode

    def __call__(self, x: Tensor, states: States | None = None,
                 lengths: np.ndarray | None = None) -> tuple[Tensor, list[State]]:
        out, finals = self.layer(x, states, lengths)
        return _merge_concatenated(out, self.mode), finals


_FUSED: bool | None = None


def fused_available() -> bool:
    """Whether the fused kernels can be used (Numba and the kernels import)."""
    global _FUSED
    if _FUSED is None:
        try:
            from . import fused_ops  # noqa: F401
        except ImportError:
            _FUSED = False
        else:
            _FUSED = True
    return _FUSED


class _RecurrentLayer(Module):
    """What RNN, LSTM and GRU share: construction, parameter names, checks, the two paths."""

    _name: ClassVar[str]
    _n_states: ClassVar[int] = 1  # LSTM: 2 (h and c)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, impl: str | None = None, merge_mode: str = "concat",
                 dtype: Any = np.float32) -> None:
        super().__init__()
        name = self._name
        self.input_size = check_size(input_size, "input_size", name)
        self.hidden_size = check_size(hidden_size, "hidden_size", name)
        self.num_layers = check_size(num_layers, "num_layers", name)
        if isinstance(dropout, bool) or not isinstance(dropout, int | float | np.floating):
            raise TypeError(f"{name}: dropout must be a number, got {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        if dropout > 0 and self.num_layers == 1:  # an argument that does nothing: say so
            warnings.warn(f"{name}: dropout={dropout} is applied between stacked layers only, so "
                          f"it does nothing with num_layers=1 (PyTorch warns too)", UserWarning,
                          stacklevel=3)
        check_dtype(dtype, name)  # before any cell is built, so the error names the layer
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self._merge_mode = check_merge_mode(merge_mode, self.bidirectional, name)
        self.impl = impl  # checked by the property below

    def _build(self, make_cell: Callable[[int, np.random.Generator], Any],
               rng: np.random.Generator | int | None) -> None:
        """Create the cells (``make_cell(input_size, rng)``) and register their parameters.

        The cells own the parameters; the layer registers the same Parameter objects under
        PyTorch's names (weight_ih_l0, ..., suffix _reverse for the reverse direction), so those
        are the names that named_parameters(), state_dict() and load_state_dict() use.
        Assigning a Parameter to one of these names re-points the cell (see __setattr__), and
        both paths read the cells' parameters at call time.
        """
        gen = get_rng(rng)
        D = self.num_directions
        cells: list[list[Any]] = []
        slots: dict[str, tuple[Any, str]] = {}
        for k in range(self.num_layers):
            width = self.input_size if k == 0 else self.layer_output_size
            row = [make_cell(width, gen) for _ in range(D)]
            for d, cell in enumerate(row):
                for pname, p in cell.named_parameters():
                    full = f"{pname}_l{k}" + ("_reverse" if d else "")
                    setattr(self, full, p)
                    slots[full] = (cell, pname)
            cells.append(row)
        self._cells = cells
        #: registered name -> (cell, the cell's name for it); set last: __setattr__ reads it
        self._slots = slots
        self._reference: list[SequenceLayer] = [
            Recurrent(row[0]) if D == 1
            else Bidirectional(row[0], row[1], merge_mode=self.merge_mode)
            for row in cells]
        self._fused: list[SequenceLayer] | None = None  # built on first use
        # for dropout: None means the module-level generator, looked up when a mask is drawn
        self._rng = None if rng is None else gen

    # ---- parameters: assignment keeps the registered names and the cells in step --------------
    def __setattr__(self, name: str, value: Any) -> None:
        slots = self.__dict__.get("_slots")
        if slots is None or name not in slots:
            super().__setattr__(name, value)
            return
        old = self._parameters[name]
        assert old is not None  # a recurrent layer's own parameters are never None
        if not isinstance(value, Parameter):
            raise TypeError(f"{self._name}: cannot assign {type(value).__name__} as parameter "
                            f"{name!r} (a minigrad.nn.Parameter is expected)")
        if value.shape != old.shape or value.dtype != old.dtype:
            raise ValueError(f"{self._name}: {name} must have shape {old.shape} and dtype "
                             f"{old.dtype}, got {value.shape} {value.dtype}")
        cell, pname = slots[name]
        # NOTE: written in place in both registries, so the parameter keeps its position in
        # named_parameters() and state_dict() (PyTorch's order; the fused path reads a cell's
        # parameters in that order)
        for owner, key in ((self, name), (cell, pname)):
            owner._parameters[key] = value
            object.__setattr__(owner, key, value)  # what both paths compute with

    def flatten_parameters(self) -> None:
        """PyTorch's cuDNN weight compaction: nothing to do here (no cuDNN); kept so that a
        ported script that calls it runs unchanged."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters per layer and direction, in PyTorch's order (``weight_ih_l0``,
        ``weight_hh_l0``, ``bias_ih_l0``, ...), as ``torch.nn.LSTM.all_weights``."""
        groups: dict[str, list[Parameter]] = {}
        for name in self._slots:
            key = name[name.rindex("_l") + 2:]          # "0", "0_reverse", ...
            groups.setdefault(key, []).append(self._parameters[name])  # type: ignore[arg-type]
        return list(groups.values())

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__.get("_slots", ()):
            raise AttributeError(f"{self._name}: cannot delete parameter {name!r}; assign a "
                                 "Parameter of the same shape and dtype instead")
        super().__delattr__(name)

    def __getstate__(self) -> dict[str, Any]:
        # the fused layers hold kernel objects that need not (and may not) pickle; they are
        # rebuilt from the cells on first use
        state = self.__dict__.copy()
        state["_fused"] = None
        return state

    def _check_parameters(self) -> None:
        """Every parameter's shape and dtype, by its registered name (mis-shaped ``.data``,
        a float64 array in a float32 layer, or a layer converted to an unsupported dtype)."""
        dt = self.dtype  # weight_ih_l0's
        for k, row in enumerate(self._cells):
            for d, cell in enumerate(row):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                cell.check_parameters({n: n + sfx for n in cell._shapes}, self._name)
                if cell.weight_ih.dtype != dt:
                    raise TypeError(f"{self._name}: weight_ih{sfx} has dtype "
                                    f"{cell.weight_ih.dtype}, but weight_ih_l0 is {dt}; convert "
                                    "the whole layer with .float() or .double()")

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def merge_mode(self) -> str:
        """How the two directions' outputs combine (:func:`merge_directions`); fixed at
        construction, since layer k > 0's input size depends on it."""
        return self._merge_mode

    @property
    def output_size(self) -> int:
        """The width of h per direction (LSTM with projection: proj_size)."""
        return self.hidden_size

    @property
    def layer_output_size(self) -> int:
        """The width of one layer's output: D * output_size with merge_mode "concat", else
        output_size. Layer k > 0 takes this as its input size."""
        D = self.num_directions if self.merge_mode == "concat" else 1
        return D * self.output_size

    @property
    def dtype(self) -> np.dtype:
        return self._cells[0][0].weight_ih.dtype  # type: ignore[no-any-return]

    @property
    def impl(self) -> str:
        """``"fused"`` or ``"reference"``; assignable."""
        return self._impl

    @impl.setter
    def impl(self, value: str | None) -> None:
        if value is None:
            value = "fused" if fused_available() else "reference"
        if value not in ("fused", "reference"):
            raise ValueError(f"{self._name}: impl must be 'fused' or 'reference', got {value!r}")
        if value == "fused" and not fused_available():
            raise RuntimeError(f"{self._name}: the fused kernels are not available (Numba "
                               "missing?); use impl='reference'")
        self._impl = value

    # ---- checks at the boundary ---------------------------------------------------------------
    def _check_state(self, s: Any, what: str, width: int, B: int) -> Tensor | None:
        if s is None:
            return None
        s = s if isinstance(s, Tensor) else Tensor(np.asarray(s))
        want = (self.num_layers * self.num_directions, B, width)
        if s.shape != want:
            raise ValueError(f"{self._name}: expected {what} of shape {want}, got {s.shape}")
        if s.dtype != self.dtype:
            raise TypeError(f"{self._name}: {what} has dtype {s.dtype}, but the weights are "
                            f"{self.dtype}")
        return s

    def _check_hx(self, hx: Any, B: int) -> list[Tensor | None]:
        """The initial states as [h0] (or [h0, c0] for LSTM), each (L*D, B, width) or None."""
        return [self._check_state(hx, "h0", self.output_size, B)]

    def _check_input(self, x: Any) -> Tensor:
        name = self._name
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if x.ndim != 3:
            raise ValueError(f"{name}: expected a 3-D input {layout}, got {x.ndim}-D of shape "
                             f"{x.shape}")
        if x.shape[2] != self.input_size:
            raise ValueError(f"{name}: expected input size {self.input_size}, got {x.shape[2]}")
        if x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"{name}: expected a non-empty input {layout}, got shape {x.shape}")
        if x.dtype != self.dtype:
            raise TypeError(dtype_mismatch(name, x.dtype, self.dtype))
        return x

    # ---- the call ------------------------------------------------------------------------------
    def _layers(self) -> Sequence[SequenceLayer]:
        return self._reference if self.impl == "reference" else self._fused_layers()

    def _fused_layers(self) -> list[SequenceLayer]:
        if self._fused is None:
            from .fused_ops import FusedLayer

            self._fused = [FusedLayer(row, self._name, k) if self.merge_mode == "concat"
                           else _MergedFused(FusedLayer(row, self._name, k), self.merge_mode)
                           for k, row in enumerate(self._cells)]
        return self._fused

    def _run(self, x: Any, hx: Any, lengths: Any) -> tuple[Tensor, list[Tensor]]:
        """Check everything, run the stack; the output and the final states as (L*D, B, .)."""
        self._check_parameters()
        x = self._check_input(x)
        T, B = (x.shape[1], x.shape[0]) if self.batch_first else (x.shape[0], x.shape[1])
        initial = self._check_hx(hx, B)
        lens = check_lengths(lengths, T, B, self._name)

        if self.batch_first:
            x = x.swapaxes(0, 1)
        n = self.num_layers * self.num_directions
        states: States | None = None
        if any(s is not None for s in initial):
            zeros = [Tensor(np.zeros((B, self._state_width(j)), dtype=self.dtype))
                     for j in range(self._n_states)]
            per_row = [[zeros[j] if s is None else s[i] for j, s in enumerate(initial)]
                       for i in range(n)]
            states = [r[0] if self._n_states == 1 else tuple(r) for r in per_row]
        p = self.dropout if self.training else 0.0
        if self.impl != "reference" and self.num_layers == 1:
            # one fused layer: its final states are already (D, B, .), as h_n wants them
            from .fused_ops import FusedLayer

            fused = self._fused_layers()[0]
            inner = fused.layer if isinstance(fused, _MergedFused) else fused
            assert isinstance(inner, FusedLayer)
            out, stacked = inner.run(x, states, lens)
            if self.merge_mode != "concat":
                out = _merge_concatenated(out, self.merge_mode)
        else:
            out, finals = run_stack(self._layers(), x, states, lens, p, self._rng)
            parts = [[s] if isinstance(s, Tensor) else list(s) for s in finals]
            stacked = tuple(mg.stack([row[j] for row in parts]) for j in range(self._n_states))
        if self.batch_first:
            out = out.swapaxes(0, 1)
        return out, list(stacked)

    def _state_width(self, j: int) -> int:
        return self.output_size if j == 0 else self.hidden_size

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for flag, default in (("bias", True), ("batch_first", False), ("bidirectional", False)):
            if getattr(self, flag) != default:
                s += f", {flag}={getattr(self, flag)}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.merge_mode != "concat":
            s += f", merge_mode={self.merge_mode!r}"
        return s + f", impl={self.impl!r}"


class RNN(_RecurrentLayer):
    """Elman RNN layers, stacked and optionally bidirectional. Per layer and step::

        h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)        act = tanh or relu

    Constructor (PyTorch's): ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh',
    bias=True, batch_first=False, dropout=0.0, bidirectional=False)``, and keyword-only
    ``impl`` ("fused", the default when Numba is available, or "reference"), ``merge_mode``
    (how a bidirectional layer combines its directions: "concat", the default and PyTorch's
    only choice, "sum", "mean" or "mul"; see :func:`merge_directions`), ``dtype`` (float32, the
    default, or float64) and ``rng`` (seed or numpy Generator for the initialisation and
    dropout; without it both draw from the generator :func:`minigrad.manual_seed` seeds, dropout
    at each call).

    Call: ``output, h_n = rnn(x, h0=None, lengths=None)``.

    Parameters, for layer k and direction suffix "" or "_reverse": ``weight_ih_l{k}`` (H, I_k),
    ``weight_hh_l{k}`` (H, H), ``bias_ih_l{k}`` (H,), ``bias_hh_l{k}`` (H,), with I_0 = I and
    I_k = M for k > 0; all ~ U(-1/sqrt(H), 1/sqrt(H)); ``bias=False`` drops the biases.

    Shapes: x (T, B, I), or (B, T, I) with batch_first; output (T, B, M) (batch-first alike),
    with M = D*H and the last axis [forward | reverse] for merge_mode "concat", M = H for "sum",
    "mean" and "mul"; h0, h_n (L*D, B, H), row k*D + d for layer k, direction d,
    whatever batch_first; lengths (B,) integers in [1, T]. Dropout acts on every layer's output
    but the last, in training mode only.

    Shape legend: T time steps, B batch, I input size, H hidden size, D = 2 if bidirectional
    else 1, L num_layers, M one layer's output width.
    """

    _name = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *, impl: str | None = None,
                 merge_mode: str = "concat", dtype: Any = np.float32,
                 rng: np.random.Generator | int | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, impl=impl, merge_mode=merge_mode, dtype=dtype)
        self.nonlinearity = nonlinearity
        self._build(lambda width, gen: RNNCell(width, hidden_size, bias, nonlinearity,
                                               dtype=dtype, rng=gen), rng)

    def forward(self, x: Tensor, hx: Tensor | None = None, *,
                lengths: Any = None) -> tuple[Tensor, Tensor]:
        out, (h_n,) = self._run(x, hx, lengths)
        return out, h_n

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", nonlinearity={self.nonlinearity!r}"
                                       if self.nonlinearity != "tanh" else "")


class LSTM(_RecurrentLayer):
    """Long short-term memory layers, stacked and optionally bidirectional. Per layer and step,
    with (.) = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh cut into four blocks i, f, g, o::

        i, f, g, o = sigma(.)_i, sigma(.)_f, tanh(.)_g, sigma(.)_o
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)                 with proj_size P > 0: h_t = (o * tanh(c_t)) W_hr^T

    Constructor (PyTorch's): ``LSTM(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False, proj_size=0)``, and keyword-only
    ``impl``, ``merge_mode``, ``dtype`` and ``rng`` as for :class:`RNN`.

    Call: ``output, (h_n, c_n) = lstm(x, (h0, c0)=None, lengths=None)``; h0 or c0 may be None
    for zeros.

    Parameters, for layer k and direction suffix "" or "_reverse": ``weight_ih_l{k}`` (4H, I_k),
    ``weight_hh_l{k}`` (4H, P), ``bias_ih_l{k}`` (4H,), ``bias_hh_l{k}`` (4H,), and with a
    projection ``weight_hr_l{k}`` (P, H); I_0 = I and I_k = M for k > 0; all
    ~ U(-1/sqrt(H), 1/sqrt(H)); ``bias=False`` drops the biases.

    Shapes: x (T, B, I), or (B, T, I) with batch_first; output (T, B, M) (batch-first alike),
    with M = D*P and the last axis [forward | reverse] for merge_mode "concat", M = P for "sum",
    "mean" and "mul"; h0, h_n (L*D, B, P) and c0, c_n (L*D, B, H), row k*D + d for
    layer k, direction d, whatever batch_first; lengths (B,) integers in [1, T]. Dropout acts on
    every layer's output but the last, in training mode only.

    Shape legend: T time steps, B batch, I input size, H hidden size, P proj_size (P = H
    without projection), D = 2 if bidirectional else 1, L num_layers, M one layer's output
    width.
    """

    _name = "LSTM"
    _n_states = 2

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, *, impl: str | None = None, merge_mode: str = "concat",
                 dtype: Any = np.float32, rng: np.random.Generator | int | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, impl=impl, merge_mode=merge_mode, dtype=dtype)
        proj_size = check_size(proj_size, "proj_size", "LSTM", minimum=0)
        if not proj_size < hidden_size:
            raise ValueError(f"LSTM: proj_size must be in [0, hidden_size) = [0, {hidden_size}), "
                             f"got {proj_size}")
        self.proj_size = int(proj_size)
        self._build(lambda width, gen: LSTMCell(width, hidden_size, bias, proj_size,
                                                dtype=dtype, rng=gen), rng)

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    def _check_hx(self, hx: Any, B: int) -> list[Tensor | None]:
        if hx is None:
            return [None, None]
        if not isinstance(hx, tuple | list) or len(hx) != 2:
            raise TypeError(f"LSTM: expected the initial state as a pair (h0, c0), got "
                            f"{type(hx).__name__}")
        return [self._check_state(hx[0], "h0", self.output_size, B),
                self._check_state(hx[1], "c0", self.hidden_size, B)]

    def forward(self, x: Tensor, hx: tuple[Tensor | None, Tensor | None] | None = None, *,
                lengths: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        out, (h_n, c_n) = self._run(x, hx, lengths)
        return out, (h_n, c_n)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", proj_size={self.proj_size}" if self.proj_size else "")


class GRU(_RecurrentLayer):
    """Gated recurrent unit layers, stacked and optionally bidirectional. Per layer and step,
    gates stacked r, z, n::

        r = sigma(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)
        z = sigma(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)
        n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn))    reset_after=True (PyTorch)
        n = tanh(x_t W_in^T + b_in + (r * h_{t-1}) W_hn^T + b_hn)    reset_after=False (classic)
        h_t = (1 - z) * n + z * h_{t-1}

    Constructor (PyTorch's): ``GRU(input_size, hidden_size, num_layers=1, bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``, and keyword-only ``reset_after``,
    ``impl``, ``merge_mode``, ``dtype`` and ``rng`` as for :class:`RNN`.

    Call: ``output, h_n = gru(x, h0=None, lengths=None)``.

    Parameters, for layer k and direction suffix "" or "_reverse": ``weight_ih_l{k}`` (3H, I_k),
    ``weight_hh_l{k}`` (3H, H), ``bias_ih_l{k}`` (3H,), ``bias_hh_l{k}`` (3H,), with I_0 = I and
    I_k = M for k > 0; all ~ U(-1/sqrt(H), 1/sqrt(H)); ``bias=False`` drops the biases.

    Shapes: x (T, B, I), or (B, T, I) with batch_first; output (T, B, M) (batch-first alike),
    with M = D*H and the last axis [forward | reverse] for merge_mode "concat", M = H for "sum",
    "mean" and "mul"; h0, h_n (L*D, B, H), row k*D + d for layer k, direction d,
    whatever batch_first; lengths (B,) integers in [1, T]. Dropout acts on every layer's output
    but the last, in training mode only.

    Shape legend: T time steps, B batch, I input size, H hidden size, D = 2 if bidirectional
    else 1, L num_layers, M one layer's output width.
    """

    _name = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 *, reset_after: bool = True, impl: str | None = None,
                 merge_mode: str = "concat", dtype: Any = np.float32,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, impl=impl, merge_mode=merge_mode, dtype=dtype)
        self.reset_after = bool(reset_after)
        self._build(lambda width, gen: GRUCell(width, hidden_size, bias, reset_after,
                                               dtype=dtype, rng=gen), rng)

    def forward(self, x: Tensor, hx: Tensor | None = None, *,
                lengths: Any = None) -> tuple[Tensor, Tensor]:
        out, (h_n,) = self._run(x, hx, lengths)
        return out, h_n

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")

