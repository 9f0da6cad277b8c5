"""Tests for minigrad.checkpoint: exact round trips, safety, atomicity, corrupt files."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pickle
import sys
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minigrad import checkpoint
from minigrad.checkpoint import CheckpointError, load, save

#: the formats under test: .safetensors only where the optional extra is installed
FORMATS = ["ckpt.npz"] + (["ckpt.safetensors"] if importlib.util.find_spec("safetensors") else [])


class FakeTensor:
    """Anything with a ``.data`` ndarray counts as an array."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data


def assert_same_array(a: Any, b: Any) -> None:
    assert isinstance(b, np.ndarray)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


def assert_same_tree(expected: Any, got: Any) -> None:
    if isinstance(expected, FakeTensor):
        expected = expected.data
    if isinstance(expected, np.ndarray | np.generic):
        assert_same_array(np.asarray(expected), got)
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected)
        for k in expected:
            assert_same_tree(expected[k], got[k])
    elif isinstance(expected, list | tuple):
        assert type(got) is type(expected) and len(got) == len(expected)
        for e, g in zip(expected, got, strict=True):
            assert_same_tree(e, g)
    elif isinstance(expected, float) and np.isnan(expected):
        assert isinstance(got, float) and np.isnan(got)
    else:
        assert type(got) is type(expected) and got == expected


def only_file(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def sample_state() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "model": {
            "rnn.W_xh": rng.standard_normal((3, 4)).astype(np.float32),
            "rnn.b": FakeTensor(rng.standard_normal(4)),
            "embedding": rng.integers(-5, 5, size=(2, 2)),
        },
        "optim": {
            "state": {0: {"step": 7, "exp_avg": rng.standard_normal((3, 4))}, 1: {}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}],
        },
        "epoch": 3,
        "best": 0.125,
        "done": False,
        "tag": "run-1 ✓",
        "nothing": None,
        "history": [1.5, 2.5, None, "x"],
    }


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", FORMATS)
def test_round_trip_nested_state(tmp_path: Path, name: str) -> None:
    state = sample_state()
    save(state, tmp_path / name)
    loaded = load(tmp_path / name)
    assert_same_tree(state, loaded)
    assert loaded["model"]["rnn.W_xh"].flags.writeable
    assert only_file(tmp_path) == [name]


ARRAYS: dict[str, Any] = {
    "f32": np.array([1.0, -0.0, np.nan, np.inf, 1e-45], dtype=np.float32),
    "f64": np.array([[np.pi, -0.0], [5e-324, -np.inf]]),
    "f16": np.array([0.1, 65504], dtype=np.float16),
    "i64": np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]),
    "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
    "u8": np.array([0, 255], dtype=np.uint8),
    "bool": np.array([True, False]),
    "zero_d": np.array(2.5),
    "zero_d_i": np.array(-3, dtype=np.int64),
    "empty": np.zeros((0, 5), dtype=np.float32),
    "empty_1d": np.zeros(0),
    "scalar_f32": np.float32(0.1),
    "non_contiguous": np.arange(24.0).reshape(4, 6)[::2, 1::2],
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
}


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("key", sorted(ARRAYS))
def test_round_trip_is_bit_exact(tmp_path: Path, name: str, key: str) -> None:
    path = tmp_path / name
    save({"a": ARRAYS[key]}, path)
    out = load(path)["a"]
    assert_same_array(np.asarray(ARRAYS[key]), out)
    assert out.shape == np.shape(ARRAYS[key])


def test_nan_payload_is_preserved(tmp_path: Path) -> None:
    bits = np.array([0x7FF8000000000123, 0xFFF0000000000001], dtype=np.uint64)
    weird = bits.view(np.float64)
    for name in FORMATS:
        save({"w": weird}, tmp_path / name)
        assert np.array_equal(load(tmp_path / name)["w"].view(np.uint64), bits)


def test_npz_keeps_exotic_dtypes(tmp_path: Path) -> None:
    state = {
        "big_endian": np.arange(4, dtype=">f8"),
        "complex": np.array([1 + 2j]),
        "strings": np.array(["ab", "c"]),
    }
    save(state, tmp_path / "x.npz", compress=True)
    assert_same_tree(state, load(tmp_path / "x.npz"))


def test_safetensors_big_endian_is_converted_exactly(tmp_path: Path) -> None:
    pytest.importorskip("safetensors")
    a = np.linspace(0, 1, 7, dtype=">f4")
    save({"a": a}, tmp_path / "x.safetensors")
    out = load(tmp_path / "x.safetensors")["a"]
    assert out.dtype == np.float32 and np.array_equal(out, a)
    with pytest.raises(TypeError, match="safetensors cannot store"):
        save({"c": np.array([1j])}, tmp_path / "y.safetensors")
    assert only_file(tmp_path) == ["x.safetensors"]


def test_plain_values_round_trip(tmp_path: Path) -> None:
    state = {
        "ints": [0, -1, 2**53 + 1, -(2**80)],
        "floats": [0.1, -0.0, float("inf"), float("-inf"), float("nan"), 1e308],
        "tuple": (1, (2.0, "three"), [None]),
        "nested": {"a": {"b": {"c": {}}}, "l": []},
        7: "int key",
        "text": "",
    }
    for name in FORMATS:
        save(state, tmp_path / name)
        loaded = load(tmp_path / name)
        assert_same_tree(state, loaded)
        assert loaded["floats"][1] == 0.0 and np.signbit(loaded["floats"][1])


def test_tensor_objects_are_stored_as_arrays(tmp_path: Path) -> None:
    mg = pytest.importorskip("minigrad")
    if not hasattr(mg, "tensor"):
        pytest.skip("minigrad.tensor is not available")
    t = mg.tensor(np.arange(3.0), requires_grad=True)
    save({"w": t, "plain": FakeTensor(np.ones(2, dtype=np.float32))}, tmp_path / "t.npz")
    out = load(tmp_path / "t.npz")
    assert_same_array(np.arange(3.0), out["w"])
    assert_same_array(np.ones(2, dtype=np.float32), out["plain"])


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    hnp.arrays(
        dtype=st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.bool_]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
    ),
)
keys = st.text(min_size=1, max_size=6).filter(
    lambda k: not set(k) & checkpoint._UNSAFE_KEY_CHARS and "/" not in k
) | st.integers(-3, 99)
trees = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(keys, children, max_size=3).filter(
            lambda d: len({str(k) for k in d}) == len(d)
        )
    ),
    max_leaves=8,
)


@given(
    state=st.dictionaries(keys, trees, max_size=4).filter(
        lambda d: len({str(k) for k in d}) == len(d) and "__metadata__" not in d
    )
)
def test_round_trip_property(state: dict[Any, Any]) -> None:
    buffer = io.BytesIO()
    arrays, meta = checkpoint._flatten(state)
    checkpoint._write_npz(buffer, arrays, meta, False)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.npz"
        path.write_bytes(buffer.getvalue())
        assert_same_tree(state, load(path))


def test_torch_reads_safetensors_checkpoint(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    state = sample_state()
    save(state, tmp_path / "m.safetensors")
    tensors = safetensors_torch.load_file(str(tmp_path / "m.safetensors"))
    assert set(tensors) == {
        "model/rnn.W_xh",
        "model/rnn.b",
        "model/embedding",
        "optim/state/0/exp_avg",
    }
    assert tensors["model/rnn.W_xh"].dtype == torch.float32
    assert np.array_equal(tensors["model/rnn.W_xh"].numpy(), state["model"]["rnn.W_xh"])
    assert np.array_equal(tensors["model/rnn.b"].numpy(), state["model"]["rnn.b"].data)


def test_foreign_files_load_flat(tmp_path: Path) -> None:
    np.savez(tmp_path / "plain.npz", x=np.arange(3), y=np.eye(2))
    out = load(tmp_path / "plain.npz")
    assert set(out) == {"x", "y"} and np.array_equal(out["y"], np.eye(2))
    st_numpy = pytest.importorskip("safetensors.numpy")
    st_numpy.save_file({"w": np.ones(2, dtype=np.float32)}, str(tmp_path / "f.safetensors"))
    out = load(tmp_path / "f.safetensors")
    assert list(out) == ["w"] and out["w"].dtype == np.float32


# ----------------------------------------------------------------------------- bad states


@pytest.mark.parametrize(
    ("state", "error", "message"),
    [
        ({"a/b": np.zeros(1)}, ValueError, "contains the separator '/'"),
        ({"m": {"x/y": 1}}, ValueError, r"'x/y' in 'm'"),
        ({"": 1}, ValueError, "empty key"),
        ({"a\x00b": np.zeros(1)}, ValueError, "control character"),
        ({"m": {"a\\b": 1}}, ValueError, "backslash"),
        ({"__metadata__": 1}, ValueError, "reserved"),
        ({1.5: 1}, TypeError, "keys must be str or int"),
        ({"m": {0: 1, "0": 2}}, ValueError, "same stored name"),
        ({"o": object()}, TypeError, "cannot save checkpoint entry 'o' of type object"),
        ({"s": {1, 2}}, TypeError, "type set"),
        ({"obj": np.array([None, 1], dtype=object)}, TypeError, "object array"),
    ],
)
def test_bad_states_are_rejected(
    tmp_path: Path, state: dict[Any, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        save(state, tmp_path / "bad.npz")
    assert only_file(tmp_path) == []


def test_self_reference_is_rejected(tmp_path: Path) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="contains itself"):
        save({"x": loop}, tmp_path / "c.npz")
    with pytest.raises(TypeError, match="must be a dict"):
        save([1, 2], tmp_path / "c.npz")  # type: ignore[arg-type]
    shared = [1, 2]
    save({"a": shared, "b": shared}, tmp_path / "ok.npz")  # shared but acyclic is fine
    assert load(tmp_path / "ok.npz") == {"a": [1, 2], "b": [1, 2]}


# ----------------------------------------------------------------------------- safety


class _Bomb:
    """Unpickling this would create a directory: a stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def test_pickle_bomb_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bomb = np.array([_Bomb(marker)], dtype=object)
    path = tmp_path / "bomb.npz"
    np.savez(path, evil=bomb, fine=np.arange(3))
    with pytest.raises(CheckpointError, match="pickled") as info:
        load(path)
    assert str(path) in str(info.value)
    assert not marker.exists()
    # Sanity check: the file really is a bomb when loaded unsafely.
    with np.load(path, allow_pickle=True) as f:
        f["evil"]
    assert marker.exists()


def test_raw_pickle_file_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "raw.npz"
    path.write_bytes(pickle.dumps(_Bomb(marker)))
    with pytest.raises(CheckpointError, match="raw.npz"):
        load(path)
    assert not marker.exists()


def test_npy_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "single.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(3))
    with pytest.raises(CheckpointError, match="not an .npz archive"):
        load(path)


# ----------------------------------------------------------------------------- corrupt files


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.95])
def test_truncated_file_is_a_clear_error(tmp_path: Path, name: str, keep: float) -> None:
    path = tmp_path / name
    save(sample_state(), path)
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(CheckpointError) as info:
        load(path)
    assert str(path) in str(info.value)


def test_corrupt_array_bytes_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    save({"a": np.zeros(1000)}, path)
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 8] = b"\x01" * 8
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"c\.npz"):
        load(path)


def test_corrupt_metadata_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("__metadata__.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(CheckpointError, match=r"m\.npz.*unreadable metadata"):
        load(path)
    meta = b'{"format":"minigrad-checkpoint","version":1,"tree":{"dict":[["a",{"array":"a"}]]}}'
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open("__metadata__.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(meta, dtype=np.uint8))
    with pytest.raises(CheckpointError, match="lacks the array 'a'"):
        load(path)


def test_garbage_and_missing_files(tmp_path: Path) -> None:
    for name in FORMATS:
        path = tmp_path / name
        path.write_bytes(b"\x00garbage" * 10)
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
            load(path)
        path.write_bytes(b"")
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
            load(path)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load(tmp_path / "missing.npz")


# ----------------------------------------------------------------------------- atomic saves


@pytest.mark.parametrize("name", FORMATS)
def test_failed_write_keeps_old_checkpoint(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / name
    old = {"epoch": 1, "w": np.arange(4.0)}
    save(old, path)
    before = path.read_bytes()

    def broken_writer(f: IO[bytes], *args: Any) -> None:
        f.write(b"half a checkpoint")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(checkpoint, "_write_npz", broken_writer)
    monkeypatch.setattr(checkpoint, "_write_safetensors", broken_writer)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save({"epoch": 2, "w": np.zeros(4)}, path)
    assert path.read_bytes() == before
    assert_same_tree(old, load(path))
    assert only_file(tmp_path) == [name]


def test_interrupt_during_write_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k.npz"
    save({"v": 1}, path)

    def interrupted(f: IO[bytes], *args: Any) -> None:
        f.write(b"PK")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "_write_npz", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save({"v": 2}, path)
    assert load(path) == {"v": 1}
    assert only_file(tmp_path) == ["k.npz"]


def test_unserialisable_value_keeps_old_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "u.npz"
    save({"v": np.ones(2)}, path)
    with pytest.raises(TypeError):
        save({"v": np.zeros(2), "bad": lambda: None}, path)
    assert np.array_equal(load(path)["v"], np.ones(2))
    assert only_file(tmp_path) == ["u.npz"]


def test_failed_replace_keeps_old_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "r.npz"
    save({"v": 1}, path)

    def no_replace(src: str, dst: str) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(checkpoint.os, "replace", no_replace)
    with pytest.raises(OSError, match="rename failed"):
        save({"v": 2}, path)
    monkeypatch.undo()
    assert load(path) == {"v": 1}
    assert only_file(tmp_path) == ["r.npz"]


def test_save_overwrites_and_uses_normal_permissions(tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    save({"v": 1}, path)
    save({"v": 2}, str(path))
    assert load(str(path)) == {"v": 2}
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    assert (path.stat().st_mode & 0o777) == (reference.stat().st_mode & 0o777)
    path.chmod(0o600)
    save({"v": 3}, path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_save_into_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        save({"v": 1}, tmp_path / "nope" / "x.npz")
    assert only_file(tmp_path) == []


def test_missing_safetensors_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r"pip install minigrad\[safetensors\]"):
        save({"v": np.ones(1)}, tmp_path / "x.safetensors")
    assert only_file(tmp_path) == []
    (tmp_path / "y.safetensors").write_bytes(b"12345678")
    with pytest.raises(ImportError, match=r"pip install minigrad\[safetensors\]"):
        load(tmp_path / "y.safetensors")


# ----------------------------------------------------------------------------- depth limit


def nested(depth: int, leaf: Any = 1, kind: str = "dict") -> Any:
    """A value inside ``depth`` containers (dicts, or lists)."""
    for _ in range(depth):
        leaf = {"a": leaf} if kind == "dict" else [leaf]
    return leaf


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("kind", ["dict", "list"])
def test_every_depth_save_accepts_loads(tmp_path: Path, name: str, kind: str) -> None:
    state = {"x": nested(checkpoint.MAX_DEPTH - 1, np.arange(3), kind)}
    save(state, tmp_path / name)
    assert_same_tree(state, load(tmp_path / name))


@pytest.mark.parametrize("depth", [checkpoint.MAX_DEPTH + 1, 400, 500, 5000])
def test_too_deep_is_a_checkpoint_error_at_save(tmp_path: Path, depth: int) -> None:
    # Before: depth 400 saved but load raised RecursionError; depth 500 raised RecursionError.
    path = tmp_path / "c.npz"
    save({"v": 1}, path)
    old = path.read_bytes()
    for kind in ("dict", "list"):
        with pytest.raises(CheckpointError, match=f"at most {checkpoint.MAX_DEPTH}"):
            save({"x": nested(depth, kind=kind)}, path)
    assert path.read_bytes() == old and only_file(tmp_path) == ["c.npz"]


def test_a_file_claiming_deeper_nesting_is_refused(tmp_path: Path) -> None:
    node: Any = 1
    for _ in range(checkpoint.MAX_DEPTH + 1):
        node = {"list": [node]}
    meta = json.dumps({"format": "minigrad-checkpoint", "version": 1,
                       "tree": {"dict": [["x", node]]}})
    path = tmp_path / "deep.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("__metadata__.npy", "w") as m:
        np.lib.format.write_array(m, np.frombuffer(meta.encode(), np.uint8))
    with pytest.raises(CheckpointError, match="deep.npz: the checkpoint nests containers more"):
        load(path)


# ----------------------------------------------------------------------------- names and formats


@pytest.mark.parametrize("name,hint", [
    ("model.pt", "use .safetensors to share weights with PyTorch"),
    ("model.pth", "PyTorch"),
    ("model.txt", "must end in .npz or .safetensors"),
    ("model", "must end in .npz or .safetensors"),
])
def test_save_refuses_other_suffixes_and_keeps_files(tmp_path: Path, name: str, hint: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"precious")
    with pytest.raises(ValueError, match=hint):
        save({"v": 1}, path)
    with pytest.raises(ValueError, match="must end in .npz or .safetensors"):
        checkpoint.check_path(path)
    assert path.read_bytes() == b"precious" and only_file(tmp_path) == [name]


def test_check_path(tmp_path: Path) -> None:
    assert checkpoint.check_path(str(tmp_path / "a.NPZ")) == tmp_path / "a.NPZ"
    with pytest.raises(FileNotFoundError, match="the directory .*nodir does not exist"):
        checkpoint.check_path(tmp_path / "nodir" / "x.npz")
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        checkpoint.check_path(tmp_path / "d.npz")


def test_npz_member_that_is_not_an_array(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    save({"w": np.arange(3)}, path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("notes.txt", "hello")
    with pytest.raises(CheckpointError, match="member 'notes.txt' is not a .npy array"):
        load(path)


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_loading_a_pytorch_file_says_what_it_is(tmp_path: Path, zipped: bool) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=zipped)
    what = "a PyTorch checkpoint .torch.save." if zipped else "a Python pickle .such as a PyTorch"
    with pytest.raises(CheckpointError, match=f"model.pt is {what}.*minigrad never unpickles.*"
                       "safetensors"):
        load(path)


@pytest.mark.parametrize("dtype", ["BF16", "F8_E4M3"])
def test_a_safetensors_dtype_numpy_lacks_is_named(tmp_path: Path, dtype: str) -> None:
    # used to fail with the bare KeyError text "cannot read checkpoint ...: 'BF16'"
    pytest.importorskip("safetensors")
    header = json.dumps({"ok": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                         "w": {"dtype": dtype, "shape": [2], "data_offsets": [4, 8 if dtype ==
                                                                            "BF16" else 6]}})
    body = header.encode() + b" " * (-len(header) % 8)
    path = tmp_path / "bf.safetensors"
    path.write_bytes(len(body).to_bytes(8, "little") + body + bytes(8 if dtype == "BF16" else 6))
    with pytest.raises(CheckpointError, match=f"tensor 'w' has dtype {dtype}, which numpy .* "
                                              r"cannot represent; .*tensor\.float\(\)"):
        load(path)
