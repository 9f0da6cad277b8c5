"""The recipes with tiny settings: each must learn (loss well below where it started, accuracy
clearly above chance) in a few seconds, deterministically; and each command line parses. The
music recipe's training tests skip without music21 (the extra ``music``)."""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import sys

import numpy as np
import pytest

import minigrad as mg
from minigrad.cli import main as cli
from minigrad.recipes import RECIPES, classify, mnist, music, seq2seq, shakespeare, tagging

# ---- registry and command lines ----------------------------------------------------------------


def test_registry_names_importable_modules_with_main() -> None:
    assert set(RECIPES) == {"shakespeare", "mnist", "tagging", "seq2seq", "classify", "music"}
    for module_name, description in RECIPES.values():
        module = importlib.import_module(module_name)
        assert callable(module.main) and callable(module.train)
        assert module.__doc__ and description


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_help_exits_cleanly(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(RECIPES[name][0])
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"minigrad recipe {name}" in out and "--epochs" in out and "--seed" in out


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_bad_option_is_a_usage_error(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(RECIPES[name][0])
    with pytest.raises(SystemExit) as exc:
        module.main(["--epochs", "0"])
    assert exc.value.code == 2
    assert "--epochs" in capsys.readouterr().err


# ---- recipe 2: Tiny Shakespeare ----------------------------------------------------------------


def test_streams_and_chunks_cover_the_text_in_order() -> None:
    ids = np.arange(103)
    rows = shakespeare.streams(ids, 4)                     # 4 rows of 25, 3 ids dropped
    assert rows.shape == (4, 25) and rows[1, 0] == 25
    pieces = list(shakespeare.chunks(rows, 10))
    assert [x.shape[1] for x, _ in pieces] == [10, 10, 4]
    for x, y in pieces:
        np.testing.assert_array_equal(y, x + 1)           # targets are the next characters
    np.testing.assert_array_equal(np.concatenate([x for x, _ in pieces], axis=1), rows[:, :-1])


def test_shakespeare_learns_and_samples() -> None:
    r = shakespeare.train(epochs=2, hidden=32, lr=0.01, batch_size=8, bptt=32,
                          max_chars=12_000, log=False)
    uniform = math.log2(len(r["vocab"]))
    assert r["losses"][-1] < r["first_loss"] - 1.0        # nats per character
    assert r["bpc"] < uniform - 1.5                       # held-out tail, bits per character
    assert r["bpc_per_epoch"][-1] < r["bpc_per_epoch"][0]
    text = shakespeare.sample(r["model"], r["vocab"], "First", 40, 0.8,
                              np.random.default_rng(0))
    assert text.startswith("First") and len(text) == 45


def test_carried_state_is_detached() -> None:
    model = shakespeare.CharLM(5, 8, rng=np.random.default_rng(0))
    _, state = model(np.zeros((2, 3), dtype=np.int64))
    assert state[0].requires_grad
    h, c = shakespeare.detach(state)
    assert not h.requires_grad and not c.requires_grad
    np.testing.assert_array_equal(h.data, state[0].data)


# ---- recipe 3: MNIST row by row ------------------------------------------------------------------


def test_mnist_learns() -> None:
    r = mnist.train(epochs=3, hidden=32, batch_size=50, n_train=1000, n_test=300, log=False)
    assert r["losses"][-1] < 0.7 * r["first_loss"]
    assert r["test_acc"] > 0.4                            # chance is 0.1
    assert r["torch"] is None and len(r["epoch_times"]) == 3


def test_mnist_split_is_stratified_and_seeded() -> None:
    X_tr, X_te, y_tr, y_te = mnist.split_data(400, 100, seed=3)
    assert X_tr.shape == (400, 784) and X_te.shape == (100, 784)
    assert np.bincount(y_te, minlength=10).tolist() == [10] * 10
    np.testing.assert_array_equal(mnist.split_data(400, 100, seed=3)[3], y_te)


def test_mnist_torch_twin_matches_from_the_same_start() -> None:
    pytest.importorskip("torch")
    r = mnist.train(epochs=1, hidden=16, batch_size=50, n_train=200, n_test=50,
                    compare_torch=True, log=False)
    t = r["torch"]
    # same initial weights, same batches, same update rule: the first epoch agrees closely
    assert abs(r["losses"][0] - t["losses"][0]) < 1e-4
    assert len(t["epoch_times"]) == 1 and 0 <= t["test_acc"] <= 1


# ---- recipe 4: bidirectional tagging ---------------------------------------------------------


def test_tags_need_both_sides() -> None:
    digits = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    # left record: 3, 4, 5, 9; right record: 9, 6, 5, 3 (the last is always one)
    assert tagging.tag(digits).tolist() == [2, 0, 2, 0, 2, 3, 0, 1, 1, 1]
    assert tagging.tag(np.array([7])).tolist() == [3]
    assert tagging.tag(np.array([2, 2])).tolist() == [2, 1]   # ties are not records


def test_tagging_learns_per_token() -> None:
    r = tagging.train(epochs=5, hidden=16, batch_size=32, n_train=800, n_test=200,
                      max_len=12, log=False)
    assert r["losses"][-1] < 0.3 * r["first_loss"]
    assert r["token_acc"] > r["majority_acc"] + 0.2
    assert r["token_acc"] > 0.9


def test_tagging_padding_does_not_change_the_tags() -> None:
    model = tagging.Tagger(8, rng=np.random.default_rng(0))
    x = np.array([[4, 2, 7, 1]])
    short = model(x, np.array([4])).data
    padded = model(np.array([[4, 2, 7, 1, 0, 0]]), np.array([4])).data
    np.testing.assert_allclose(padded[:, :4], short, rtol=1e-5, atol=1e-6)


# ---- recipe 5: encoder-decoder -----------------------------------------------------------------


def test_task_generators() -> None:
    rng = np.random.default_rng(0)
    for source, target in seq2seq.date_pairs(50, 0, 0, rng):
        year, month, day = map(int, target.split("-"))
        assert 1950 <= year <= 2049 and 1 <= month <= 12 and 1 <= day <= 31
        assert str(year % 100).zfill(2) in source
    for source, target in seq2seq.sort_pairs(20, 2, 6, rng):
        assert target == "".join(sorted(source)) and 2 <= len(source) <= 6
    for source, target in seq2seq.reverse_pairs(20, 2, 6, rng):
        assert target == source[::-1]


def test_seq2seq_learns_with_greedy_decoding() -> None:
    r = seq2seq.train("sort", epochs=4, hidden=32, lr=0.01, batch_size=32, n_train=1500,
                      n_test=200, min_len=2, max_len=5, log=False)
    assert r["losses"][-1] < 0.3 * r["first_loss"]
    assert r["exact_match"] > 0.5                          # chance is ~0
    assert r["exact_match"] <= r["token_acc"] <= 1
    assert r["evals"][-1] == {"exact match acc": r["exact_match"], "token acc": r["token_acc"]}
    assert len(r["examples"]) == 5


def test_token_accuracy_counts_characters_in_place() -> None:
    answers, targets = ["1987-03-03", "12", "", "5"], ["1987-03-04", "123", "9", "5"]
    assert seq2seq.token_accuracy(answers, targets) == (9 + 2 + 0 + 1) / (10 + 3 + 1 + 1)
    assert seq2seq.token_accuracy(["0123"], ["123"]) == 0.0   # shifted by one: none in place
    assert seq2seq.token_accuracy(["1234"], ["123"]) == 1.0   # an extra character is not counted


# ---- recipe 6: last state vs mean of states -----------------------------------------------------


def test_classify_learns_with_both_poolings() -> None:
    r = classify.train(epochs=3, hidden=16, batch_size=32, n_train=800, n_test=200,
                       max_len=20, log=False)
    for pool in ("last", "mean"):
        assert r[pool]["losses"][-1] < 0.6 * r[pool]["first_loss"]
        assert r[pool]["test_acc"] > r["majority_acc"] + 0.25


@pytest.mark.parametrize("pool", ["last", "mean"])
def test_pooling_ignores_padding(pool: str) -> None:
    model = classify.Classifier(8, pool, rng=np.random.default_rng(0))
    x = np.array([[1, 5, 0, 2, 2]])
    alone = model(x, np.array([5])).data
    # the same string padded inside a batch with a longer one
    batch = np.array([[1, 5, 0, 2, 2, 0, 0, 0], [3, 1, 4, 1, 5, 9, 2, 6]])
    together = model(batch, np.array([5, 8])).data
    np.testing.assert_allclose(together[:1], alone, rtol=1e-5, atol=1e-6)


def test_classify_data_has_a_clear_winner() -> None:
    xs, ys = classify.make_data(100, 3, 15, np.random.default_rng(1))
    for x, y in zip(xs, ys):
        counts = np.bincount(x, minlength=10)[:3]
        assert counts.argmax() == y and (counts == counts.max()).sum() == 1


# ---- end to end through main, and a checkpoint ---------------------------------------------------


def test_mains_run_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    tiny = ["--epochs", "1", "--hidden", "8"]
    assert shakespeare.main([*tiny, "--max-chars", "2000", "--batch-size", "4",
                             "--sample-chars", "10"]) == 0
    assert mnist.main([*tiny, "--train-size", "100", "--test-size", "50"]) == 0
    assert tagging.main([*tiny, "--train-size", "64", "--test-size", "16"]) == 0
    assert seq2seq.main([*tiny, "--task", "reverse", "--train-size", "64",
                         "--test-size", "16"]) == 0
    assert classify.main([*tiny, "--train-size", "64", "--test-size", "16"]) == 0
    out = capsys.readouterr().out
    for phrase in ("bits per character", "minigrad: test accuracy", "test per-token accuracy",
                   "exact match", "last", "mean"):
        assert phrase in out
    assert re.search(r"exact match [\d.]+%, per-token accuracy [\d.]+%", out)  # seq2seq


def test_checkpoint_holds_the_trained_model(tmp_path: pytest.TempPathFactory) -> None:
    path = str(tmp_path / "tagger.npz")  # type: ignore[operator]
    r = tagging.train(epochs=1, hidden=8, n_train=64, n_test=16, checkpoint_path=path,
                      log=False)
    state = mg.load(path)
    assert state["epoch"] == 1 and state["hidden"] == 8
    fresh = tagging.Tagger(8, rng=np.random.default_rng(1))
    fresh.load_state_dict(state["model"])
    for name, value in r["model"].state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[name], value)


def test_same_seed_same_run() -> None:
    runs = [tagging.train(epochs=1, hidden=8, n_train=128, n_test=16, seed=5, log=False)
            for _ in range(2)]
    assert runs[0]["losses"] == runs[1]["losses"]
    assert runs[0]["token_acc"] == runs[1]["token_acc"]


@pytest.mark.parametrize(("pool", "written"), [("last", ["model.npz"]), ("mean", ["model.npz"]),
                                               ("both", ["model-last.npz", "model-mean.npz"])])
def test_classify_checkpoint_goes_where_help_says(pool: str, written: list[str],
                                                  tmp_path: pytest.TempPathFactory,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "model.npz"  # type: ignore[operator]
    assert classify.main(["--epochs", "1", "--hidden", "4", "--train-size", "32",
                          "--test-size", "8", "--pool", pool, "--checkpoint", str(path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == written  # type: ignore[attr-defined]
    if pool != "both":
        assert mg.load(str(path))["pool"] == pool
    with pytest.raises(SystemExit):
        classify.main(["--help"])
    assert "model-last.npz" in capsys.readouterr().out   # --help says where --pool both writes


# ---- the music recipe -------------------------------------------------------------------------


def test_music_transposition_moves_the_tonic_to_c_or_a() -> None:
    for tonic in range(12):
        major, minor = music.transposition(tonic, "major"), music.transposition(tonic, "dorian")
        assert -6 <= major <= 5 and -6 <= minor <= 5
        assert (tonic + major) % 12 == 0 and (tonic + minor) % 12 == 9
    half = music.quarter_length(0.5)
    tune = [(67, half), (music.REST, half), (71, music.quarter_length(1 / 3))]
    assert music.transpose(tune, 5) == [(72, half), (music.REST, half), (76, tune[2][1])]
    assert tune[2][1] == music.Fraction(1, 3)                  # a triplet stays exact
    assert [music.token_name(t) for t in music.transpose(tune, 5)] == \
        ["C5 1/2", "rest 1/2", "E5 1/3"]


def test_music_vocab_windows_and_split() -> None:
    q = music.quarter_length(1)
    tunes = [[(60 + i % 5, q)] * (3 + i) for i in range(10)]
    vocab = music.TokenVocab(tunes)
    assert vocab.itos[:2] == [music.BOS, music.EOS] and len(vocab) == 2 + 5
    ids = vocab.encode(tunes[4])                              # 7 tokens + start + end
    assert ids[0] == 0 and ids[-1] == 1 and len(ids) == 9
    pieces = music.windows(ids, 4)
    assert [len(x) for x, _ in pieces] == [4, 4]
    for x, y in pieces:
        np.testing.assert_array_equal(x[1:], y[:-1])         # targets: the next tokens
    np.testing.assert_array_equal(np.concatenate([x for x, _ in pieces]), ids[:-1])
    train, val = music.split_tunes(tunes, 0.2, np.random.default_rng(0))
    assert len(val) == 2 and len(train) == 8
    assert sorted(map(len, train + val)) == sorted(map(len, tunes))
    assert music.split_tunes(tunes[:2], 0.9, np.random.default_rng(0))[0]  # one tune stays


def test_music_without_music21_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "music21", None)        # import music21 -> ImportError
    with pytest.raises(music.Music21Missing, match=re.escape('pip install "minigrad[music]"')):
        music.require_music21()
    assert cli(["recipe", "music", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "minigrad[music]"' in err
    assert "Traceback" not in err


def test_music_abc_tune_is_tokenised_in_the_common_key() -> None:
    music21 = pytest.importorskip("music21")
    score = music21.converter.parse("X:1\nT:t\nM:4/4\nL:1/8\nK:G\nG2 AB c2 z2|d4-d2 B2|]",
                                    format="abc")
    tokens = music.tune_tokens(score)
    # G major moves up a fourth to C major; the tied d (4 + 2 eighths) becomes one note
    F = music.Fraction
    assert tokens == [(72, F(1)), (74, F(1, 2)), (76, F(1, 2)), (77, F(1)), (music.REST, F(1)),
                      (79, F(3)), (76, F(1))]


def test_music_learns_and_writes_a_midi_melody(tmp_path: pytest.TempPathFactory) -> None:
    music21 = pytest.importorskip("music21")
    r = music.train(epochs=3, hidden=32, lr=0.01, batch_size=8, tunes=12, window=32, log=False)
    assert r["n_tunes"] == 12 and len(r["val_losses"]) == 3
    assert r["losses"][-1] < r["first_loss"] - 0.5            # nats per token
    assert r["val_losses"][-1] < math.log(len(r["vocab"]))    # better than a uniform guess
    out = tmp_path / "tune.mid"  # type: ignore[operator]
    assert music.main(["--epochs", "1", "--hidden", "16", "--tunes", "8", "--length", "40",
                       "--out", str(out)]) == 0
    parsed = music21.converter.parse(str(out), quantizePost=False)
    notes = list(parsed.flatten().notes)
    assert len(notes) >= 16 and len({p.midi for n in notes for p in n.pitches}) >= 3
    if importlib.util.find_spec("matplotlib") is not None:
        assert out.with_suffix(".png").stat().st_size > 1000
