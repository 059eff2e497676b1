"""Web-search syntax as an FTS5 query (SQLite's full text; PostgreSQL reads it natively)."""

import re

_TERM = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')

__all__ = ["fts5_query"]


def fts5_query(q: str) -> str | None:
    """Translate web-search syntax (as `websearch_to_tsquery` reads it) into an FTS5 query.

    Words and "quoted phrases" are required (AND), `or` between terms is OR, `-term` excludes.
    Every term is re-quoted from its word characters only, so FTS5 syntax in user input is
    inert. FTS5 cannot start with NOT, so each OR-group lists its positive terms first; a
    group with no positive term is dropped. None when nothing searchable is left.
    """
    groups: list[tuple[list[str], list[str]]] = [([], [])]
    for match in _TERM.finditer(q[:200]):
        negative = bool(match.group(1) or match.group(3))
        text = match.group(2) if match.group(2) is not None else match.group(4)
        if match.group(4) is not None and not negative and text.lower() == "or":
            groups.append(([], []))
            continue
        words = re.findall(r"\w+", text)
        if words:
            groups[-1][negative].append('"' + " ".join(words[:16]) + '"')
    clauses = [
        " ".join(positive) + "".join(f" NOT {term}" for term in negative)
        for positive, negative in groups
        if positive
    ]
    return " OR ".join(f"({clause})" for clause in clauses) or None
