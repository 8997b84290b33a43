"""Commits of one process share one published processing task per short window, and
the trailing publish means no commit is left without one."""

import threading
import time

import pytest

from admincenter.audit import enqueue
from admincenter.shared_redis import shared_redis


@pytest.fixture
def publishes(monkeypatch):
    calls = []
    lock = threading.Lock()

    def record():
        with lock:
            calls.append(time.monotonic())

    monkeypatch.setattr(enqueue, "ENQUEUE_COALESCE_SECONDS", 0.2)
    monkeypatch.setattr(enqueue, "_eager", lambda: False)
    return calls, enqueue._Coalescer(publish=record)


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
    monkeypatch.setattr(enqueue, "_eager", lambda: True)
    coalescer = enqueue._Coalescer(publish=lambda: calls.append(1))
    for _ in range(3):
        coalescer.request()
    assert calls == [1, 1, 1]


def test_the_commit_hook_goes_through_the_process_coalescer(monkeypatch):
    calls = []
    monkeypatch.setattr(enqueue, "coalescer", enqueue._Coalescer(publish=lambda: calls.append(1)))
    monkeypatch.setattr(enqueue, "_eager", lambda: True)
    enqueue._enqueue_processing_hook()
    assert calls == [1]


def test_processes_sharing_the_deployment_window_publish_once_and_leave_no_commit_behind(monkeypatch):
    """Two gunicorn workers: while one holds the shared window the other keeps its commit
    pending and publishes at its trailing edge, after the window has passed."""
    calls = []
    lock = threading.Lock()
    window = {"until": 0.0}

    def claim():  # what SET NX EX does in Redis, with a 0.3 s window
        with lock:
            now = time.monotonic()
            if now < window["until"]:
                return False
            window["until"] = now + 0.3
            return True

    def publisher(name):
        def record():
            with lock:
                calls.append((name, time.monotonic()))

        return record

    monkeypatch.setattr(enqueue, "ENQUEUE_COALESCE_SECONDS", 0.2)
    monkeypatch.setattr(enqueue, "_eager", lambda: False)
    first = enqueue._Coalescer(publish=publisher("first"), claim=claim)
    second = enqueue._Coalescer(publish=publisher("second"), claim=claim)

    started = time.monotonic()
    first.request()
    second.request()  # inside first's window: deferred, not dropped
    assert [name for name, _ in calls] == ["first"]
    time.sleep(0.9)
    assert [name for name, _ in calls] == ["first", "second"]
    assert calls[1][1] - started >= 0.3  # after the shared window
    time.sleep(0.5)
    assert len(calls) == 2  # nothing left pending


def test_the_deployment_window_is_a_redis_key_and_redis_trouble_means_publish(monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    class FakeRedis:
        def __init__(self):
            self.keys = {}

        def set(self, key, value, nx, ex):
            assert (nx, ex) == (True, enqueue.ENQUEUE_DEPLOYMENT_WINDOW_SECONDS)
            if key in self.keys:
                return None
            self.keys[key] = value
            return True

    fake = FakeRedis()
    monkeypatch.setattr(enqueue, "shared_redis", lambda: fake)
    assert enqueue._claim_deployment_window() is True
    assert enqueue._claim_deployment_window() is False  # another process holds it

    class DownRedis:
        def set(self, *args, **kwargs):
            raise RedisConnectionError("connection refused")

    monkeypatch.setattr(enqueue, "shared_redis", lambda: DownRedis())
    assert enqueue._claim_deployment_window() is True
    monkeypatch.setattr(enqueue, "shared_redis", lambda: None)  # no REDIS_URL
    assert enqueue._claim_deployment_window() is True


@pytest.mark.redis
def test_the_deployment_window_on_real_redis_admits_one_process_per_second():
    client = shared_redis()
    client.delete(enqueue._WINDOW_KEY)
    assert enqueue._claim_deployment_window() is True
    assert enqueue._claim_deployment_window() is False
    ttl = client.pttl(enqueue._WINDOW_KEY)
    assert 0 < ttl <= enqueue.ENQUEUE_DEPLOYMENT_WINDOW_SECONDS * 1000
    client.delete(enqueue._WINDOW_KEY)
