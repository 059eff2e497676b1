from datetime import datetime

from service.kit.schemas import ResponseModel


class NotificationPublic(ResponseModel):
    id: int
    post_id: int
    created_at: datetime
    read_at: datetime | None
