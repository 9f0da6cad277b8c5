"""Character-level vocabulary: maps characters (and optional special tokens) to integer ids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CharVocab"]


class CharVocab:
    """A character vocabulary built from one or more texts.

    Ids are assigned as follows: first the special tokens, in the order given, then every
    distinct character of the texts in sorted (code point) order. A special token may be any
    non-empty string (``"<eos>"``) or a single character (``"\\n"``); a single-character special
    that also occurs in the text keeps its special id and is not listed twice.

    Example::

        >>> v = CharVocab(["ab", "ba"], specials=["."])
        >>> v.itos
        ['.', 'a', 'b']
        >>> v.encode("ab", eos=".").tolist()
        [1, 2, 0]
        >>> v.decode([1, 2, 0])
        'ab.'

    Attributes:
        itos: list of tokens; ``itos[i]`` is the token with id ``i``.
        stoi: dict from token to id (the inverse of ``itos``).
        specials: the special tokens, in id order.
    """

    def __init__(self, texts: str | Iterable[str] = (), *, specials: Sequence[str] = ()) -> None:
        if isinstance(specials, str):
            raise TypeError("specials must be a sequence of strings, not a single string")
        specials = tuple(specials)
        for tok in specials:
            if not isinstance(tok, str) or not tok:
                raise ValueError(f"special tokens must be non-empty strings, got {tok!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"duplicate special tokens in {specials!r}")
        if isinstance(texts, str):
            texts = [texts]
        chars: set[str] = set()
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, got {type(text).__name__}")
            chars.update(text)
        self.specials: tuple[str, ...] = specials
        self.itos: list[str] = list(specials) + sorted(chars - set(specials))
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(self.itos)}

    @classmethod
    def from_tokens(cls, itos: Sequence[str], specials: Sequence[str] = ()) -> CharVocab:
        """Rebuild a vocabulary with exactly this id order (e.g. from :meth:`to_dict`)."""
        itos = list(itos)
        specials = tuple(specials)
        if tuple(itos[: len(specials)]) != specials:
            raise ValueError("the special tokens must come first in itos, in order")
        rest = itos[len(specials) :]
        if any(not isinstance(c, str) or len(c) != 1 for c in rest):
            raise ValueError("every non-special token must be a single character")
        if len(set(itos)) != len(itos):
            raise ValueError("itos contains duplicate tokens")
        vocab = cls(specials=specials)
        vocab.itos = itos
        vocab.stoi = {tok: i for i, tok in enumerate(itos)}
        return vocab

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (lists of strings), storable with :func:`minigrad.checkpoint.save`."""
        return {"itos": list(self.itos), "specials": list(self.specials)}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> CharVocab:
        """Inverse of :meth:`to_dict`."""
        return cls.from_tokens(state["itos"], state.get("specials", ()))

    @property
    def size(self) -> int:
        """Number of ids (special tokens included)."""
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CharVocab):
            return NotImplemented
        return self.itos == other.itos and self.specials == other.specials

    __hash__ = None  # type: ignore[assignment]  # mutable attributes; not hashable

    def __repr__(self) -> str:
        return f"CharVocab(size={self.size}, specials={list(self.specials)!r})"

    def _special_id(self, token: str | None, role: str) -> list[int]:
        if token is None:
            return []
        if token not in self.stoi:
            raise KeyError(f"{role} token {token!r} is not in the vocabulary")
        return [self.stoi[token]]

    def encode(
        self, text: str, *, bos: str | None = None, eos: str | None = None
    ) -> npt.NDArray[np.int64]:
        """Map each character of ``text`` to its id; optionally add begin/end tokens.

        Multi-character special tokens are never recognised inside ``text``; pass them as
        ``bos`` / ``eos`` instead.

        Raises:
            ValueError: ``text`` contains a character that is not in the vocabulary.
        """
        try:
            body = [self.stoi[c] for c in text]
        except KeyError as e:
            raise ValueError(
                f"character {e.args[0]!r} is not in the vocabulary (size {self.size})"
            ) from None
        ids = self._special_id(bos, "bos") + body + self._special_id(eos, "eos")
        return np.array(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int] | npt.ArrayLike, *, skip_specials: bool = False) -> str:
        """Map ids back to a string (special tokens as their text unless ``skip_specials``).

        Raises:
            ValueError: an id outside ``[0, size)``.
        """
        arr = np.asarray(ids)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"ids must be integers, got dtype {arr.dtype}")
        n_special = len(self.specials) if skip_specials else 0
        out = []
        for i in arr.reshape(-1).tolist():
            if not 0 <= i < self.size:
                raise ValueError(f"id {i} is out of range for a vocabulary of size {self.size}")
            if i >= n_special:
                out.append(self.itos[i])
        return "".join(out)
