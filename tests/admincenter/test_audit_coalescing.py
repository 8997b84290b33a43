"""Commits of one process share one published processing task per short window, and
the trailing publish means no commit is left without one."""

import threading
import time

import pytest

from admincenter.services import audit_pipeline


@pytest.fixture
def publishes(monkeypatch):
    calls = []
    lock = threading.Lock()

    def record():
        with lock:
            calls.append(time.monotonic())

    monkeypatch.setattr(audit_pipeline, "ENQUEUE_COALESCE_SECONDS", 0.2)
    monkeypatch.setattr(audit_pipeline, "_eager", lambda: False)
    return calls, audit_pipeline._Coalescer(publish=record)


def test_a_burst_of_commits_publishes_once_at_once_and_once_at_the_end_of_the_window(publishes):
    calls, coalescer = publishes
    for _ in range(50):
        coalescer.request()
    assert len(calls) == 1  # the first commit publishes at once
    time.sleep(0.6)
    assert len(calls) == 2  # one trailing publish covers the other 49
    assert calls[1] - calls[0] >= 0.19


def test_a_lone_commit_after_the_window_publishes_at_once(publishes):
    calls, coalescer = publishes
    coalescer.request()
    time.sleep(0.25)
    coalescer.request()
    assert len(calls) == 2
    time.sleep(0.5)
    assert len(calls) == 2  # nothing was pending, so no trailing publish


def test_eager_mode_publishes_every_commit_at_once(monkeypatch):
    calls = []
    monkeypatch.setattr(audit_pipeline, "_eager", lambda: True)
    coalescer = audit_pipeline._Coalescer(publish=lambda: calls.append(1))
    for _ in range(3):
        coalescer.request()
    assert calls == [1, 1, 1]


def test_the_commit_hook_goes_through_the_process_coalescer(monkeypatch):
    calls = []
    monkeypatch.setattr(audit_pipeline, "coalescer", audit_pipeline._Coalescer(publish=lambda: calls.append(1)))
    monkeypatch.setattr(audit_pipeline, "_eager", lambda: True)
    audit_pipeline._enqueue_processing_hook()
    assert calls == [1]
