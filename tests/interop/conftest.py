"""Fixtures for the JavaScript interop tests (Digital Bazaar's stack via ``js/di.mjs``).

``js`` skips the test with a visible reason when node/npm or the pinned packages are not
available -- unless ``FURUSATO_REQUIRE_INTEROP=1`` (set in CI), in which case it fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.jsbridge import REQUIRE_ENV, JsBridge, ensure_installed, interop_required


def _unavailable(reason: str) -> None:
    if interop_required():
        pytest.fail(f"JS interop harness required ({REQUIRE_ENV}=1) but unavailable: {reason}")
    pytest.skip(f"JS interop harness unavailable: {reason}")


@pytest.fixture(scope="session")
def js() -> Iterator[JsBridge]:
    """The JS harness (serve mode; ``FURUSATO_INTEROP_ONESHOT=1`` for one process per call)."""
    reason = ensure_installed()
    if reason is not None:
        _unavailable(reason)
    bridge = JsBridge()
    yield bridge
    bridge.close()
