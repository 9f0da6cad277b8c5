"""Recurrent layers on the minigrad engine."""
