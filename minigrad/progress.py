"""Progress for long loops: a tqdm bar with the running loss when tqdm is installed and the output
is a terminal, plain periodic lines otherwise (logs, CI, pipes)."""

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
