"""Progress for long loops: a tqdm bar with the running loss when tqdm is installed and the output
is a terminal, plain periodic lines otherwise (logs, CI, pipes); and :func:`compile_notice`, which
names each kernel Numba compiles from scratch (a cold cache) instead of seconds of silence."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO


class Progress:
    """Iterate with ``for item in Progress(items, desc="epoch 3")`` and call ``update(loss=...)``.

    Without a terminal (or without tqdm) it prints at most one line per ``every`` seconds and a
    last line when the loop ends, so logs stay short.
    """

    def __init__(self, iterable: Iterable[Any], *, desc: str = "", total: int | None = None,
                 file: TextIO | None = None, every: float = 5.0,
                 force_plain: bool = False) -> None:
        self._iterable = iterable
        self._desc = desc
        self._total = total if total is not None else _len(iterable)
        self._file = file or sys.stderr
        self._every = every
        self._stats: dict[str, float] = {}
        self._bar: Any = None
        if not force_plain and self._file.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=self._total, desc=desc, file=self._file, leave=False,
                                 dynamic_ncols=True)

    def update(self, **stats: float) -> None:
        """Record the latest values (e.g. ``loss=...``) to show next to the bar."""
        self._stats.update(stats)
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)

    def _line(self, done: int, elapsed: float) -> str:
        of = f"/{self._total}" if self._total else ""
        stats = "  ".join(f"{k} {v:.4g}" for k, v in self._stats.items())
        return f"{self._desc} {done}{of}  {stats}  ({elapsed:.1f} s)".strip()

    def __iter__(self) -> Iterator[Any]:
        start = last = time.perf_counter()
        done = 0
        try:
            for item in self._iterable:
                yield item
                done += 1
                if self._bar is not None:
                    self._bar.update(1)
                elif time.perf_counter() - last >= self._every:
                    last = time.perf_counter()
                    print(self._line(done, last - start), file=self._file, flush=True)
        finally:
            if self._bar is not None:
                self._bar.close()


def _len(iterable: Iterable[Any]) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None


# ---- the first-run notice: say what Numba compiles instead of seconds of silence ---------------
class _CompileNotice:
    """A Numba event listener: one stderr line per kernel compiled from scratch.

    Numba fires its ``numba:compile`` event only when a function is really compiled, never when
    it is loaded from the on-disk cache, so a warm run prints nothing. Functions compiled inside
    another one's compilation (helpers, overloads) are counted in their caller's line.
    """

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self.depth = 0
        self.started: list[float] = []
        self.announced = False

    def on_start(self, event: Any) -> None:
        self.depth += 1
        if self.depth > 1:
            return
        dispatcher = event.data.get("dispatcher")
        if not self.announced:
            self.announced = True
            cached = type(getattr(dispatcher, "_cache", None)).__name__ != "NullCache"
            when = ("once; later runs load them from the cache" if cached
                    else "this build does not cache them, so every run compiles")
            print(f"minigrad: first run: Numba is compiling the kernels this command uses into "
                  f"machine code ({when})", file=self.file, flush=True)
        self.started.append(time.perf_counter())
        print(f"  compiling {_kernel_name(dispatcher)} ...", end="",
              file=self.file, flush=True)

    def on_end(self, event: Any) -> None:
        self.depth -= 1
        if self.depth == 0 and self.started:
            print(f" {time.perf_counter() - self.started.pop():.1f} s", file=self.file,
                  flush=True)


def _kernel_name(dispatcher: Any) -> str:
    func = getattr(dispatcher, "py_func", None)
    if func is None:
        return "a Numba function"
    return f"{func.__module__}.{func.__qualname__}"


def compile_notice(file: TextIO | None = None) -> Any:
    """A context manager: while it is open, every kernel that Numba compiles (a cold cache) is
    announced on ``file`` (stderr by default) with its name and compile time; kernels loaded
    from the cache are silent. Does nothing when Numba's event API is unavailable."""
    from contextlib import nullcontext

    try:
        from numba.core import event
    except ImportError:
        return nullcontext()
    notice = _CompileNotice(file or sys.stderr)

    class _Listener(event.Listener):  # type: ignore[misc]
        def on_start(self, ev: Any) -> None:
            notice.on_start(ev)

        def on_end(self, ev: Any) -> None:
            notice.on_end(ev)

    return event.install_listener("numba:compile", _Listener())
