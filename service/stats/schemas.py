from service.kit.schemas import ResponseModel


class UserStats(ResponseModel):
    posts: int
    comments: int
    followers: int
    following: int
    likes_received: int
