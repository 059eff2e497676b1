from typing import Annotated

from fastapi import APIRouter, Query

from service.database.session import ReadSessionDep
from service.kit.http.routing import Route
from service.tags import service
from service.tags.schemas import TagPublic

router = APIRouter(prefix="/tags", tags=["tags"], route_class=Route)


@router.get(
    "",
    response_model=list[TagPublic],
    summary="List tags",
    description="Tags with their number of published posts, most used first.",
)
async def list_tags(
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=100, description="how many tags")] = 50,
) -> list[TagPublic]:
    """Tags with their number of published posts, most used first (one statement)."""
    rows = await service.popular(session, limit=limit)
    return [TagPublic(name=name, post_count=count) for name, count in rows]
