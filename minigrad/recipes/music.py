"""Improvise a folk tune: an LSTM learns melodies note by note, then writes a new one to MIDI.

Data: O'Neill's "Music of Ireland" (1850 Irish fiddle tunes in ABC notation), which music21
ships inside its package as the corpus collection ``oneills1850``: nothing is downloaded. The
first ``--tunes`` tunes are read. Each melody becomes a sequence of tokens, one per note or
rest, a token being the pair (MIDI pitch or rest, duration in quarter notes): ``D5 1/2`` is an
eighth-note D, ``rest 1`` a quarter rest. Grace notes are dropped, tied notes merged, and a
chord keeps its top note. Every tune is transposed by at most six semitones so that its tonic
becomes C (major, mixolydian and lydian tunes) or A (minor, dorian, phrygian), so the model
learns one key's worth of intervals instead of twelve. The tunes are split (by tune, not by
window) into training and validation sets.

Model: Embedding -> LSTM -> Linear over the token vocabulary. Training is one-to-one: every
tune, framed by a start and an end symbol, is cut into windows of ``--window`` tokens and the
model predicts each next token from the ones before it (cross-entropy at every step, Adam,
gradient-norm clipping at 5). The validation loss is printed after every epoch.

Sampling: from the start symbol, draw a token from softmax(logits / ``--temperature``), feed
it back as the next input, and repeat until ``--length`` notes and rests (the start and end
symbols are never drawn). music21 writes the melody as a standard MIDI file (``--out``); with
matplotlib a piano roll is drawn beside it (``tune.mid`` -> ``tune.png``).

Needs the optional extra ``music`` (music21): pip install "minigrad[music]".
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

import minigrad as mg
import rnn
from minigrad import nn, optim
from minigrad.data import DataLoader
from minigrad.nn import functional as F

from ._common import (
    echo,
    finite_float,
    fit,
    make_parser,
    median,
    positive_float,
    positive_int,
    save_checkpoint,
    writable_path,
)

COLLECTION = "oneills1850"
INSTALL_HINT = 'pip install "minigrad[music]"'
REST = -1                      # the pitch of a rest token
BOS, EOS = "<tune>", "</tune>"
IGNORE = -100
MINOR_MODES = ("minor", "aeolian", "dorian", "phrygian", "locrian")

#: a token: (MIDI pitch, or REST; duration in quarter notes)
Token = tuple[int, Fraction]


class Music21Missing(ImportError):
    """music21 is not installed; the message says which extra brings it."""


def require_music21() -> Any:
    """Import and return music21, or raise :class:`Music21Missing` naming the extra."""
    try:
        import music21
    except ImportError:
        raise Music21Missing(f"the music recipe needs music21, which is not installed: "
                             f"{INSTALL_HINT}") from None
    return music21


# ---- tokens ------------------------------------------------------------------------------------
def quarter_length(value: float | Fraction) -> Fraction:
    """A duration as an exact fraction of a quarter note (triplets stay thirds)."""
    return Fraction(value).limit_denominator(48)


def token_name(token: Token) -> str:
    """``(62, 1/2)`` -> ``"D4 1/2"``; ``(-1, 1)`` -> ``"rest 1"``."""
    pitch, dur = token
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    what = "rest" if pitch == REST else f"{names[pitch % 12]}{pitch // 12 - 1}"
    return f"{what} {dur}"


def transposition(tonic_pitch_class: int, mode: str) -> int:
    """Semitones (-6..5) that move the tonic to C (major-like modes) or A (minor-like)."""
    target = 9 if mode in MINOR_MODES else 0
    return (target - tonic_pitch_class + 6) % 12 - 6


def transpose(tokens: Sequence[Token], semitones: int) -> list[Token]:
    """Shift every pitch (rests stay rests)."""
    return [(p if p == REST else p + semitones, d) for p, d in tokens]


def tune_tokens(score: Any) -> list[Token]:
    """The melody of one music21 score as tokens, transposed to the common key."""
    from music21 import key

    tokens: list[Token] = []
    # NOTE: recurse() walks the score in order without copying it; score.stripTies() would merge
    # tied notes too, but deep-copies the score first and takes most of the reading time.
    for n in score.recurse().notesAndRests:
        if n.duration.isGrace or n.quarterLength <= 0:
            continue
        if n.isRest:
            pitch = REST
        elif n.isChord:
            pitch = max(p.midi for p in n.pitches)
        else:
            pitch = n.pitch.midi
        dur = quarter_length(n.quarterLength)
        tied = n.tie is not None and n.tie.type in ("stop", "continue")
        if tied and tokens and tokens[-1][0] == pitch:
            tokens[-1] = (tokens[-1][0], tokens[-1][1] + dur)   # a tied note continues
        else:
            tokens.append((int(pitch), dur))
    keys = list(score.recurse().getElementsByClass(key.KeySignature))
    if keys:
        k = keys[0] if isinstance(keys[0], key.Key) else keys[0].asKey("major")
        tokens = transpose(tokens, transposition(k.tonic.pitchClass, k.mode))
    return tokens


def load_tunes(n: int, log: bool = False) -> list[list[Token]]:
    """The first ``n`` tunes of the collection (fewer if it holds fewer), as token lists;
    tunes with fewer than 8 notes and rests are skipped."""
    music21 = require_music21()
    folder = Path(music21.corpus.__file__).parent / COLLECTION
    files = sorted(folder.glob("*.abc"))
    if not files:
        raise FileNotFoundError(f"music21 {music21.__version__} has no {COLLECTION} corpus "
                                f"in {folder}")
    tunes: list[list[Token]] = []
    for path in files:
        opus = music21.converter.parse(str(path))
        scores = opus.scores if hasattr(opus, "scores") else [opus]
        for score in scores:
            tokens = tune_tokens(score)
            if len(tokens) >= 8:
                tunes.append(tokens)
            if len(tunes) == n:
                return tunes
        echo(log, f"  read {path.name}: {len(tunes)} tunes so far")
    return tunes


class TokenVocab:
    """Token <-> id, with the start and end symbols first (ids 0 and 1)."""

    def __init__(self, tunes: Iterable[Sequence[Token]]) -> None:
        seen = sorted({t for tune in tunes for t in tune})
        self.itos: list[Token | str] = [BOS, EOS, *seen]
        self.stoi: dict[Token | str, int] = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tune: Sequence[Token]) -> np.ndarray:
        """Start symbol, the tune's ids, end symbol (KeyError for a token not in the vocabulary)."""
        ids = [self.stoi[t] for t in tune]
        return np.array([self.stoi[BOS], *ids, self.stoi[EOS]], dtype=np.int64)

    def to_list(self) -> list[str]:
        """The vocabulary as plain strings (``"62 1/2"``, ``"-1 1"``) for a checkpoint."""
        return [t if isinstance(t, str) else f"{t[0]} {t[1]}" for t in self.itos]


def windows(ids: np.ndarray, window: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(inputs, targets) pieces of at most ``window`` steps; targets are the next tokens."""
    out = []
    for start in range(0, len(ids) - 1, window):
        piece = ids[start:start + window + 1]
        out.append((piece[:-1], piece[1:]))
    return out


def split_tunes(tunes: list[list[Token]], val_fraction: float,
                rng: np.random.Generator) -> tuple[list[list[Token]], list[list[Token]]]:
    """A seeded split by tune: at least one tune on each side."""
    order = rng.permutation(len(tunes))
    n_val = min(len(tunes) - 1, max(1, round(val_fraction * len(tunes))))
    return [tunes[i] for i in order[n_val:]], [tunes[i] for i in order[:n_val]]


# ---- the model -----------------------------------------------------------------------------------
class MelodyLSTM(nn.Module):
    """Embedding -> LSTM -> Linear over the token vocabulary.

    Shapes: ids (B, T) int, lengths (B,) -> logits (B, T, V); state (h, c), each (1, B, H).
    """

    def __init__(self, vocab_size: int, hidden_size: int, embed_size: int = 32,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, rng=rng)
        self.lstm = rnn.LSTM(embed_size, hidden_size, batch_first=True, rng=rng)
        self.head = nn.Linear(hidden_size, vocab_size, rng=rng)

    def forward(self, ids: np.ndarray, state: Any = None,
                lengths: np.ndarray | None = None) -> tuple[mg.Tensor, Any]:
        out, state = self.lstm(self.embed(ids), state, lengths=lengths)
        return self.head(out), state


@mg.no_grad()
def validation_loss(model: MelodyLSTM, loader: DataLoader) -> float:
    """Mean cross-entropy per token (nats) over the validation windows."""
    total, count = 0.0, 0
    for x, y, lengths in loader:
        logits, _ = model(x, lengths=lengths)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                 ignore_index=IGNORE, reduction="sum").item()
        count += int((y != IGNORE).sum())
    return total / max(count, 1)


@mg.no_grad()
def sample(model: MelodyLSTM, vocab: TokenVocab, length: int, temperature: float,
           rng: np.random.Generator) -> list[Token]:
    """Draw ``length`` notes and rests one at a time, each fed back as the next input."""
    model.eval()
    state = None
    token = vocab.stoi[BOS]
    melody: list[Token] = []
    for _ in range(length):
        logits, state = model(np.array([[token]]), state)
        z = logits.data[0, -1].astype(np.float64) / temperature
        z[[vocab.stoi[BOS], vocab.stoi[EOS]]] = -np.inf   # a melody of exactly ``length``
        p = np.exp(z - z.max())
        token = int(rng.choice(len(p), p=p / p.sum()))
        drawn = vocab.itos[token]
        assert not isinstance(drawn, str)
        melody.append(drawn)
    model.train()
    return melody


# ---- output ------------------------------------------------------------------------------------
def write_midi(melody: Sequence[Token], path: str, tempo: int = 120) -> str:
    """Write the melody as a standard MIDI file with music21; returns the path."""
    music21 = require_music21()
    part = music21.stream.Part()
    part.append(music21.tempo.MetronomeMark(number=tempo))
    part.append(music21.instrument.Violin())
    for pitch, dur in melody:
        element = music21.note.Rest() if pitch == REST else music21.note.Note(pitch)
        element.quarterLength = dur
        part.append(element)
    part.write("midi", fp=path)
    return path


def plot_piano_roll(melody: Sequence[Token], path: str, title: str) -> str:
    """A piano roll (time in quarter notes across, pitch up) as a PNG; needs matplotlib."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax = fig.add_subplot()
    t = Fraction(0)
    pitches = []
    for pitch, dur in melody:
        if pitch != REST:
            ax.broken_barh([(float(t), float(dur))], (pitch - 0.4, 0.8), color="tab:blue")
            pitches.append(pitch)
        t += dur
    low, high = (min(pitches), max(pitches)) if pitches else (60, 72)
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    ticks = [p for p in range(low - 1, high + 2) if p % 12 in (0, 4, 7)]
    ax.set_yticks(ticks, [f"{names[p % 12]}{p // 12 - 1}" for p in ticks])
    ax.set_ylim(low - 1.5, high + 1.5)
    ax.set_xlim(0, float(t) or 1.0)
    ax.set_xlabel("time (quarter notes)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    fig.savefig(path, dpi=110)
    return path


# ---- training ---------------------------------------------------------------------------------
def train(epochs: int = 20, hidden: int = 128, lr: float = 0.005, batch_size: int = 32,
          seed: int = 0, tunes: int = 500, window: int = 64, val_fraction: float = 0.1,
          checkpoint_path: str | None = None, log: bool = True) -> dict[str, Any]:
    """Read the tunes, train the model; returns ``{"val_losses", "losses", "first_loss",
    "epoch_times", "median_epoch_time", "model", "vocab", "n_tunes", "n_train_tokens"}``."""
    all_tunes = load_tunes(tunes, log=log)
    if len(all_tunes) < 2:
        raise ValueError(f"need at least 2 tunes for a training and a validation set, "
                         f"got {len(all_tunes)}")
    rng = np.random.default_rng(seed)
    train_tunes, val_tunes = split_tunes(all_tunes, val_fraction, rng)
    vocab = TokenVocab(all_tunes)  # a token seen only in validation still has an id
    train_pieces = [w for tune in train_tunes for w in windows(vocab.encode(tune), window)]
    val_pieces = [w for tune in val_tunes for w in windows(vocab.encode(tune), window)]
    n_tokens = sum(len(x) for x, _ in train_pieces)
    pitches = {p for tune in train_tunes for p, _ in tune if p != REST}
    echo(log, f"{len(all_tunes)} tunes ({len(train_tunes)} training, {len(val_tunes)} "
              f"validation), {n_tokens:,} training tokens in {len(train_pieces)} windows; "
              f"vocabulary {len(vocab)} (notes and rests x durations, {len(pitches)} pitches)")
    train_loader = DataLoader([x for x, _ in train_pieces], [y for _, y in train_pieces],
                              batch_size=batch_size, generator=rng)
    val_loader = DataLoader([x for x, _ in val_pieces], [y for _, y in val_pieces],
                            batch_size=256, shuffle=False)
    model = MelodyLSTM(len(vocab), hidden, rng=rng)
    opt = optim.Adam(model.parameters(), lr=lr)

    def batch_loss(batch: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[mg.Tensor, int]:
        x, y, lengths = batch
        logits, _ = model(x, lengths=lengths)
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1),
                               ignore_index=IGNORE)
        return loss, int((y != IGNORE).sum())

    history = fit(model, opt, epochs, lambda e: train_loader, batch_loss, clip=5.0,
                  evaluate=lambda: {"validation loss": validation_loss(model, val_loader)},
                  log=log)
    if checkpoint_path is not None:
        save_checkpoint(checkpoint_path, model, opt, epoch=epochs, hidden=hidden,
                        vocab=vocab.to_list())
    return {**history, "val_losses": [e["validation loss"] for e in history["evals"]],
            "median_epoch_time": median(history["epoch_times"]), "model": model,
            "vocab": vocab, "n_tunes": len(all_tunes), "n_train_tokens": n_tokens}


def main(argv: list[str] | None = None) -> int:
    ap = make_parser("music", __doc__, epochs=20, hidden=128, lr=0.005, batch_size=32)
    ap.add_argument("--tunes", type=_at_least_two, default=500,
                    help=f"how many tunes of the {COLLECTION} collection to read, at least 2 "
                         f"(default 500; it holds about 1,850)")
    ap.add_argument("--window", type=_window, default=64,
                    help="tokens per training window: how far back gradients flow (default 64)")
    ap.add_argument("--val-fraction", type=_fraction, default=0.1,
                    help="share of the tunes held out for validation (default 0.1)")
    ap.add_argument("--out", type=_midi_path, default="tune.mid", metavar="FILE.mid",
                    help="the MIDI file to write (default tune.mid); with matplotlib a piano "
                         "roll is written beside it as FILE.png")
    ap.add_argument("--length", type=positive_int, default=96,
                    help="notes and rests in the generated melody (default 96)")
    ap.add_argument("--temperature", type=positive_float, default=1.0,
                    help="sampling temperature: < 1 safer, > 1 wilder (default 1.0)")
    ap.add_argument("--tempo", type=_tempo, default=120,
                    help="quarter notes per minute in the MIDI file (default 120)")
    ap.add_argument("--no-plot", action="store_true", help="do not draw the piano roll")
    args = ap.parse_args(argv)
    require_music21()  # before any work: one line naming the extra, not a traceback
    print(f"folk tunes from music21's {COLLECTION} corpus: LSTM({args.hidden}) over note "
          f"tokens, windows of {args.window}, Adam lr {args.lr}, {args.epochs} epoch(s)")
    r = train(args.epochs, args.hidden, args.lr, args.batch_size, args.seed, args.tunes,
              args.window, args.val_fraction, args.checkpoint)
    uniform = math.log(len(r["vocab"]))
    print(f"\nvalidation loss {r['val_losses'][-1]:.3f} nats/token (uniform guess: "
          f"{uniform:.2f}); training loss {r['first_loss']:.3f} -> {r['losses'][-1]:.3f}; "
          f"median epoch {r['median_epoch_time']:.1f} s")
    if args.checkpoint:
        print(f"checkpoint: {args.checkpoint}")
    melody = sample(r["model"], r["vocab"], args.length, args.temperature,
                    np.random.default_rng(args.seed))
    write_midi(melody, args.out, args.tempo)
    notes = [p for p, _ in melody if p != REST]
    print(f"\n{len(melody)} notes and rests ({len(notes)} notes, {len(set(notes))} pitches) at "
          f"temperature {args.temperature}, in C major / A minor:")
    print("  " + ", ".join(token_name(t) for t in melody[:16]) + (", ..." if len(melody) > 16
                                                                  else ""))
    print(f"MIDI written to {os.path.abspath(args.out)}")
    if not args.no_plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("(matplotlib is not installed, so no piano roll: pip install "
                  "'minigrad[plot]')")
        else:
            png = str(Path(args.out).with_suffix(".png"))
            plot_piano_roll(melody, png, f"generated melody: {len(melody)} notes and rests, "
                                         f"temperature {args.temperature}, seed {args.seed}")
            print(f"piano roll written to {os.path.abspath(png)}")
    return 0


def _at_least_two(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, got {text}")
    return value


_window = _at_least_two


def _midi_path(text: str) -> str:
    """A writable ``.mid``/``.midi`` path: any other name would hide what the file holds, and
    ``--out tune.png`` would be overwritten by the piano roll written beside it."""
    path = writable_path(text)
    if os.path.splitext(path)[1].lower() not in (".mid", ".midi"):
        raise argparse.ArgumentTypeError(f"must end in .mid or .midi, got {text!r}")
    return path


def _fraction(text: str) -> float:
    value = finite_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _tempo(text: str) -> int:
    value = positive_int(text)
    if value > 1000:
        raise argparse.ArgumentTypeError(f"must be at most 1000 beats per minute, got {text}")
    return value
