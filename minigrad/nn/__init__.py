"""Building blocks for models: Module, Parameter and layers."""

from .module import Module, Parameter

__all__ = ["Module", "Parameter"]
