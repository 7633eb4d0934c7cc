"""Imports every handler module so each registers its operations; add new capability modules here."""

from handlers import (  # noqa: F401  (imported for their registrations)
    contracts,
    credit_file,
    credit_scoring,
    dunning,
    limit_decision,
    limit_review,
    notifications,
    supplier_risk,
)
