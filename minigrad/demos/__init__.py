"""Runnable demos behind the ``minigrad demo`` command."""
