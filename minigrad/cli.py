"""The ``minigrad`` command: ``minigrad demo [NAME] [options]`` and ``minigrad recipe NAME``.

Errors print one line (``minigrad: error: ...``) and exit with status 1; ``--debug`` anywhere on
the command line shows the full traceback instead. Every numeric option is checked by argparse
with the types below before any work starts (a bad value is a usage error, status 2).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys

#: demo name -> (module, description); the first one is what plain ``minigrad demo`` runs
DEMOS: dict[str, tuple[str, str]] = {
    "dinos": ("minigrad.demos.dinos",
              "a character-level LSTM that learns dinosaur names, then invents new ones"),
    "digits": ("minigrad.demos.digits",
               "a two-layer network on the 8x8 digits, plain gradient descent on the engine"),
    "gradient-flow": ("minigrad.demos.gradient_flow",
                      "how far back gradients reach in an RNN, LSTM and GRU (table and plot)"),
}
DEFAULT_DEMO = "dinos"


def _recipes() -> dict[str, tuple[str, str]]:
    """Recipe name -> (module, description): the dinosaur model is the main demo, the rest live
    in :mod:`minigrad.recipes`."""
    from .recipes import RECIPES

    return {"dinos": DEMOS["dinos"], **RECIPES}

USAGE = """usage: minigrad demo [NAME] [options]      run a demo (default: {default})
       minigrad recipe NAME [options]     run a recipe: a complete training script
       minigrad --version

demos:
{demos}
recipes:
{recipes}
Each takes --help for its options; --debug shows the full traceback of an error."""


# ---- argument types: every numeric option is checked before any work starts ------------------
def _number(text: str, kind: type) -> float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def nonnegative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def finite_float(text: str) -> float:
    """An argparse type: any finite number (no nan, no inf)."""
    return float(_number(text, float))


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def writable_path(text: str) -> str:
    """An argparse type: a file path whose directory exists (the file itself may not)."""
    if not text:
        raise argparse.ArgumentTypeError("must be a file path, got an empty string")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file path")
    folder = os.path.dirname(text) or "."
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"cannot write {text}: the directory {folder} does "
                                         f"not exist")
    return text


def checkpoint_path(text: str) -> str:
    """An argparse type: a writable file path ending in ``.npz`` or ``.safetensors`` (the names
    :func:`minigrad.save` writes), so a bad name fails before training, not after an epoch."""
    from .checkpoint import SUFFIXES

    path = writable_path(text)
    if os.path.splitext(path)[1].lower() not in SUFFIXES:
        raise argparse.ArgumentTypeError(f"must end in {' or '.join(SUFFIXES)}, got {text!r}")
    return path


# ---- running ----------------------------------------------------------------------------------
def _listing(table: dict[str, tuple[str, str]]) -> str:
    return "".join(f"  {name:<16}{desc}\n" for name, (_, desc) in table.items()) or "  (none)\n"


def _run(table: dict[str, tuple[str, str]], name: str, argv: list[str]) -> int:
    from .progress import compile_notice

    module = importlib.import_module(table[name][0])
    with compile_notice():
        return int(module.main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print("minigrad: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one clear line at the command line; the traceback with --debug
        if debug:
            raise
        what = str(e) or type(e).__name__
        if isinstance(e, OSError) and e.filename is not None and e.strerror:
            what = f"{e.strerror}: {e.filename}"
        print(f"minigrad: error: {what} (run with --debug for the traceback)", file=sys.stderr)
        return 1


def _dispatch(args: list[str]) -> int:
    recipes = _recipes()
    usage = USAGE.format(default=DEFAULT_DEMO, demos=_listing(DEMOS), recipes=_listing(recipes))
    if not args or args[0] in ("-h", "--help"):
        print(usage)
        return 0 if args else 2
    if args[0] == "--version":
        from . import __version__

        print(f"minigrad {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command == "demo":
        if rest and rest[0] in DEMOS:
            return _run(DEMOS, rest[0], rest[1:])
        return _run(DEMOS, DEFAULT_DEMO, rest)
    if command == "recipe":
        if not rest or rest[0] not in recipes:
            got = repr(rest[0]) if rest else "nothing"
            print(f"minigrad recipe: unknown recipe {got}; choose from: {', '.join(recipes)}",
                  file=sys.stderr)
            return 2
        return _run(recipes, rest[0], rest[1:])
    print(f"minigrad: unknown command {command!r}\n\n{usage}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
