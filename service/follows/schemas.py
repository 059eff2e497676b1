from datetime import datetime

from service.kit.schemas import ResponseModel
from service.users.schemas import UserPublic


class FollowPublic(ResponseModel):
    """One row of a followers/following page: the other user and when the follow started."""

    user: UserPublic
    followed_at: datetime
