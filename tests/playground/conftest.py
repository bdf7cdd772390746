"""A playground server on a free port, in a thread of the test process."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def playground_url():
    pytest.importorskip("starlette", reason="the playground needs the [playground] extra")
    pytest.importorskip("uvicorn", reason="the playground needs the [playground] extra")
    from chainrule.playground import start_in_thread

    url, stop = start_in_thread()
    yield url
    stop()
