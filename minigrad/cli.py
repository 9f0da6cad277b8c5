"""The ``minigrad`` command: ``minigrad demo [NAME] [options]`` and ``minigrad recipe NAME``."""

from __future__ import annotations

import importlib
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
    """Recipe name -> (module, description): recipe 1 is the main demo, the rest live in
    :mod:`minigrad.recipes`."""
    from .recipes import RECIPES

    return {"dinos": DEMOS["dinos"], **RECIPES}

USAGE = """usage: minigrad demo [NAME] [options]      run a demo (default: {default})
       minigrad recipe NAME [options]     run one of the seed recipes
       minigrad --version

demos:
{demos}
recipes:
{recipes}
Each takes --help for its options."""


def _listing(table: dict[str, tuple[str, str]]) -> str:
    return "".join(f"  {name:<16}{desc}\n" for name, (_, desc) in table.items()) or "  (none)\n"


def _run(table: dict[str, tuple[str, str]], name: str, argv: list[str]) -> int:
    module = importlib.import_module(table[name][0])
    return int(module.main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
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
