"""minigrad: a small tape-based autograd engine."""
