"""The tape: one entry per differentiable op, in execution order, and the recording switches.

An :class:`Entry` is what an op leaves behind when it runs with recording on: the primitive, where
its inputs came from (``parents``), the arrays its backward rule reads (``saved``), and its static
parameters. Entries are numbered from one process-wide counter, so the number is a position in
execution order, and the entries of a graph sorted by it are in a topological order.

Each thread records on its own :class:`Tape` and has its own ``no_grad`` switch, so threads that
build and differentiate independent graphs never see each other's entries.

NOTE: memory. Output tensors own their entry (``tensor._entry``) and an entry owns its parent
entries, so a graph lives exactly as long as some tensor of it does. The thread's tape holds only
*weak* references: a graph dropped without a backward is freed at once, and the tape forgets it.
A :class:`Tape` opened with ``with minigrad.Tape() as tape`` holds its entries strongly, so that
what it captured can still be printed after the tensors are gone.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from . import versions as _versions

if TYPE_CHECKING:
    from .primitive import Primitive

_next_index = itertools.count().__next__  # atomic under the GIL: safe to call from any thread


class Entry:
    """One recorded application of a primitive.

    ``parents[i]`` says where input ``i`` came from: the :class:`Entry` that produced it (with
    ``slots[i]`` the output position), the leaf :class:`~minigrad.Tensor` itself when it is a leaf
    that requires grad, or ``None`` for a constant. ``saved`` holds the input arrays followed by the
    output arrays, all read-only; backward frees it unless asked to retain the graph. ``epoch``
    is the write clock at recording and ``locked`` the leaf arrays the entry holds read-only
    (:mod:`minigrad.versions`).
    """

    __slots__ = (
        "index", "op", "parents", "slots", "saved", "params", "n_out",
        "grads", "hooks", "freed", "grad_norm", "epoch", "locked", "origin", "__weakref__",
    )
    origin: tuple[str, int, str] | None  # the user's line; set only under detect_anomaly

    def __init__(self, op: Primitive, parents: tuple, slots: tuple, saved: tuple,
                 params: dict[str, Any], n_out: int) -> None:
        self.index = _next_index()
        self.op = op
        self.parents = parents
        self.slots = slots
        self.saved: tuple | None = saved
        self.params = params  # the rules' keywords: the op's parameters (and aux, needs)
        self.n_out = n_out
        self.grads: list | None = None  # scratch space for output gradients during backward
        self.hooks: dict[int, list[Callable]] | None = None  # hooks on interior tensors, by slot
        self.freed = False
        self.grad_norm: float | None = None  # set by backward while a user Tape watches
        self.epoch = _versions.clock  # the write clock at recording: see minigrad.versions
        self.locked: tuple | None = None  # leaf arrays this entry holds read-only
        # ``origin``: the user's line, set only under detect_anomaly (minigrad.anomaly.origin
        # reads it; left unset otherwise, which saves every op a store)

    def release(self) -> None:
        """Free the saved values (backward does, unless the graph is retained)."""
        self.saved = None
        if self.op.has_aux:  # the residuals, too
            self.params = {k: v for k, v in self.params.items() if k != "aux"}
        self.freed = True
        locked, self.locked = self.locked, None
        if locked is not None:
            _versions.unlock(locked)

    def __repr__(self) -> str:
        return f"<Entry #{self.index} {self.op.name}>"


class LockingEntry(Entry):
    """An entry that saved a leaf's array and made it read-only (see :mod:`minigrad.versions`):
    when the graph dies without a backward, the array becomes writeable again.

    A subclass, so that only entries that hold a leaf's array pay for ``__del__``."""

    __slots__ = ()

    def __del__(self) -> None:
        locked = self.locked
        if locked is not None:
            self.locked = None
            try:
                _versions.unlock(locked)
            except (AttributeError, TypeError):  # pragma: no cover - interpreter shutdown
                pass


class Tape:
    """The entries recorded in one thread, in execution order.

    Used as ``with Tape() as tape: ...`` it captures, and keeps, every entry recorded in the
    block. The per-thread default tape keeps weak references only. ``minigrad.Tape`` is the
    subclass :class:`minigrad.inspect.Tape`, which also prints them.
    """

    def __init__(self, *, weak: bool = False) -> None:
        self._weak = weak
        self._items: list = []
        self._dead = 0  # weak tape: how many of _items point at freed entries
        self._outer: Tape | None = None
        self._open = False
        #: called with each entry recorded (minigrad.inspect.Tape notes shapes, watches gradients)
        self._capture: Callable[[Entry], None] | None = None

    def record(self, entry: Entry) -> None:
        items = self._items
        if not self._weak:
            items.append(entry)
            if self._capture is not None:
                self._capture(entry)
            outer = self._outer
            if outer is not None and not outer._weak:  # an enclosing user's Tape sees it too
                outer.record(entry)
            return
        items.append(weakref.ref(entry, self._forget))
        if self._dead > 1024 and 2 * self._dead > len(items):  # amortised O(1) per entry
            self._items = [r for r in items if r() is not None]
            self._dead = 0

    def _forget(self, ref: weakref.ref) -> None:
        self._dead += 1

    @property
    def entries(self) -> list[Entry]:
        """The live entries, oldest first."""
        if self._weak:
            return [e for e in (r() for r in self._items) if e is not None]
        return list(self._items)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __enter__(self) -> Tape:
        if self._weak:
            raise RuntimeError("Tape: a thread's default tape cannot be entered; use "
                               "`with minigrad.Tape() as tape:`")
        if self._open:
            raise RuntimeError("Tape: this tape is already open (entered twice); nest a new "
                               "minigrad.Tape() instead: an enclosing tape records every entry "
                               "of the tapes opened inside it")
        self._outer = _state.tape
        self._open = True
        _state.tape = self
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._open:
            raise RuntimeError("Tape: exit without a matching enter")
        # NOTE: restore the thread's state whatever happens; tapes closed out of order (by hand,
        # not with ``with``) are unlinked from the chain wherever they sit.
        if _state.tape is self:
            _state.tape = self._outer  # type: ignore[assignment]
        else:
            t: Tape | None = _state.tape
            while t is not None and t._outer is not self:
                t = t._outer
            if t is not None:
                t._outer = self._outer
        self._outer = None
        self._open = False


class _State(threading.local):
    def __init__(self) -> None:
        self.grad_enabled = True
        self.tape = Tape(weak=True)
        self.anomaly = False


_state = _State()


def current_tape() -> Tape:
    """The tape this thread is recording on."""
    return _state.tape


def is_grad_enabled() -> bool:
    """Whether ops in this thread record entries."""
    return _state.grad_enabled


F = TypeVar("F", bound=Callable[..., Any])


class _GradMode:
    """Context manager and decorator that sets this thread's recording switch."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        self._saved.append(_state.grad_enabled)
        _state.grad_enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._saved.pop()

    def __call__(self, fn: F) -> F:
        enabled = self._enabled
        if inspect.isgeneratorfunction(fn):
            # A generator's body runs on each resume, not when it is called: set the mode
            # around every resume (next, send, throw, close), as PyTorch does.
            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                gen = fn(*args, **kwargs)
                try:
                    with _GradMode(enabled):
                        response = gen.send(None)
                    while True:
                        try:
                            request = yield response
                        except GeneratorExit:
                            with _GradMode(enabled):
                                gen.close()
                            raise
                        except BaseException as e:
                            with _GradMode(enabled):
                                response = gen.throw(e)
                        else:
                            with _GradMode(enabled):
                                response = gen.send(request)
                except StopIteration as stop:
                    return stop.value

            return gen_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _GradMode(enabled):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def no_grad(fn: Callable[..., Any] | None = None) -> Any:
    """Stop recording: ``with minigrad.no_grad(): ...``, ``@minigrad.no_grad()`` or, as PyTorch
    also accepts, ``@minigrad.no_grad`` without the call."""
    return _GradMode(False) if fn is None else _GradMode(False)(fn)


def enable_grad(fn: Callable[..., Any] | None = None) -> Any:
    """Record again inside a ``no_grad`` region (context manager or decorator, with or without
    the call)."""
    return _GradMode(True) if fn is None else _GradMode(True)(fn)
