"""The version of weipian (one place; the package and its records read it from here)."""

__version__ = "0.3.0"
