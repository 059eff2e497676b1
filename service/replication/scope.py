"""What the replication middleware and the session dependencies share per request."""

MIN_LSN = "inkwell.min_lsn"
"""Scope key: the LSN a read must see (from the client's token), or absent."""


COMMIT_LSN = "inkwell.commit_lsn"
"""Scope key: the primary's LSN after this request's committed write."""


FORCE_PRIMARY = "inkwell.force_primary"
"""Scope key: set on the retry of a failed replica read."""


class ReplicaReadFailed(Exception):
    """A read on a replica failed in a way the primary can absorb (recovery conflict, lost link).

    Deliberately not a SQLAlchemyError: it passes the exception handlers and reaches the
    middleware, which retries the request on the primary.
    """
