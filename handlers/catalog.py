"""Imports every handler module so each registers its operations; add new capability modules here."""

from handlers import notifications  # noqa: F401
