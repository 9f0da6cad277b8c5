"""Module behaviour against PyTorch's: assignment rules, shared modules and tied parameters,
buffers, to/apply/requires_grad_, all-or-nothing state loads, the one-dtype rule of the layers
with weights, and the generator that manual_seed reseeds in place."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F


def _torch() -> Any:
    return pytest.importorskip("torch")


def snapshot(model: nn.Module) -> dict[str, bytes]:
    """Every parameter and buffer, bit for bit (bytes, dtype and shape)."""
    return {f"{n}/{t.dtype}/{t.shape}": t.data.tobytes()
            for n, t in [*model.named_parameters(), *model.named_buffers()]}


# ----------------------------------------------------------------------------- assignment rules


def test_assigning_a_plain_tensor_over_a_parameter_raises_like_torch() -> None:
    lin = nn.Linear(2, 3)
    before = snapshot(lin)
    weight = lin.weight
    with pytest.raises(TypeError, match=r"cannot assign 'minigrad.Tensor' as parameter 'weight' "
                                        r"\(nn.Parameter or None expected\)"):
        lin.weight = mg.tensor(np.zeros((3, 2), np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="cannot assign 'numpy.ndarray' as parameter 'bias'"):
        lin.bias = np.zeros(3, np.float32)  # type: ignore[assignment]
    with pytest.raises(TypeError, match="cannot assign 'int' as parameter 'bias'"):
        lin.bias = 3  # type: ignore[assignment]
    assert lin.weight is weight and snapshot(lin) == before
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    torch = _torch()
    tl = torch.nn.Linear(2, 3)
    with pytest.raises(TypeError, match=r"cannot assign '.*' as parameter 'weight' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        tl.weight = torch.zeros(3, 2, requires_grad=True)


def test_assigning_a_parameter_replaces_it_and_none_removes_it() -> None:
    lin = nn.Linear(2, 3, dtype=np.float64)
    new = nn.Parameter(np.ones((3, 2)))
    lin.weight = new
    assert lin.weight is new and dict(lin.named_parameters())["weight"] is new
    assert list(lin.state_dict()) == ["weight", "bias"]  # the replaced name keeps its place
    np.testing.assert_array_equal(lin.state_dict()["weight"], np.ones((3, 2)))
    y = lin(mg.tensor(np.array([[1.0, 2.0]])))
    y.sum().backward()
    assert new.grad is not None  # the new Parameter is the one computed with
    lin.bias = None
    assert list(lin.state_dict()) == ["weight"] and lin.bias is None
    lin.bias = nn.Parameter(np.zeros(3))
    assert list(lin.state_dict()) == ["weight", "bias"]


def test_child_module_and_buffer_assignment_rules() -> None:
    seq = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="cannot assign 'str' as child module '0'"):
        setattr(seq, "0", "linear")
    m = nn.Module()
    m.register_buffer("count", mg.tensor(np.zeros(2)))
    with pytest.raises(TypeError, match="cannot assign 'float' as buffer 'count'"):
        m.count = 1.5
    m.count = mg.tensor(np.ones(2))
    np.testing.assert_array_equal(m.state_dict()["count"], np.ones(2))
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        m.register_buffer("training", mg.tensor(0.0))
    with pytest.raises(KeyError, match="be empty or contain"):
        m.register_buffer("a.b", mg.tensor(0.0))
    with pytest.raises(TypeError, match="cannot assign 'numpy.ndarray' object to buffer 'x'"):
        m.register_buffer("x", np.zeros(2))  # type: ignore[arg-type]


def test_register_replaces_only_a_name_of_its_own_kind() -> None:
    # a buffer registered over a parameter used to drop the parameter from parameters() and
    # from training, silently; PyTorch raises (setattr may still change a name's kind)
    lin = nn.Linear(2, 3)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        lin.register_buffer("weight", mg.zeros(1))
    with pytest.raises(KeyError, match="attribute 'bias' already exists"):
        lin.register_buffer("bias", None)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        lin.add_module("weight", nn.Linear(1, 1))
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
    lin.register_parameter("weight", nn.Parameter(np.zeros((3, 2), np.float32)))  # same kind
    m = nn.Module()
    m.register_buffer("count", mg.zeros(2))
    with pytest.raises(KeyError, match="attribute 'count' already exists"):
        m.register_parameter("count", nn.Parameter(np.zeros(2)))
    m.register_buffer("count", mg.ones(2))
    assert list(m.state_dict()) == ["count"]


# ----------------------------------------------------------------------------- shared and tied


class TiedLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3, dtype=np.float64)
        self.out = nn.Linear(3, 5, bias=False, dtype=np.float64)
        self.out.weight = self.emb.weight


def torch_tied() -> Any:
    torch = _torch()

    class T(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(5, 3)
            self.out = torch.nn.Linear(3, 5, bias=False)
            self.out.weight = self.emb.weight

    return T().double()


def test_shared_modules_and_tied_parameters_are_listed_like_torch() -> None:
    torch = _torch()
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    t_shared = torch.nn.Linear(2, 2)
    t_seq = torch.nn.Sequential(t_shared, torch.nn.ReLU(), t_shared)
    assert [n for n, _ in seq.named_modules()] == [n for n, _ in t_seq.named_modules()]
    assert len(list(seq.modules())) == 3
    assert [n for n, _ in seq.named_parameters()] == [n for n, _ in t_seq.named_parameters()]
    assert list(seq.state_dict()) == list(t_seq.state_dict())  # every path: 0.* and 2.*
    tied, t_tied = TiedLM(), torch_tied()
    assert [n for n, _ in tied.named_parameters()] == [n for n, _ in t_tied.named_parameters()]
    assert len(list(tied.parameters())) == 1
    assert list(tied.state_dict()) == list(t_tied.state_dict()) == ["emb.weight", "out.weight"]


def test_tied_checkpoint_from_torch_loads_and_ours_loads_into_torch() -> None:
    torch = _torch()
    t_tied = torch_tied()
    theirs = {k: v.detach().numpy() for k, v in t_tied.state_dict().items()}
    tied = TiedLM()
    result = tied.load_state_dict(theirs)
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(tied.out.weight.data, theirs["emb.weight"])
    idx = np.array([[0, 4, 2]])
    ours_out = tied.out(tied.emb(idx)).data
    theirs_out = t_tied.out(t_tied.emb(torch.tensor(idx))).detach().numpy()
    np.testing.assert_allclose(ours_out, theirs_out, rtol=1e-12)
    back = torch_tied()
    back.load_state_dict({k: torch.tensor(v) for k, v in tied.state_dict().items()})
    np.testing.assert_array_equal(back.emb.weight.detach().numpy(), tied.emb.weight.data)


def test_tied_parameter_given_two_different_values_is_refused() -> None:
    tied = TiedLM()
    before = snapshot(tied)
    with pytest.raises(ValueError, match="emb.weight and out.weight name the same"):
        tied.load_state_dict({"emb.weight": np.zeros((5, 3)), "out.weight": np.ones((5, 3))})
    assert snapshot(tied) == before
    tied.load_state_dict({"emb.weight": np.full((5, 3), 2.0)})  # one name of a tied tensor
    assert (tied.out.weight.data == 2.0).all()


# ----------------------------------------------------------------------------- buffers, to, apply


class WithBuffers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.register_buffer("running_mean", mg.tensor(np.zeros(2, np.float32)))
        self.register_buffer("steps", mg.tensor(np.array(0, np.int64)))
        self.register_buffer("scratch", mg.tensor(np.zeros(4, np.float32)), persistent=False)


def test_buffers_in_state_dict_like_torch() -> None:
    torch = _torch()
    m = WithBuffers()

    class T(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)
            self.register_buffer("running_mean", torch.zeros(2))
            self.register_buffer("steps", torch.tensor(0))
            self.register_buffer("scratch", torch.zeros(4), persistent=False)

    t = T()
    assert list(m.state_dict()) == list(t.state_dict())
    assert [n for n, _ in m.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    state = {k: v.detach().numpy() + 1 for k, v in t.state_dict().items()}
    m.load_state_dict(state)
    np.testing.assert_array_equal(m.running_mean.data, np.ones(2))
    assert m.steps.data == 1 and m.steps.dtype == np.int64
    with pytest.raises(ValueError, match="float values for an integer int64 buffer"):
        m.load_state_dict(dict(state, steps=np.array(1.5)))


def test_to_casts_parameters_and_float_buffers_in_place() -> None:
    m = WithBuffers()
    weight = m.lin.weight
    m.lin(mg.tensor(np.ones((1, 3), np.float32))).sum().backward()
    assert m.to(np.float64) is m
    assert m.lin.weight is weight and weight.dtype == np.float64
    assert weight.grad is not None and weight.grad.dtype == np.float64
    assert m.running_mean.dtype == np.float64 and m.scratch.dtype == np.float64
    assert m.steps.dtype == np.int64
    m.to(dtype="float32")
    assert weight.dtype == np.float32
    m.to(mg.tensor(np.zeros(1)))  # a tensor's dtype
    assert weight.dtype == np.float64
    assert m.to("cpu") is m and weight.dtype == np.float64
    with pytest.raises(TypeError, match="must be float32 or float64, got int32"):
        m.to(np.int32)
    with pytest.raises(ValueError, match="CPU only"):
        m.to("cuda")


def test_apply_and_requires_grad_like_torch() -> None:
    torch = _torch()
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Tanh(), nn.Linear(3, 1)))
    t_model = torch.nn.Sequential(torch.nn.Linear(2, 3),
                                  torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Linear(3, 1)))
    seen: list[str] = []
    t_seen: list[str] = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    t_model.apply(lambda m: t_seen.append(type(m).__name__))
    assert seen == t_seen

    def init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    model.apply(init)
    assert all((m.weight.data == 0.5).all() for m in model.modules() if isinstance(m, nn.Linear))
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model[0].requires_grad_()
    assert [p.requires_grad for p in model.parameters()] == [True, True, False, False]


# ----------------------------------------------------------------------------- all or nothing


@pytest.mark.parametrize("bad,message", [
    (np.array(["a", "b", "c"]), "expected numbers for a float32 tensor, got dtype <U1"),
    ([1.0, [2.0]], "cannot be read as an array"),
    (np.full(3, 1e300), "3 finite value\\(s\\) overflow float32"),
    (np.zeros(4), "expected shape \\(3,\\), got \\(4,\\)"),
])
def test_failed_module_load_changes_nothing(bad: Any, message: str) -> None:
    model = nn.Sequential(nn.Linear(2, 4), nn.Linear(4, 3))
    before = snapshot(model)
    state = {k: v + 1 for k, v in model.state_dict().items()}
    state["1.bias"] = bad  # the last key: every other key would be written first otherwise
    with pytest.raises(ValueError, match=message):
        model.load_state_dict(state)
    assert snapshot(model) == before


def test_load_state_dict_bumps_versions_and_keeps_arrays() -> None:
    lin = nn.Linear(2, 2)
    arr = lin.weight.data
    version = getattr(lin.weight, "_version", None)
    lin.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})
    assert lin.weight.data is arr and (arr == 1).all() and arr.dtype == np.float32
    if version is not None:
        assert lin.weight._version > version


# ----------------------------------------------------------------------------- dtype rule


@pytest.mark.parametrize("layer,x", [
    (lambda: nn.Linear(4, 2), np.ones((3, 4))),
    (lambda: nn.LayerNorm(4), np.ones((3, 4))),
    (lambda: nn.Linear(4, 2, dtype=np.float64), np.ones((3, 4), np.float32)),
    # Conv1d used to compute a float32 layer in float64
    (lambda: nn.Conv1d(4, 2, 3), np.ones((2, 4, 5))),
    (lambda: nn.Conv1d(4, 2, 3, dtype=np.float64), np.ones((4, 5), np.float32)),
], ids=["Linear-f32-layer", "LayerNorm-f32-layer", "Linear-f64-layer", "Conv1d-f32-layer",
        "Conv1d-f64-layer"])
def test_layers_refuse_an_input_of_another_float_dtype(layer: Any, x: np.ndarray) -> None:
    m = layer()
    name = type(m).__name__
    want = m.weight.dtype
    hint = "x.float()" if want == np.float32 else "x.double()"
    message = (f"{name}: input dtype {x.dtype} differs from the layer's {want}; convert with "
               f"{hint} or build the layer with dtype={x.dtype}")
    with pytest.raises(TypeError, match=re.escape(message)):
        m(mg.tensor(x))
    assert m(mg.tensor(x.astype(want))).dtype == want


# ----------------------------------------------------------------------------- seeds


def test_manual_seed_reseeds_the_one_generator_in_place() -> None:
    gen = nn.init.default_generator()
    held = nn.init.get_rng(None)
    mg.manual_seed(3)
    a = held.random(4)
    assert nn.init.default_generator() is gen is held
    mg.manual_seed(3)
    np.testing.assert_array_equal(held.random(4), a)
    np.testing.assert_array_equal(a, np.random.default_rng(3).random(4))
    with pytest.raises(ValueError, match="manual_seed: seed must be a non-negative integer"):
        mg.manual_seed(-1)
    with pytest.raises(ValueError, match="got 1.5"):
        mg.manual_seed(1.5)  # type: ignore[arg-type]


def test_dropout_in_a_model_is_reproducible_after_manual_seed() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2), nn.Dropout(0.3))
    x = mg.tensor(np.ones((5, 4), np.float32))
    mg.manual_seed(0)
    a = model(x).data
    b = model(x).data
    mg.manual_seed(0)
    np.testing.assert_array_equal(model(x).data, a)
    assert not np.array_equal(a, b)  # the masks do change between calls


# ----------------------------------------------------------------------------- functional fixes


@pytest.mark.parametrize("padding_idx", [-1, 4, -5, 0])
def test_embedding_padding_idx_negative_like_torch(padding_idx: int) -> None:
    torch = _torch()
    w = np.random.default_rng(0).standard_normal((5, 3))
    idx = np.array([[0, 4, 2], [4, 1, 0]])
    weight = mg.tensor(w, requires_grad=True)
    F.embedding(idx, weight, padding_idx=padding_idx).sum().backward()
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=padding_idx).sum().backward()
    assert weight.grad is not None
    np.testing.assert_array_equal(weight.grad.data, tw.grad.numpy())
    assert (weight.grad.data[padding_idx % 5] == 0).all()
    with pytest.raises(ValueError, match="padding_idx must be an integer in \\[-5, 4\\]"):
        F.embedding(idx, weight, padding_idx=5)


def test_layer_norm_accepts_numpy_integers() -> None:
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 4)))
    np.testing.assert_array_equal(F.layer_norm(x, np.int64(4)).data, F.layer_norm(x, 4).data)
    np.testing.assert_array_equal(F.layer_norm(x, (np.int32(4),)).data, F.layer_norm(x, 4).data)
    with pytest.raises(TypeError, match="layer_norm: normalized_shape must hold integers"):
        F.layer_norm(x, 4.0)  # type: ignore[arg-type]


@given(seed=st.integers(0, 2**16))
def test_init_functions_write_in_place_with_pytorch_bounds(seed: int) -> None:
    w = nn.Parameter(np.zeros((30, 20), np.float32))
    arr = w.data
    nn.init.xavier_uniform_(w, rng=seed)
    bound = np.sqrt(6.0 / 50)
    assert w.data is arr and w.dtype == np.float32
    assert np.abs(arr).max() <= bound and np.abs(arr).max() > 0.5 * bound
    nn.init.kaiming_uniform_(w, a=np.sqrt(5), rng=seed)  # Linear's default: U(+-1/sqrt(fan_in))
    assert w.data is arr and np.abs(arr).max() <= 1 / np.sqrt(20)


# ----------------------------------------------------------------------------- random trees


@given(data=st.data())
def test_random_trees_with_sharing_and_ties_match_torch(data: Any) -> None:
    """Random nested Sequentials over a pool of Linear layers, some reused (shared modules) and
    some weights tied: every listing and the state dict keys equal PyTorch's, and state dicts
    move both ways."""
    torch = _torch()
    n = data.draw(st.integers(1, 4), label="layers")
    ours_pool = [nn.Linear(2, 2, dtype=np.float64) for _ in range(n)]
    theirs_pool = [torch.nn.Linear(2, 2).double() for _ in range(n)]
    for _ in range(data.draw(st.integers(0, 2), label="ties")):
        i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, n - 1))
        ours_pool[j].weight = ours_pool[i].weight
        theirs_pool[j].weight = theirs_pool[i].weight

    def spec(depth: int) -> list[Any]:
        size = data.draw(st.integers(1, 3))
        return [spec(depth + 1) if depth < 2 and data.draw(st.booleans())
                else data.draw(st.integers(0, n - 1)) for _ in range(size)]

    def build(s: list[Any], seq: Any, pool: list[Any]) -> Any:
        return seq(*[pool[x] if isinstance(x, int) else build(x, seq, pool) for x in s])

    tree = spec(0)
    ours = build(tree, nn.Sequential, ours_pool)
    theirs = build(tree, torch.nn.Sequential, theirs_pool)
    assert [k for k, _ in ours.named_modules()] == [k for k, _ in theirs.named_modules()]
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.detach().numpy())
    theirs.load_state_dict({k: torch.tensor(v + 1) for k, v in ours.state_dict().items()})


@given(bad_key=st.integers(0, 5), kind=st.sampled_from(["strings", "shape", "overflow", "nan"]))
def test_any_bad_entry_leaves_the_module_bit_identical(bad_key: int, kind: str) -> None:
    model = WithBuffers()
    model.extra = nn.Linear(2, 2)
    before = snapshot(model)
    state = {k: v + 1 for k, v in model.state_dict().items()}
    key = sorted(state)[bad_key % len(state)]
    value = state[key]
    state[key] = {
        "strings": np.full(value.shape, "x"),
        "shape": np.zeros(value.shape + (1,)),
        "overflow": np.full(value.shape, 1e300),
        "nan": np.full(value.shape, np.nan),
    }[kind]
    if kind == "nan" and value.dtype.kind == "f":
        model.load_state_dict(state)  # nan is a value a parameter may hold (as in PyTorch)
        assert np.isnan(model.state_dict()[key]).all()
        return
    # strings, a wrong shape, a finite value that overflows float32, or any float value for
    # the int64 buffer: refused, naming the key, and nothing written
    with pytest.raises(ValueError, match=key):
        model.load_state_dict(state)
    assert snapshot(model) == before


@pytest.mark.parametrize("layer,impl", [("LSTM", "fused"), ("GRU", "reference")])
def test_recurrent_inter_layer_dropout_is_reproducible_after_manual_seed(layer: str,
                                                                         impl: str) -> None:
    # Issue 17 item 3: a layer built without rng holds the module-level generator, which
    # manual_seed now reseeds in place (it used to replace it, leaving the layer's copy behind).
    import rnn

    m = getattr(rnn, layer)(3, 4, num_layers=2, dropout=0.5, impl=impl)
    x = mg.tensor(np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32))
    mg.manual_seed(0)
    a = m(x)[0].data
    b = m(x)[0].data
    mg.manual_seed(0)
    np.testing.assert_array_equal(m(x)[0].data, a)
    assert not np.array_equal(a, b)
