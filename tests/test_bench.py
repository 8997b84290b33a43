"""bench/scim_load.py against this project's SCIM API on a live server, at a tiny size:
every phase passes without an error, and the CPU accounting reads real numbers."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "scim_load.py"


@pytest.fixture(scope="module")
def scim_load():
    spec = importlib.util.spec_from_file_location("scim_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["scim_load"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("scim_load", None)


def test_every_phase_runs_without_errors_against_this_server(scim_load, live_server, scim_token, on_postgres):
    phases = scim_load.run_load(
        f"{live_server.url}/api/scim/v2",
        scim_token,
        users=12,
        # The test database on SQLite is in memory with a shared cache, where a second
        # writer fails at once ("table is locked") instead of waiting: one client there.
        concurrency=2 if on_postgres else 1,
        groups=2,
        group_size=5,
        batch=3,
        lookups=6,
        server_pids=[os.getpid()],  # the live server is a thread of this process
    )

    summaries = [phase.summary() for phase in phases]
    assert [s["phase"] for s in summaries] == [
        "create users",
        "userName eq lookup",
        "page users (count=100)",
        "push group members",
        "delete everything",
    ]
    assert [s["errors"] for s in summaries] == [0] * 5
    # One page more than the users fill (others may be there); a group is a POST, then PATCHes.
    assert [s["requests"] for s in summaries] == [12, 6, 1 + 1, 2 * (1 + 2), 2 + 12]
    assert summaries[3]["members_per_s"] > 0
    # /proc counts CPU in clock ticks (10 ms), so a short phase may read 0; the run may not.
    for where in ("host", "server", "client"):
        assert all(summary[f"{where}_cpu_ms"] >= 0 for summary in summaries), where
        assert sum(summary[f"{where}_cpu_ms"] * summary["requests"] for summary in summaries) > 0, where


def test_cpu_of_processes_that_are_gone_or_not_given(scim_load):
    assert scim_load.process_seconds([]) is None
    assert scim_load.process_seconds([2**22 + 12345]) == 0  # beyond pid_max: no such process
    assert scim_load.process_seconds([os.getpid()]) > 0
    assert scim_load.host_busy_seconds() > 0


def test_the_table_prints_cpu_per_request_and_a_dash_where_unmeasured(scim_load, capsys):
    phase = scim_load.Phase("create users", latencies=[0.01, 0.02], elapsed=0.5, cpu_ms={"host": 3.5, "client": 1.25})

    scim_load.print_table("server", [phase])

    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[-3:] == ["3.5", "-", "1.25"]
