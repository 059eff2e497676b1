"""The delivery-time check: every hostile URL is refused before anything is sent, the
connection goes to the address that was checked, and redirects are not followed."""

import pytest

from service.webhooks import ssrf
from service.webhooks.secrets import SecretBox, new_secret
from service.webhooks.sending import Sending
from service.webhooks.settings import WebhooksSettings
from tests.support.receivers import receiver
from tests.support.settings import TEST_WEBHOOK_KEY
from tests.support.webhooks import HOSTILE_URLS


def sending(*allowed: str) -> Sending:
    settings = WebhooksSettings(
        environment="test",
        webhook_secret_key=TEST_WEBHOOK_KEY,
        webhook_allowed_hosts=list(allowed),
        _env_file=None,
    )
    return Sending(settings, SecretBox(TEST_WEBHOOK_KEY))


@pytest.mark.parametrize("url", HOSTILE_URLS)
async def test_a_hostile_url_is_refused_at_delivery(url: str) -> None:
    sender = sending()
    try:
        outcome = await sender.send(url=url, secret=new_secret(), message_id="msg_1", body=b"{}")
    finally:
        await sender.close()
    assert (outcome.outcome, outcome.response_code) == ("refused", None)


async def test_the_default_allows_no_host_and_refuses_loopback() -> None:
    assert WebhooksSettings.model_fields["webhook_allowed_hosts"].default_factory() == []  # type: ignore[misc,call-arg]
    async with receiver() as target:
        sender = sending()
        try:
            outcome = await sender.send(
                url=target.url, secret=new_secret(), message_id="msg_1", body=b"{}"
            )
        finally:
            await sender.close()
        assert outcome.outcome == "refused"
        assert target.requests == []


async def test_a_name_is_resolved_once_and_the_checked_address_is_used() -> None:
    async with receiver() as target:
        sender = sending("localhost")
        url = target.url.replace("127.0.0.1", "localhost")
        try:
            outcome = await sender.send(url=url, secret=new_secret(), message_id="m", body=b"{}")
        finally:
            await sender.close()
        assert outcome.outcome == "succeeded"
        checked = await ssrf.check(url, ["localhost"])
        assert checked.pinned_url.startswith(f"http://{checked.address}:{target.port}/")
        assert target.requests[0].headers["host"] == f"localhost:{target.port}"


async def test_redirects_are_not_followed() -> None:
    async with receiver(lambda _: "302") as target:
        sender = sending("127.0.0.1")
        try:
            outcome = await sender.send(
                url=target.url, secret=new_secret(), message_id="m", body=b"{}"
            )
        finally:
            await sender.close()
    assert (outcome.outcome, outcome.response_code) == ("failed", 302)
    assert len(target.requests) == 1


def test_numeric_ipv4_forms_are_read_as_inet_aton_reads_them() -> None:
    assert str(ssrf.numeric_ipv4("2130706433")) == "127.0.0.1"
    assert str(ssrf.numeric_ipv4("0177.0.0.1")) == "127.0.0.1"
    assert str(ssrf.numeric_ipv4("0x7f.1")) == "127.0.0.1"
    assert str(ssrf.numeric_ipv4("10.1")) == "10.0.0.1"
    assert ssrf.numeric_ipv4("example.com") is None
    assert ssrf.numeric_ipv4("256.1.1.1") is None
