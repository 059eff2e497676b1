from datetime import datetime

from service.kit.schemas import RequestModel, ResponseModel
from service.moderation.models import Action
from service.users.models import Role


class RoleUpdate(RequestModel):
    role: Role


class ModerationEntryPublic(ResponseModel):
    id: int
    actor_id: int | None
    action: Action
    target_type: str
    target_id: str
    detail: str | None
    at: datetime
