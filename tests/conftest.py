"""Fixtures shared by every test folder, and the rule that no task outlives its test."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator

import pytest

from ledger.run.process import end_stray_tasks
from ledger.workers.tasks import STOP_TIMEOUT_S
from tests.pg import ThrowawayPostgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    """One PostgreSQL cluster for the session; tests take a fresh database each."""
    cluster = ThrowawayPostgres()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


#: Folders whose every file takes tens of seconds to minutes (a service or a cluster
#: killed and started again, many times over): all their tests are marked slow.
_SLOW_FOLDERS = ("tests/integration/faults",)


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by the marks added here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow folders' tests slow and hand out the files with slow tests first;
    every coroutine test on its own event loop ends the tasks it leaves (first of its
    fixtures, so its teardown runs after theirs)."""
    for item in items:
        if any(folder in item.path.as_posix() for folder in _SLOW_FOLDERS):
            item.add_marker(pytest.mark.slow)
    _slow_files_first(items)
    for item in items:
        marker = item.get_closest_marker("asyncio")
        on_own_loop = marker is None or marker.kwargs.get("loop_scope", "function") == "function"
        if (isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj)
                and on_own_loop):
            item.fixturenames.insert(0, "_no_task_outlives_the_test")


def _slow_files_first(items: list[pytest.Item]) -> None:
    """Move the files with a test marked slow to the front, keeping the order otherwise.
    scripts/test.sh hands whole files to three workers in this order (``--dist loadfile
    --no-loadscope-reorder``): a file of one three-minute test handed out last would end
    the suite minutes after the others."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture
async def _no_task_outlives_the_test() -> AsyncIterator[None]:
    """Ends what the test left running, cancelling each task again until it ends: the
    loop's teardown cancels once and waits for ever, and a task that spent that one
    cancellation waiting on a stuck cleanup hung a CI run for seven minutes."""
    yield
    stuck = await end_stray_tasks()
    if stuck:
        pytest.fail(f"tasks still running {STOP_TIMEOUT_S:g} s after the test, cancelled "
                    "every second: "
                    + "; ".join(f"{task!r} at {task.get_stack(limit=3)}" for task in stuck))
