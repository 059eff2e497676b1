"""What autogenerate and the drift test compare: everything modelled, minus hand-made objects.

PostgreSQL-only objects are created by hand in migrations and not modelled (one model serves
both backends): the generated `search_vector` tsvector column with its GIN index, the GIN
(jsonb_path_ops) index on `metadata`; and on SQLite the FTS5 table `posts_fts` with its shadow
tables. tests/core/test_schema.py checks that they exist.
"""

from typing import Any

UNMODELLED_COLUMNS = {("posts", "search_vector")}
UNMODELLED_INDEXES = {"ix_posts_search_vector", "ix_posts_metadata"}
UNMODELLED_TABLE_PREFIX = "posts_fts"


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    if type_ == "table" and name is not None and name.startswith(UNMODELLED_TABLE_PREFIX):
        return False
    if type_ == "column" and (getattr(obj.table, "name", None), name) in UNMODELLED_COLUMNS:
        return False
    return not (type_ == "index" and name in UNMODELLED_INDEXES)
