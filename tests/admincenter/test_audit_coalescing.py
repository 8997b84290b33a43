"""Commits of one process share one published processing task per short window, and
the trailing publish means no commit is left without one."""

import threading
import time

import pytest

from admincenter.services import audit_pipeline


@pytest.fixture
def published(monkeypatch):
    calls = []
    done = threading.Event()

    def fake_enqueue():
        calls.append(time.monotonic())
        done.set()
        return True

    monkeypatch.setattr(audit_pipeline, "enqueue_processing", fake_enqueue)
    monkeypatch.setattr(audit_pipeline, "ENQUEUE_COALESCE_SECONDS", 0.2)
    monkeypatch.setattr(audit_pipeline, "_eager", lambda: False)
    monkeypatch.setattr(audit_pipeline, "coalescer", audit_pipeline._Coalescer())
    return calls


def test_a_burst_of_commits_publishes_once_at_once_and_once_at_the_end_of_the_window(published):
    for _ in range(50):
        audit_pipeline._enqueue_processing_hook()
    assert len(published) == 1  # the first commit publishes at once
    time.sleep(0.5)
    assert len(published) == 2  # the trailing publish covers the other 49
    assert published[1] - published[0] >= 0.19


def test_a_lone_commit_after_the_window_publishes_at_once(published):
    audit_pipeline._enqueue_processing_hook()
    time.sleep(0.25)
    audit_pipeline._enqueue_processing_hook()
    assert len(published) == 2
    time.sleep(0.3)
    assert len(published) == 2  # nothing was pending, so no trailing publish


def test_eager_mode_processes_every_commit_at_once(monkeypatch):
    calls = []
    monkeypatch.setattr(audit_pipeline, "enqueue_processing", lambda: calls.append(1))
    monkeypatch.setattr(audit_pipeline, "_eager", lambda: True)
    for _ in range(3):
        audit_pipeline._enqueue_processing_hook()
    assert calls == [1, 1, 1]
