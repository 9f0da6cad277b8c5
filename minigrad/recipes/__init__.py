"""The recipes: small, complete training scripts, one per classic recurrent-network exercise.

Each recipe is a module with ``train(...)`` (returns a dict of metrics; tests call it with tiny
settings) and ``main(argv)`` (the command line; ``--help`` lists the options). Run one with::

    minigrad recipe NAME [options]

The dinosaur-name language model is the main demo (``minigrad demo``). The music recipe needs
the optional extra ``music`` (music21).
"""

from __future__ import annotations

#: recipe name -> (module, one-line description)
RECIPES: dict[str, tuple[str, str]] = {
    "shakespeare": ("minigrad.recipes.shakespeare",
                    "character-level LSTM on Tiny Shakespeare, truncated BPTT; bits per char"),
    "mnist": ("minigrad.recipes.mnist",
              "MNIST read row by row by an LSTM(100); accuracy and epoch time (--torch compares)"),
    "tagging": ("minigrad.recipes.tagging",
                "bidirectional LSTM tags every digit of variable-length strings"),
    "seq2seq": ("minigrad.recipes.seq2seq",
                "encoder-decoder LSTM, teacher forcing: dates to ISO form (or sorts digits)"),
    "classify": ("minigrad.recipes.classify",
                 "sequence classification from the last state vs the mean of the states"),
    "music": ("minigrad.recipes.music",
              "LSTM over the notes of Irish folk tunes, improvises one to MIDI (needs music21)"),
}

__all__ = ["RECIPES"]
