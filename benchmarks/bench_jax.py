"""The JAX peer of the recurrent benchmark: RNN / LSTM / GRU layers as a JAX user writes them.

Each direction is a ``jax.lax.scan`` over the cell, with the input projection hoisted out of the
scan (one matmul over all T*B rows). The reverse direction runs on the time-flipped input and
the directions are concatenated [forward | reverse]. The cells follow PyTorch: LSTM gates
i, f, g, o; GRU gates r, z, n with the reset gate applied after the recurrent projection,
``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``.

The training step is ``jax.jit(jax.grad(loss))`` with ``loss = sum(output)``, differentiated
w.r.t. all parameters (not x); inference is ``jax.jit`` of the forward. Both are compiled ahead
of time on the CPU, and the compile time is reported apart from the step time.

    python benchmarks/bench_jax.py --check   # gradients w.r.t. weight_hh against PyTorch's

Imported only when jax is installed: jax is not a dependency of minigrad.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_enable_x64", True)

GATES = {"rnn": 1, "lstm": 4, "gru": 3}

#: per layer, per direction: w_ih (G*H, in), w_hh (G*H, H), b_ih (G*H,), b_hh (G*H,)
Params = list[list[dict[str, jax.Array]]]
Scan = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def _rnn(xp: jax.Array, w_hh_t: jax.Array, b_hh: jax.Array) -> jax.Array:
    def step(h: jax.Array, xt: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = jnp.tanh(xt + h @ w_hh_t)
        return h, h

    h0 = jnp.zeros((xp.shape[1], w_hh_t.shape[0]), xp.dtype)
    return jax.lax.scan(step, h0, xp)[1]


def _lstm(xp: jax.Array, w_hh_t: jax.Array, b_hh: jax.Array) -> jax.Array:
    def step(carry: tuple[jax.Array, jax.Array],
             xt: jax.Array) -> tuple[tuple[jax.Array, jax.Array], jax.Array]:
        h, c = carry
        i, f, g, o = jnp.split(xt + h @ w_hh_t, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    h0 = jnp.zeros((xp.shape[1], w_hh_t.shape[0]), xp.dtype)
    return jax.lax.scan(step, (h0, h0), xp)[1]


def _gru(xp: jax.Array, w_hh_t: jax.Array, b_hh: jax.Array) -> jax.Array:
    def step(h: jax.Array, xt: jax.Array) -> tuple[jax.Array, jax.Array]:
        xr, xz, xn = jnp.split(xt, 3, axis=-1)
        hr, hz, hn = jnp.split(h @ w_hh_t + b_hh, 3, axis=-1)
        r = jax.nn.sigmoid(xr + hr)
        z = jax.nn.sigmoid(xz + hz)
        n = jnp.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
        return h, h

    h0 = jnp.zeros((xp.shape[1], w_hh_t.shape[0]), xp.dtype)
    return jax.lax.scan(step, h0, xp)[1]


SCANS: dict[str, Scan] = {"rnn": _rnn, "lstm": _lstm, "gru": _gru}


def direction(cell: str, p: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """Outputs (T, B, H) of one direction over x (T, B, I), from zero initial state."""
    T, B, _ = x.shape
    # GRU keeps b_hh inside the scan: its n gate multiplies it by r.
    bias = p["b_ih"] if cell == "gru" else p["b_ih"] + p["b_hh"]
    xp = (x.reshape(T * B, -1) @ p["w_ih"].T + bias).reshape(T, B, -1)
    return SCANS[cell](xp, p["w_hh"].T, p["b_hh"])


def forward(cell: str, params: Params, x: jax.Array) -> jax.Array:
    """Output (T, B, dirs*H) of the last layer, as ``torch.nn.<Cell>(...)(x)[0]``."""
    for layer in params:
        outs = [direction(cell, layer[0], x)]
        if len(layer) == 2:
            outs.append(direction(cell, layer[1], x[::-1])[::-1])
        x = jnp.concatenate(outs, axis=-1)
    return x


def init_params(cell: str, input_size: int, hidden_size: int, num_layers: int,
                bidirectional: bool, dtype: str, seed: int = 0) -> Params:
    """PyTorch's initialisation: every entry uniform in +-1/sqrt(hidden_size)."""
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(hidden_size)
    G = GATES[cell] * hidden_size
    dirs = 2 if bidirectional else 1

    def uniform(*shape: int) -> jax.Array:
        return jnp.asarray(rng.uniform(-bound, bound, shape).astype(dtype))

    return [[{"w_ih": uniform(G, input_size if k == 0 else dirs * hidden_size),
              "w_hh": uniform(G, hidden_size), "b_ih": uniform(G), "b_hh": uniform(G)}
             for _ in range(dirs)] for k in range(num_layers)]


def from_torch(layer: Any) -> Params:
    """The parameters of a ``torch.nn.RNN / LSTM / GRU`` (tanh, with biases) as Params."""
    suffixes = ["", "_reverse"] if layer.bidirectional else [""]

    def get(name: str) -> jax.Array:
        return jnp.asarray(getattr(layer, name).detach().numpy())

    return [[{key: get(f"{name}_l{k}{s}") for key, name in
              (("w_ih", "weight_ih"), ("w_hh", "weight_hh"), ("b_ih", "bias_ih"),
               ("b_hh", "bias_hh"))}
             for s in suffixes] for k in range(layer.num_layers)]


def _compile(fn: Callable[[Params, jax.Array], Any], params: Params,
             x: jax.Array) -> tuple[Callable[[Params, jax.Array], Any], float]:
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(params, x).compile()
    return compiled, time.perf_counter() - start


def make_step(cell: str, x: np.ndarray, hidden_size: int, num_layers: int,
              bidirectional: bool, train: bool = True) -> tuple[Callable[[], None], float]:
    """A training step (gradient of the sum of outputs) or a forward, and its compile seconds."""
    params = init_params(cell, x.shape[-1], hidden_size, num_layers, bidirectional,
                         str(x.dtype))
    xj = jnp.asarray(x)

    def run(p: Params, xs: jax.Array) -> jax.Array:
        return forward(cell, p, xs)

    def loss(p: Params, xs: jax.Array) -> jax.Array:
        return forward(cell, p, xs).sum()

    compiled, seconds = _compile(jax.grad(loss) if train else run, params, xj)

    def step() -> None:
        jax.block_until_ready(compiled(params, xj))

    return step, seconds


def check(torch: Any, cell: str = "lstm", shape: tuple[int, int, int, int] = (16, 32, 32, 64),
          num_layers: int = 1, bidirectional: bool = False, dtype: str = "float32") -> float:
    """Largest |JAX - PyTorch| gradient of sum(output) w.r.t. every weight_hh, relative to the
    largest |PyTorch gradient|, for the same weights and input."""
    B, T, I, H = shape
    layer = getattr(torch.nn, cell.upper())(I, H, num_layers=num_layers,
                                            bidirectional=bidirectional,
                                            dtype=getattr(torch, dtype))
    x = np.random.default_rng(1).standard_normal((T, B, I)).astype(dtype)
    layer(torch.from_numpy(x))[0].sum().backward()
    grads = jax.jit(jax.grad(lambda p, xs: forward(cell, p, xs).sum()))(
        from_torch(layer), jnp.asarray(x))
    worst = 0.0
    suffixes = ["", "_reverse"] if bidirectional else [""]
    for k in range(num_layers):
        for d, s in enumerate(suffixes):
            ref = getattr(layer, f"weight_hh_l{k}{s}").grad.numpy()
            got = np.asarray(grads[k][d]["w_hh"])
            worst = max(worst, float(np.abs(got - ref).max() / np.abs(ref).max()))
    return worst


def run_checks(torch: Any, shape: tuple[int, int, int, int] = (16, 32, 32, 64),
               tol: float = 1e-4) -> bool:
    """Print the weight_hh gradient check (float32) for every cell, 1 layer and 2 bidirectional;
    True when all are within tol."""
    ok = True
    B, T, I, H = shape
    for cell in ("lstm", "gru", "rnn"):
        for layers, bidir in ((1, False), (2, True)):
            err = check(torch, cell, shape, layers, bidir)
            ok &= err <= tol
            print(f"{cell.upper()} float32 B{B} T{T} I{I} H{H}, {layers} layer(s)"
                  f"{' bidirectional' if bidir else ''}: max |JAX - PyTorch| / max |PyTorch| of "
                  f"d sum(output) / d weight_hh = {err:.1e} ({'ok' if err <= tol else 'FAIL'})")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare the gradients w.r.t. weight_hh with PyTorch's")
    args = ap.parse_args(argv)
    if not args.check:
        ap.print_help()
        return 0
    import torch

    return 0 if run_checks(torch) else 1


if __name__ == "__main__":
    raise SystemExit(main())
