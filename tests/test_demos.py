"""The demos behind ``minigrad demo``: they run, they learn, and the dinosaur demo resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from minigrad import checkpoint
from minigrad.cli import main as cli
from minigrad.demos import digits, dinos


def test_digits_demo_learns() -> None:
    acc = digits.train(epochs=15, log=False)
    assert acc > 0.9


def test_dinos_loss_falls_and_samples_are_names(tmp_path: Path) -> None:
    path = str(tmp_path / "ck.npz")
    result = dinos.train(epochs=3, hidden=32, checkpoint_path=path, log=False)
    losses = result["losses"]
    assert losses[-1] < 0.8 * losses[0]
    rng = np.random.default_rng(0)
    names = [dinos.sample(result["model"], result["vocab"], rng, 0.8) for _ in range(5)]
    assert all(n == "" or (n[0].isupper() and n[1:].islower()) for n in names)
    assert sum(len(n) > 2 for n in names) >= 3


def test_dinos_resume_continues_exactly(tmp_path: Path) -> None:
    """Two epochs then a resumed third equal three epochs straight."""
    a, b = str(tmp_path / "a.npz"), str(tmp_path / "b.npz")
    straight = dinos.train(epochs=3, hidden=16, checkpoint_path=a, log=False)
    dinos.train(epochs=2, hidden=16, checkpoint_path=b, log=False)
    resumed = dinos.train(epochs=3, hidden=16, checkpoint_path=b, resume=True, log=False)
    np.testing.assert_allclose(resumed["losses"], straight["losses"], rtol=1e-6)
    sa, sb = checkpoint.load(a)["model"], checkpoint.load(b)["model"]
    for k in sa:
        np.testing.assert_allclose(sb[k], sa[k], rtol=1e-5, atol=1e-6)


def test_dinos_resume_needs_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        dinos.train(epochs=1, checkpoint_path=str(tmp_path / "missing.npz"), resume=True)


def test_cli_help_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--help"]) == 0
    out = capsys.readouterr().out
    assert "minigrad demo" in out and "dinos" in out and "mnist" in out
    assert cli(["recipe", "nope"]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli(["demo", "--help"])
    assert e.value.code == 0
    assert "--temperature" in capsys.readouterr().out


def test_cli_runs_the_digits_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["demo", "digits", "--epochs", "3"]) == 0
    assert "final test accuracy" in capsys.readouterr().out
