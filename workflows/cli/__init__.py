"""The `creditflow` command line, serving, and demo data."""
