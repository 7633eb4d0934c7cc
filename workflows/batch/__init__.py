"""Scheduled work: the daily jobs, claim-safe daily starts, the embedded scheduler, Prefect flows."""
