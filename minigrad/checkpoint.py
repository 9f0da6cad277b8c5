"""Safe, atomic checkpoints of nested state dicts.

A *state* is a dict whose values are arrays, plain Python values or further containers::

    {"model": {"W": W, "b": b}, "optim": opt.state_dict(), "epoch": 3, "note": "warm-up"}

- **Arrays**: numpy arrays, numpy scalars, or any object with a ``.data`` ndarray attribute (such
  as a minigrad ``Tensor``), which are stored as ``np.asarray(obj.data)``. They are stored bit for
  bit (dtype, shape and byte content); they load back as writeable ``numpy.ndarray`` objects.
- **Plain values**: ``None``, ``bool``, ``int``, ``float`` and ``str``.
- **Containers**: dicts with ``str`` or ``int`` keys, lists and tuples, nested freely. Tuples load
  back as tuples. String keys must be non-empty and may not contain the separator ``"/"``, a
  backslash or control characters.

Formats, chosen by the file name:

- ``*.safetensors``: the `safetensors <https://github.com/huggingface/safetensors>`_ format (needs
  the optional ``safetensors`` package: ``pip install minigrad[safetensors]``). Tensors are stored
  under flat names such as ``model/W``, so ``safetensors.torch.load_file`` reads them directly;
  everything else is a JSON string in the header metadata under the key ``"minigrad"``.
- ``*.npz``: a NumPy ``.npz`` archive, one ``.npy`` member per array plus a JSON member
  ``__metadata__``. It is read with ``allow_pickle=False``.

:func:`save` refuses any other suffix (:func:`check_path` checks a name up front) and containers
nested deeper than :data:`MAX_DEPTH`, so every file it writes loads. :func:`load` recognises a
PyTorch ``.pt`` file (or any pickle) and says how to convert it (to safetensors) instead of
reading it.

Loading never unpickles and never runs code from the file. Saving is atomic: the data is written to
a temporary file in the destination directory, flushed and fsynced, then moved over the old file
with :func:`os.replace`, so a failed save leaves any earlier checkpoint untouched.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["MAX_DEPTH", "SEPARATOR", "CheckpointError", "check_path", "load", "save"]

#: The deepest nesting of containers (dicts, lists, tuples) a checkpoint may hold: the top-level
#: dict is not counted, ``{"a": {"b": 1}}`` has depth 1. :func:`save` refuses deeper states with a
#: CheckpointError, and :func:`load` refuses files that claim more, so every saved file loads
#: (the JSON metadata stays far below the parser's own recursion limit).
MAX_DEPTH = 64

#: Joins nested keys into flat array names (``{"model": {"W": ...}}`` -> ``model/W``). Keys may
#: not contain it.
SEPARATOR = "/"

_META_NAME = "__metadata__"
_FORMAT = "minigrad-checkpoint"
_VERSION = 1
_SAFETENSORS_META_KEY = "minigrad"
_SAFETENSORS_HINT = "install the optional extra: pip install minigrad[safetensors]"

PathLike = str | os.PathLike[str]

# Characters that zip member names cannot carry faithfully (NUL ends a name; "\\" becomes "/" on
# Windows), so keys may not contain them.
_UNSAFE_KEY_CHARS = frozenset({"\\", *map(chr, range(32)), "\x7f"})


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, truncated or unsafe (the message names it)."""


# --------------------------------------------------------------------------- flattening


def _as_array(value: Any) -> np.ndarray | None:
    """Return ``value`` as an ndarray if it is array-like state, else ``None``."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    data = getattr(value, "data", None)
    if isinstance(data, np.ndarray):
        return np.asarray(data)
    return None


def _describe(path: tuple[str, ...]) -> str:
    return SEPARATOR.join(path) if path else "<root>"


def _encode(
    value: Any, path: tuple[str, ...], arrays: dict[str, np.ndarray], active: set[int]
) -> Any:
    """Encode ``value`` as a JSON-able node, collecting arrays into ``arrays``.

    ``len(path)`` is the number of containers around ``value``; a container deeper than
    :data:`MAX_DEPTH` is refused here, so that whatever :func:`save` writes, :func:`load` reads.
    """
    if value is None or isinstance(value, bool | str):
        return value
    array = _as_array(value)  # before int/float: numpy scalars are stored as 0-d arrays
    if array is None and isinstance(value, int):
        return {"int": str(value)} if abs(value) >= 2**53 else int(value)
    if array is None and isinstance(value, float):
        return float(value) if math.isfinite(value) else {"float": repr(float(value))}
    if array is not None:
        if array.dtype.hasobject:
            raise TypeError(
                f"checkpoint entry {_describe(path)!r} is an object array ({array.dtype}); only "
                "numeric, boolean and fixed-width string arrays can be saved without pickle"
            )
        name = _describe(path)
        arrays[name] = array
        return {"array": name}
    if isinstance(value, Mapping | list | tuple):
        if len(path) > MAX_DEPTH:
            raise CheckpointError(
                f"checkpoint entry {_describe(path[:3])}/... is nested more than {MAX_DEPTH} "
                f"containers deep; checkpoints allow at most {MAX_DEPTH} (flatten the state)"
            )
        if id(value) in active:
            raise ValueError(f"checkpoint entry {_describe(path)!r} contains itself")
        active.add(id(value))
        try:
            if isinstance(value, Mapping):
                return {"dict": _encode_items(value, path, arrays, active)}
            items = [_encode(v, (*path, str(i)), arrays, active) for i, v in enumerate(value)]
            return {"tuple": items} if isinstance(value, tuple) else {"list": items}
        finally:
            active.discard(id(value))
    raise TypeError(
        f"cannot save checkpoint entry {_describe(path)!r} of type {type(value).__name__}: "
        "expected an array, a tensor, None, bool, int, float, str, or a dict/list/tuple of them"
    )


def _encode_items(
    mapping: Mapping[Any, Any],
    path: tuple[str, ...],
    arrays: dict[str, np.ndarray],
    active: set[int],
) -> list[list[Any]]:
    items: list[list[Any]] = []
    seen: set[str] = set()
    for key, value in mapping.items():
        if isinstance(key, bool) or not isinstance(key, str | int):
            raise TypeError(
                f"checkpoint keys must be str or int, got {key!r} ({type(key).__name__}) "
                f"in {_describe(path)!r}"
            )
        text = str(key)
        if isinstance(key, str):
            if not key:
                raise ValueError(f"empty key in checkpoint entry {_describe(path)!r}")
            if SEPARATOR in key:
                raise ValueError(
                    f"checkpoint key {key!r} in {_describe(path)!r} contains the separator "
                    f"{SEPARATOR!r}, which is reserved for nesting"
                )
            if _UNSAFE_KEY_CHARS.intersection(key):
                raise ValueError(
                    f"checkpoint key {key!r} in {_describe(path)!r} contains a backslash or a "
                    "control character, which cannot be stored portably in an archive"
                )
            if not path and key == _META_NAME:
                raise ValueError(f"the top-level key {_META_NAME!r} is reserved")
        if text in seen:
            raise ValueError(
                f"keys {text!r} and {int(text)!r} both appear in {_describe(path)!r}; "
                "they would get the same stored name"
            )
        seen.add(text)
        items.append([key, _encode(value, (*path, text), arrays, active)])
    return items


def _decode(node: Any, arrays: Mapping[str, np.ndarray], where: str, depth: int = 0) -> Any:
    """Inverse of :func:`_encode`; ``depth`` counts the containers around ``node``."""
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if isinstance(node, list) or not isinstance(node, dict) or len(node) != 1:
        raise CheckpointError(f"{where}: malformed metadata node {node!r:.80}")
    ((kind, payload),) = node.items()
    if kind in ("dict", "list", "tuple") and depth > MAX_DEPTH:
        raise CheckpointError(
            f"{where}: the checkpoint nests containers more than {MAX_DEPTH} deep, which minigrad "
            "never writes"
        )
    if kind == "array":
        if not isinstance(payload, str) or payload not in arrays:
            raise CheckpointError(f"{where}: the file lacks the array {payload!r}")
        return arrays[payload]
    if kind == "dict" and isinstance(payload, list):
        out: dict[Any, Any] = {}
        for item in payload:
            if not (
                isinstance(item, list)
                and len(item) == 2
                and isinstance(item[0], str | int)
                and not isinstance(item[0], bool)
            ):
                raise CheckpointError(f"{where}: malformed dict item {item!r:.80}")
            out[item[0]] = _decode(item[1], arrays, where, depth + 1)
        return out
    if kind in ("list", "tuple") and isinstance(payload, list):
        items = [_decode(v, arrays, where, depth + 1) for v in payload]
        return tuple(items) if kind == "tuple" else items
    if kind == "int" and isinstance(payload, str):
        try:
            return int(payload)
        except ValueError:
            pass
    if kind == "float" and payload in ("nan", "inf", "-inf"):
        return float(payload)
    raise CheckpointError(f"{where}: malformed metadata node {node!r:.80}")


def _flatten(state: Mapping[Any, Any]) -> tuple[dict[str, np.ndarray], str]:
    if not isinstance(state, Mapping):
        raise TypeError(f"a checkpoint state must be a dict, got {type(state).__name__}")
    arrays: dict[str, np.ndarray] = {}
    tree = {"dict": _encode_items(state, (), arrays, set())}
    meta = {"format": _FORMAT, "version": _VERSION, "tree": tree}
    return arrays, json.dumps(meta, allow_nan=False, separators=(",", ":"))


def _unflatten(meta_text: str, arrays: Mapping[str, np.ndarray], where: str) -> dict[Any, Any]:
    try:
        meta = json.loads(meta_text)
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{where}: unreadable metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT or "tree" not in meta:
        raise CheckpointError(f"{where}: not a minigrad checkpoint (metadata has no tree)")
    if meta.get("version") != _VERSION:
        raise CheckpointError(
            f"{where}: checkpoint format version {meta.get('version')!r} is not supported "
            f"(this minigrad reads version {_VERSION})"
        )
    result = _decode(meta["tree"], arrays, where, 0)  # the top-level dict is at depth 0
    if not isinstance(result, dict):
        raise CheckpointError(f"{where}: the top level of the checkpoint is not a dict")
    return result


# --------------------------------------------------------------------------- writers


def _write_npz(f: IO[bytes], arrays: Mapping[str, np.ndarray], meta: str, compress: bool) -> None:
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, mode="w", compression=compression, allowZip64=True) as zf:
        with zf.open(_META_NAME + ".npy", "w") as member:
            blob = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
            np.lib.format.write_array(member, blob, allow_pickle=False)
        for name, array in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            f"saving or loading .safetensors checkpoints needs the 'safetensors' package; "
            f"{_SAFETENSORS_HINT}"
        ) from None
    return safetensors.numpy


def _safetensors_arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Check the dtypes safetensors supports; make every array little-endian and contiguous."""
    tensors = {}
    for name, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"checkpoint entry {name!r} has dtype {array.dtype}, which safetensors cannot "
                "store; use an .npz checkpoint"
            )
        # Little-endian, C-contiguous; (np.ascontiguousarray would turn 0-d into 1-d.)
        tensors[name] = array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)
    return tensors


def _write_safetensors(
    f: IO[bytes], arrays: Mapping[str, np.ndarray], meta: str, compress: bool
) -> None:
    st = _safetensors_numpy()
    f.write(st.save(dict(arrays), metadata={_SAFETENSORS_META_KEY: meta}))


def _is_safetensors(path: Path) -> bool:
    return path.name.lower().endswith(".safetensors")


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write via ``write(file)`` to a temp file next to ``path``, then replace ``path``."""
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_current_umask()
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    # Persist the rename itself (best effort; not possible on every platform).
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


#: The file names :func:`save` writes: the suffix selects the format.
SUFFIXES = (".npz", ".safetensors")

_TORCH_HINT = (
    "minigrad never unpickles, so it cannot read PyTorch's torch.save format; convert the tensors "
    "to safetensors in PyTorch (from safetensors.torch import save_file; "
    "save_file(torch.load(path), 'model.safetensors')) and load that file"
)


def check_path(path: PathLike) -> Path:
    """``path`` as a Path if :func:`save` can write there, else an error saying why.

    The name must end in ``.npz`` or ``.safetensors`` (ValueError) and its directory must exist
    (FileNotFoundError). A command line can call this before any work starts.
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        hint = ""
        if path.suffix.lower() in (".pt", ".pth", ".bin", ".ckpt"):
            hint = " (minigrad does not write PyTorch's pickle-based formats; use .safetensors to "
            hint += "share weights with PyTorch)"
        raise ValueError(
            f"checkpoint file name {str(path)!r} must end in .npz or .safetensors{hint}"
        )
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(
            f"cannot save checkpoint {path}: the directory {directory} does not exist"
        )
    if path.is_dir():
        raise IsADirectoryError(f"cannot save checkpoint {path}: it is a directory")
    return path


def save(state: Mapping[Any, Any], path: PathLike, *, compress: bool = False) -> None:
    """Save a (nested) state dict to ``path`` atomically.

    Args:
        state: a dict of arrays / tensors / plain values / nested containers (see the module
            docstring). Keys are ``str`` (non-empty, without ``"/"``, ``"\\"`` or control
            characters) or ``int``.
        path: destination, ending in ``.safetensors`` (safetensors) or ``.npz``.
        compress: deflate the ``.npz`` members (ignored for safetensors).

    Everything is checked before the file system is touched; a failed save never changes an
    existing file at ``path``.

    Raises:
        TypeError: a value that cannot be stored (e.g. an object array or an arbitrary object).
        ValueError: a file name without the ``.npz`` or ``.safetensors`` suffix, a key
            containing ``"/"``, an empty key, or a self-containing structure.
        CheckpointError: (a ``ValueError``) containers nested deeper than :data:`MAX_DEPTH`.
        ImportError: ``.safetensors`` requested but the package is not installed.
        FileNotFoundError: the directory does not exist.
        OSError: the file cannot be written; any previous file at ``path`` is left as it was.
    """
    path = check_path(path)
    arrays, meta = _flatten(state)
    if _is_safetensors(path):
        _safetensors_numpy()  # fail early, before touching the file system
        arrays = _safetensors_arrays(arrays)
        writer = _write_safetensors
    else:
        writer = _write_npz
    _atomic_write(path, lambda f: writer(f, arrays, meta, compress))


# --------------------------------------------------------------------------- readers


def _writeable(array: np.ndarray) -> np.ndarray:
    return array if array.flags.writeable else array.copy()


def _pickle_kind(path: Path) -> str | None:
    """What kind of pickle-based file ``path`` is, in words, or None if it is not one."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head[:1] == b"\x80":  # the pickle protocol opcode
        return "a Python pickle (such as a PyTorch checkpoint in torch.save's legacy format)"
    if head != b"PK":
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            if any(n.endswith("data.pkl") for n in zf.namelist()):
                return "a PyTorch checkpoint (torch.save)"
    except (zipfile.BadZipFile, OSError):
        pass
    return None


def _load_npz(path: Path) -> dict[Any, Any]:
    where = str(path)
    kind = _pickle_kind(path)
    if kind is not None:
        raise CheckpointError(f"{where} is {kind}; {_TORCH_HINT}")
    # Open the file ourselves so that it is closed even when numpy fails half-way.
    with open(path, "rb") as fh:
        try:
            archive = np.load(fh, allow_pickle=False)
        except Exception as e:  # zipfile, zlib and numpy raise assorted types on bad data
            raise CheckpointError(f"cannot read checkpoint {where}: {e}") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError(f"cannot read checkpoint {where}: not an .npz archive")
        with archive:
            members = set(archive.zip.namelist()) if archive.zip is not None else set()
            for name in archive.files:
                if name + ".npy" not in members:
                    raise CheckpointError(
                        f"{where}: the archive member {name!r} is not a .npy array; a minigrad "
                        "checkpoint holds only .npy members"
                    )
            try:
                arrays = {name: _writeable(archive[name]) for name in archive.files}
            except Exception as e:  # as above
                if "allow_pickle" in str(e):
                    raise CheckpointError(
                        f"refusing to load checkpoint {where}: it contains pickled (object) "
                        "data, which could run code; minigrad checkpoints never need pickle"
                    ) from None
                raise CheckpointError(f"corrupt checkpoint {where}: {e}") from None
    blob = arrays.pop(_META_NAME, None)
    if blob is None:
        # A plain .npz (e.g. from np.savez): return its arrays under their flat names.
        return arrays
    if blob.dtype != np.uint8 or blob.ndim != 1:
        raise CheckpointError(f"{where}: malformed {_META_NAME} entry")
    try:
        meta_text = blob.tobytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{where}: metadata is not valid UTF-8") from None
    return _unflatten(meta_text, arrays, where)


#: the safetensors dtypes numpy has (not BF16 or the float8 types)
_NUMPY_SAFETENSORS_DTYPES = frozenset(
    {"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "F32", "F64"})


def _load_safetensors(path: Path) -> dict[Any, Any]:
    where = str(path)
    st = _safetensors_numpy()
    raw = path.read_bytes()
    try:
        if len(raw) < 8:
            raise ValueError(f"only {len(raw)} bytes")
        header_len = int.from_bytes(raw[:8], "little")
        if 8 + header_len > len(raw):
            raise ValueError("the header runs past the end of the file")
        header = json.loads(raw[8 : 8 + header_len])
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        metadata = header.get("__metadata__") or {}
        unreadable = [(name, info["dtype"]) for name, info in header.items()
                      if isinstance(info, dict) and "dtype" in info
                      and info["dtype"] not in _NUMPY_SAFETENSORS_DTYPES]
        arrays = {} if unreadable else {name: _writeable(a) for name, a in st.load(raw).items()}
    except Exception as e:  # safetensors raises its own SafetensorError type
        raise CheckpointError(f"cannot read checkpoint {where}: {e}") from None
    if unreadable:
        name, dtype = unreadable[0]
        raise CheckpointError(
            f"{where}: tensor {name!r} has dtype {dtype}, which numpy (and so minigrad) cannot "
            f"represent; convert it where it was saved, e.g. in PyTorch with tensor.float()")
    if not isinstance(metadata, dict) or _SAFETENSORS_META_KEY not in metadata:
        # A safetensors file from elsewhere: return its tensors under their flat names.
        return arrays
    meta_text = metadata[_SAFETENSORS_META_KEY]
    if not isinstance(meta_text, str):
        raise CheckpointError(f"{where}: malformed minigrad metadata")
    return _unflatten(meta_text, arrays, where)


def load(path: PathLike) -> dict[Any, Any]:
    """Load a checkpoint written by :func:`save`.

    Arrays come back as writeable ``numpy.ndarray`` objects with the saved dtype, shape and bits;
    the nested structure, plain values and tuples are restored as saved. A plain ``.npz`` or
    ``.safetensors`` file not written by minigrad loads as a flat ``{name: array}`` dict.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointError: (a ``ValueError``) the file is truncated, corrupt, not a checkpoint, or
            contains pickled objects; the message names the file. Nothing from the file is ever
            unpickled or executed.
        ImportError: a ``.safetensors`` file but the package is not installed.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if _is_safetensors(path):
        return _load_safetensors(path)
    return _load_npz(path)
