"""The version of quantdb (its own module, so that services can record it without importing
the package face)."""

__version__ = "0.1.0"
