from fastapi import APIRouter

from service.database.session import ReadSessionDep
from service.kit.http.routing import Route
from service.kit.schemas import IdPath
from service.stats import service
from service.stats.schemas import UserStats

router = APIRouter(tags=["stats"], route_class=Route)


@router.get(
    "/users/{user_id:id}/stats",
    response_model=UserStats,
    summary="Read a user's stats",
    description="Published posts, live comments, followers, following and likes received on "
    "live posts, counted in one statement.",
)
async def read_stats(user_id: IdPath, session: ReadSessionDep) -> UserStats:
    """Published posts, live comments, followers, following, likes on live posts: one query."""
    return await service.user_stats(session, user_id)
