"""GC_FREEZE: once started, the service's startup heap is exempt from garbage collection."""

import gc
from collections.abc import Iterator

import pytest

from service.main import create_app
from service.settings import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize("enabled", [True, False])
async def test_startup_freezes_the_heap_when_enabled(
    unfrozen: None, enabled: bool, settings: Settings
) -> None:
    app = create_app(settings.model_copy(update={"gc_freeze": enabled}))
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
    if enabled:
        # Everything alive at startup: the modules, the app, its routes and schemas.
        assert frozen > 50_000
    else:
        assert frozen == 0
