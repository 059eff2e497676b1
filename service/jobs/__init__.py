"""Durable work: the transactional outbox, its worker, retries, dead letters, periodic jobs.

Generic: it knows no domain. Domains write events with `Outbox.emit` inside their own
transaction; the composition root (`service/flows.py`) tells the worker which handler runs for
which topic.
"""
