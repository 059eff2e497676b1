"""The reference's home feed: the hand-written statement (the same two plans as the service's
feed/queries.py, gated by a bounded count of the reader's follows) and the token check."""

import jwt

from loadtests.reference.columns import POST_COLUMNS

FEW = 256
LIVE = "{p}.status = 'published' AND {p}.deleted_at IS NULL"
TOKEN_VERSION = "SELECT token_version FROM users WHERE id = $1"
_FOLLOWS = (
    f"(SELECT count(*) FROM (SELECT 1 FROM follows WHERE follower_id = $1 LIMIT {FEW + 1}) c)"
)


def _page(cursor: bool, rows: int) -> str:
    after = "AND ({p}.created_at, {p}.id) < ($2, $3)" if cursor else ""
    return f"""
SELECT {POST_COLUMNS},
       EXISTS (SELECT 1 FROM bookmarks b WHERE b.post_id = p.id AND b.user_id = $1) AS bookmarked
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.deleted_at IS NULL AND p.id IN (
  (SELECT r.id FROM follows f CROSS JOIN LATERAL (
      SELECT a.id, a.created_at FROM posts a
      WHERE a.author_id = f.followee_id AND {LIVE.format(p="a")} {after.format(p="a")}
      ORDER BY a.created_at DESC, a.id DESC LIMIT {rows}) r
   WHERE f.follower_id = $1 AND {_FOLLOWS} <= {FEW}
   ORDER BY r.created_at DESC, r.id DESC LIMIT {rows})
  UNION ALL
  (SELECT w.id FROM posts w
   WHERE {LIVE.format(p="w")} {after.format(p="w")}
     AND (w.author_id IN (SELECT followee_id FROM follows WHERE follower_id = $1)) IS TRUE
     AND {_FOLLOWS} > {FEW}
   ORDER BY w.created_at DESC, w.id DESC LIMIT {rows}))
ORDER BY p.created_at DESC, p.id DESC
LIMIT {rows}
"""


PAGE = {(cursor, rows): _page(cursor, rows) for cursor in (False, True) for rows in range(2, 102)}


def token_user(header: str, secret: str) -> tuple[int, int]:
    """(user id, token version) of a `Bearer` token the service signed; ValueError otherwise."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ValueError("Authentication required.")
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], audience="inkwell-api", issuer="inkwell"
        )
    except jwt.PyJWTError as error:
        raise ValueError("The access token is invalid or expired.") from error
    return int(claims["sub"]), int(claims.get("ver", 0))
