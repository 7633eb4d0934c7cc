"""The credit domain: customers, limits, receivables, dunning, suppliers and contracts."""
