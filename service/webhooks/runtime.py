"""The webhooks of one application: its settings section, its secret box and its sender (which
the API wakes after queueing a ping or a retry)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.kit.state import StateSlot
from service.webhooks.delivery import Sender
from service.webhooks.secrets import SecretBox
from service.webhooks.settings import WebhooksSettings


@dataclass
class Webhooks:
    settings: WebhooksSettings
    box: SecretBox
    sender: Sender

    @classmethod
    def build(cls, settings: WebhooksSettings, sender: Sender) -> "Webhooks":
        return cls(settings, SecretBox(settings.webhook_secret_key), sender)

    def wake(self) -> None:
        self.sender.wake()


WEBHOOKS: StateSlot[Webhooks] = StateSlot("webhooks")


async def get_webhooks(request: Request) -> Webhooks:
    return WEBHOOKS.of(request)


WebhooksDep = Annotated[Webhooks, Depends(get_webhooks)]
