"""The in-process hub: bounded queues, slow clients dropped, shutdown closes everyone."""

from service.realtime.hub import CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN_LATER, Frame, Hub

ONE, TWO = Frame(1, "one"), Frame(2, "two")


def test_every_subscriber_gets_every_message() -> None:
    hub = Hub(queue_size=4)
    a, b = hub.subscribe(), hub.subscribe()
    hub.publish(ONE)
    hub.publish(TWO)
    assert [a.queue.get_nowait(), a.queue.get_nowait()] == [ONE, TWO]
    assert [b.queue.get_nowait(), b.queue.get_nowait()] == [ONE, TWO]


def test_a_slow_subscriber_is_dropped_and_memory_stays_bounded() -> None:
    hub = Hub(queue_size=3)
    slow, fast = hub.subscribe(), hub.subscribe()
    for i in range(10):
        hub.publish(Frame(i, f"m{i}"))
        assert fast.queue.get_nowait() == Frame(i, f"m{i}")  # keeps up
    assert slow.close_code == CLOSE_TRY_AGAIN_LATER
    assert slow.closed.is_set()
    assert slow.queue.qsize() == 3  # never more than the bound
    assert fast.close_code is None


def test_close_all_says_going_away_and_refuses_newcomers() -> None:
    hub = Hub(queue_size=2)
    subscriber = hub.subscribe()
    hub.close_all()
    assert subscriber.close_code == CLOSE_GOING_AWAY
    late = hub.subscribe()
    assert late.close_code == CLOSE_GOING_AWAY
    hub.unsubscribe(subscriber)
    hub.unsubscribe(late)
    assert len(hub) == 0
