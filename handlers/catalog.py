"""Imports every handler module so each registers its operations; add new capability modules here."""

from handlers import credit_file, credit_scoring, limit_decision, notifications  # noqa: F401
