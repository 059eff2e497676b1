"""The image under test, built once per run from the repository's Dockerfile with podman."""

import sys

import pytest

from tests.container import podman

IMAGE = "localhost/inkwell:container-test"


@pytest.fixture(scope="session")
async def image() -> str:
    await podman.require_podman()
    seconds = await podman.build(IMAGE)
    size = await podman.image_size(IMAGE)
    base = await podman.image_size(podman.BASE_IMAGE)
    sys.stdout.write(
        f"\n[container] image {IMAGE} built in {seconds:.1f} s: {size / 1e6:.0f} MB"
        f" ({(size - base) / 1e6:.0f} MB over the {base / 1e6:.0f} MB base)\n"
    )
    return IMAGE
