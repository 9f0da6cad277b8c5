"""The command line: every numeric option is checked by argparse before any work starts, errors
are one line (a traceback only with ``--debug``), and Numba's first-run compile is announced on a
cold cache only."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minigrad import checkpoint
from minigrad.cli import (
    checkpoint_path,
    finite_float,
    main,
    nonnegative_int,
    positive_float,
    positive_int,
    writable_path,
)
from minigrad.demos import dinos

ROOT = Path(__file__).resolve().parents[1]


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``minigrad ARGV``, expect argparse's usage error (status 2); return stderr."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""                # nothing ran: no banner, no training line
    return captured.err


# ---- the argument types -------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "text", "message"), [
    (positive_int, "0", "must be a positive integer, got 0"),
    (positive_int, "-1", "must be a positive integer, got -1"),
    (positive_int, "2.5", "must be an integer, got '2.5'"),
    (nonnegative_int, "-3", "must be a non-negative integer, got -3"),
    (positive_float, "0", "must be > 0, got 0"),
    (positive_float, "-0.1", "must be > 0, got -0.1"),
    (positive_float, "nan", "must be a finite number, got nan"),
    (positive_float, "inf", "must be a finite number, got inf"),
    (finite_float, "-inf", "must be a finite number, got -inf"),
    (finite_float, "abc", "must be a number, got 'abc'"),
])
def test_argument_types_refuse(kind: object, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=f"^{message}$"):
        kind(text)  # type: ignore[operator]


def test_argument_types_accept(tmp_path: Path) -> None:
    assert positive_int("3") == 3 and nonnegative_int("0") == 0
    assert positive_float("1e-3") == 1e-3 and finite_float("-2.5") == -2.5
    path = str(tmp_path / "new.npz")
    assert writable_path(path) == path and writable_path("here.npz") == "here.npz"
    with pytest.raises(argparse.ArgumentTypeError, match="the directory .*nodir does not exist"):
        writable_path(str(tmp_path / "nodir" / "x.npz"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a directory"):
        writable_path(str(tmp_path))
    assert checkpoint_path(path) == path and checkpoint_path("m.safetensors") == "m.safetensors"
    with pytest.raises(argparse.ArgumentTypeError, match=r"must end in \.npz or \.safetensors"):
        checkpoint_path(str(tmp_path / "model.ckpt"))


# ---- nonsense that used to run, one case each ----------------------------------------------------


@pytest.mark.parametrize(("argv", "message"), [
    (["demo", "--epochs", "-1"], "--epochs: must be a positive integer, got -1"),
    (["demo", "--samples", "-3"], "--samples: must be a non-negative integer, got -3"),
    (["demo", "digits", "--epochs", "-2"], "--epochs: must be a positive integer, got -2"),
    (["demo", "digits", "--hidden", "0"], "--hidden: must be a positive integer, got 0"),
    (["demo", "--temperature", "nan"], "--temperature: must be a finite number, got nan"),
    (["demo", "--lr", "inf"], "--lr: must be a finite number, got inf"),
    (["demo", "--checkpoint", "nodir/x.npz"],
     "cannot write nodir/x.npz: the directory nodir does not exist"),
    (["demo", "gradient-flow", "--steps", "1"], "--steps must be at least 2, got 1"),
    (["demo", "gradient-flow", "--plot", "nodir/p.png"], "directory nodir"),
    (["recipe", "shakespeare", "--temperature", "nan"], "must be a finite number, got nan"),
    (["recipe", "shakespeare", "--sample-chars", "-1"], "non-negative integer, got -1"),
    (["recipe", "mnist", "--seeds", "0"], "--seeds: must be a positive integer, got 0"),
    (["recipe", "tagging", "--min-len", "0"], "--min-len: must be a positive integer, got 0"),
    (["recipe", "seq2seq", "--min-len", "9", "--max-len", "3"],
     "--min-len 9 is longer than --max-len 3"),
    (["recipe", "classify", "--checkpoint", "nodir/x.npz"], "directory nodir"),
    (["recipe", "classify", "--seed", "-1"], "--seed: must be a non-negative integer, got -1"),
    (["recipe", "music", "--length", "0"], "--length: must be a positive integer, got 0"),
    (["recipe", "music", "--temperature", "nan"], "must be a finite number, got nan"),
    (["recipe", "music", "--window", "1"], "--window: must be at least 2, got 1"),
    (["recipe", "music", "--tunes", "1"], "--tunes: must be at least 2, got 1"),
    (["recipe", "music", "--val-fraction", "1"], "between 0 and 1 (exclusive), got 1"),
    (["recipe", "music", "--out", "nodir/tune.mid"], "directory nodir"),
    # a checkpoint name save() refuses used to fail after the first epoch had trained
    (["demo", "--checkpoint", "x.txt"],
     "--checkpoint: must end in .npz or .safetensors, got 'x.txt'"),
    (["recipe", "classify", "--checkpoint", "model.pt"], "must end in .npz or .safetensors"),
    # a MIDI file under another name; tune.png was overwritten by the piano roll
    (["recipe", "music", "--out", "tune.png"], "--out: must end in .mid or .midi, got 'tune.png'"),
])
def test_bad_numbers_are_usage_errors_before_any_work(argv: list[str], message: str,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)             # a relative nodir/ surely does not exist here
    err = _usage_error(argv, capsys)
    assert message in err
    assert list(tmp_path.iterdir()) == []   # and nothing was written


def test_resume_without_a_checkpoint_is_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "missing.npz")
    err = _usage_error(["demo", "--resume", "--checkpoint", missing], capsys)
    assert f"--resume: no checkpoint at {missing}" in err and "Traceback" not in err
    err = _usage_error(["demo", "--resume", "--checkpoint", "none"], capsys)
    assert "--resume needs a checkpoint" in err


def test_resume_past_the_requested_epochs_says_so(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "ck.npz")
    dinos.train(epochs=2, hidden=8, checkpoint_path=path, log=False)
    capsys.readouterr()  # the setup's own progress (shown when training is slow)
    assert main(["demo", "--resume", "--checkpoint", path, "--epochs", "2", "--hidden", "8"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "already at epoch 2; ask for more with --epochs N (N > 2)" in err


def test_samples_zero_prints_no_names(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    assert main(["demo", "--epochs", "1", "--hidden", "8", "--samples", "0",
                 "--checkpoint", str(tmp_path / "d.npz")]) == 0
    assert "new name" not in capsys.readouterr().out


def test_pool_last_checkpoint_is_exactly_the_path(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "model.npz"
    assert main(["recipe", "classify", "--pool", "last", "--checkpoint", str(path),
                 "--epochs", "1", "--hidden", "4", "--train-size", "32",
                 "--test-size", "8"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    assert checkpoint.load(str(path))["pool"] == "last"
    assert f"checkpoint: {path}" in capsys.readouterr().out


# ---- errors: one line, the traceback with --debug ------------------------------------------------


def test_runtime_errors_are_one_line_and_debug_raises(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ck.npz"
    dinos.train(epochs=1, hidden=8, checkpoint_path=str(path), log=False)
    capsys.readouterr()  # the setup's own progress (shown when training is slow)
    argv = ["demo", "--resume", "--checkpoint", str(path), "--epochs", "2", "--hidden", "16"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == ("minigrad: error: --resume: the checkpoint has hidden size 8, not 16 "
                   "(run with --debug for the traceback)\n")
    with pytest.raises(ValueError, match="hidden size 8, not 16"):
        main([*argv, "--debug"])


def test_console_error_has_no_traceback(tmp_path: Path) -> None:
    """What a user sees from a shell: status 1 and one line on stderr."""
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    code = "import sys; from minigrad.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", code, "demo", "--resume", "--checkpoint",
                          str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("minigrad: error: ") and run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr


# ---- the first-run notice ------------------------------------------------------------------------


KERNEL = textwrap.dedent("""
    import numba

    @numba.njit(cache=True)
    def tiny_kernel(x):
        return x * 2.0 + 1.0
    """)

RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from minigrad.progress import compile_notice
    import tiny_module
    with compile_notice():
        tiny_module.tiny_kernel(1.5)
        tiny_module.tiny_kernel(2.5)   # compiled already: no second line
    """)


def test_compile_notice_on_a_cold_cache_only(tmp_path: Path) -> None:
    (tmp_path / "tiny_module.py").write_text(KERNEL)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", RUN, str(tmp_path)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""
        return done.stderr

    cold = run()
    assert cold.startswith("minigrad: first run: Numba is compiling")
    assert "later runs load them from the cache" in cold
    assert cold.count("compiling tiny_module.tiny_kernel ...") == 1
    assert run() == ""                       # warm: loaded from the cache, silent


def test_compile_notice_names_the_kernel_and_its_time() -> None:
    import io

    import numba

    from minigrad.progress import compile_notice

    @numba.njit  # no cache: always compiled in this process
    def fresh(x: float) -> float:
        return x + 1.0

    out = io.StringIO()
    with compile_notice(out):
        assert fresh(np.float64(1.0)) == 2.0
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "first run" in lines[0]
    assert "every run compiles" in lines[0]    # no cache=True: the notice does not promise one
    assert lines[1].startswith("  compiling ") and "fresh ..." in lines[1]
    assert lines[1].endswith(" s")
    with compile_notice(out):
        fresh(np.float64(2.0))              # already compiled: nothing more
    assert out.getvalue().splitlines() == lines


# ---- help texts ---------------------------------------------------------------------------------

COMMANDS = [["demo"], ["demo", "digits"], ["demo", "gradient-flow"],
            *(["recipe", name] for name in ("shakespeare", "mnist", "tagging", "seq2seq",
                                            "classify", "music"))]
ELSEWHERE = re.compile(r"seeds? \d{3}|seed (notes?|recipes?|exercises?)|the seeds|coursera|"
                       r"study notes", re.I)


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_help_cites_nothing_outside_the_repository(argv: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert not ELSEWHERE.search(text), ELSEWHERE.search(text)
    # "seed" means the random seed only
    for line in text.splitlines():
        if re.search(r"\bseed\b", line, re.I) and "--seed" not in line and "SEED" not in line:
            assert re.search(r"random seed|seed \d\b", line), line
    assert main(["--help"]) == 0
    assert not ELSEWHERE.search(capsys.readouterr().out)
