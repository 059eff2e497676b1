"""Scheduled publishing: the due scan the job worker runs (docs/domain.md, scheduling)."""
