#!/usr/bin/env python3
"""SCIM load benchmark: the provisioning traffic of an IdP, against any SCIM 2.0 server.

    python bench/scim_load.py URL TOKEN [--users 10000] [--concurrency 8]
                              [--compare URL2 TOKEN2] [--watch-pids PID,PID]
                              [--compare-pids PID,PID]

Phases, each timed on its own: create N users (POST /Users), look users up with
``userName eq`` (what every IdP does before a write), page through all users with
count=100, create 20 groups and push 500 members into each in PATCH batches of 100,
then delete everything. Prints requests/s, p50/p95/p99 latency and errors per phase.
``--compare`` runs the same load against a second server (for example the in-memory
reference server ``scim2-server``) so the ratio comes from one run on one machine.
``--watch-pids`` (and ``--compare-pids`` for the second server) name the server's
processes: their resident memory is printed after the run, and their CPU time per
request in each phase, beside the whole host's and this client's (Linux /proc). On a
saturated host, where a server's CPU goes says more than its requests/s.

Standard library only; one keep-alive HTTP connection per client thread. Traffic goes
only to the URLs given (run it against servers on this machine).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # /proc counts CPU in these


class Client:
    """A SCIM client with one persistent connection per thread."""

    def __init__(self, base_url: str, token: str):
        parts = urlsplit(base_url.rstrip("/"))
        self.scheme, self.netloc, self.prefix = parts.scheme, parts.netloc, parts.path
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/scim+json",
            "Content-Type": "application/scim+json",
            "User-Agent": "optiid-bench/1.0",
        }
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.netloc, timeout=60)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body=None) -> tuple[int, dict | None, float]:
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            conn = self._connection()
            started = time.perf_counter()
            try:
                conn.request(method, self.prefix + path, body=payload, headers=self.headers)
                response = conn.getresponse()
                raw = response.read()
                elapsed = time.perf_counter() - started
                data = json.loads(raw) if raw else None
                return response.status, data, elapsed
            except (http.client.HTTPException, ConnectionError, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    units: int = 0  # e.g. members added, when that is the figure that matters
    unit_name: str = ""
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per request: host, server, client
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, latency: float, expected: tuple[int, ...], detail: str = "") -> None:
        with self._lock:
            self.latencies.append(latency)
            if status not in expected:
                self.errors += 1
                if len(self.error_samples) < 3:
                    self.error_samples.append(f"{status} {detail[:200]}")

    def summary(self) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            if not lat:
                return 0.0
            return lat[min(len(lat) - 1, round(p / 100 * (len(lat) - 1)))] * 1000

        result = {
            "phase": self.name,
            "requests": len(lat),
            "errors": self.errors,
            "seconds": round(self.elapsed, 2),
            "req_per_s": round(len(lat) / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": round(pct(50), 1),
            "p95_ms": round(pct(95), 1),
            "p99_ms": round(pct(99), 1),
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else 0.0,
        }
        result.update({f"{where}_cpu_ms": ms for where, ms in self.cpu_ms.items()})
        if self.unit_name:
            result[f"{self.unit_name}_per_s"] = round(self.units / self.elapsed, 1) if self.elapsed else 0.0
        return result


def host_busy_seconds() -> float | None:
    """CPU time all cores spent on anything but idling, from /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _CLOCK_TICKS


def process_seconds(pids: list[int]) -> float | None:
    """User + system CPU time of the given processes (those still running)."""
    if not pids:
        return None
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _CLOCK_TICKS


def _cpu_snapshot(server_pids: list[int]) -> dict[str, float | None]:
    return {"host": host_busy_seconds(), "server": process_seconds(server_pids), "client": time.process_time()}


def _run(pool: ThreadPoolExecutor, phase: Phase, jobs, server_pids: list[int]) -> list:
    before = _cpu_snapshot(server_pids)
    started = time.perf_counter()
    results = list(pool.map(lambda job: job(), jobs))
    phase.elapsed = time.perf_counter() - started
    after = _cpu_snapshot(server_pids)
    requests = max(len(phase.latencies), 1)  # a push job sends several requests
    phase.cpu_ms = {
        where: round((after[where] - before[where]) / requests * 1000, 2)
        for where in before
        if before[where] is not None and after[where] is not None
    }
    return results


def run_load(base_url: str, token: str, *, users: int, concurrency: int, groups: int, group_size: int,
             batch: int, lookups: int, server_pids: list[int]) -> list[Phase]:  # fmt: skip
    client = Client(base_url, token)
    run = uuid.uuid4().hex[:8]
    emails = [f"bench-{run}-{i}@bench.example.com" for i in range(users)]
    phases = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        # Warm the connections and check the credentials before timing anything.
        status, _, _ = client.request("GET", "/Users?count=1")
        if status != 200:
            raise SystemExit(f"{base_url}: GET /Users answered {status}; check the URL and the token.")

        create = Phase("create users")

        def create_user(i):
            def job():
                body = {
                    "schemas": [USER_URN],
                    "userName": emails[i],
                    "externalId": f"ext-{run}-{i}",
                    "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
                    "emails": [{"value": emails[i], "type": "work", "primary": True}],
                    "active": True,
                }
                status, data, latency = client.request("POST", "/Users", body)
                create.record(status, latency, (201,), json.dumps(data))
                return data.get("id") if status == 201 and data else None

            return job

        ids = [i for i in _run(pool, create, [create_user(i) for i in range(users)], server_pids) if i]
        phases.append(create)

        lookup = Phase("userName eq lookup")
        step = max(1, users // max(1, lookups))

        def lookup_user(email):
            def job():
                query = quote(f'userName eq "{email}"')
                status, data, latency = client.request("GET", f"/Users?filter={query}")
                found = status == 200 and data and data.get("totalResults") == 1
                lookup.record(200 if found else status or 599, latency, (200,), json.dumps(data))

            return job

        _run(pool, lookup, [lookup_user(emails[i]) for i in range(0, users, step)][:lookups], server_pids)
        phases.append(lookup)

        paging = Phase("page users (count=100)")
        total_pages = (users + 99) // 100 + 1

        def page(start):
            def job():
                status, data, latency = client.request("GET", f"/Users?startIndex={start}&count=100")
                paging.record(status, latency, (200,), json.dumps(data)[:200])

            return job

        _run(pool, paging, [page(1 + 100 * p) for p in range(total_pages)], server_pids)
        phases.append(paging)

        push = Phase("push group members", unit_name="members")
        member_ids = ids[: min(group_size, len(ids))]

        def push_group(g):
            def job():
                body = {"schemas": [GROUP_URN], "displayName": f"Opti_SCIM_bench_{run}_{g}", "members": []}
                status, data, latency = client.request("POST", "/Groups", body)
                push.record(status, latency, (201,), json.dumps(data))
                if status != 201:
                    return None
                gid = data["id"]
                for offset in range(0, len(member_ids), batch):
                    chunk = member_ids[offset : offset + batch]
                    patch = {
                        "schemas": [PATCH_URN],
                        "Operations": [{"op": "add", "path": "members", "value": [{"value": m} for m in chunk]}],
                    }
                    status, data, latency = client.request("PATCH", f"/Groups/{gid}?excludedAttributes=members", patch)
                    push.record(status, latency, (200, 204), json.dumps(data)[:200] if data else "")
                    if status in (200, 204):
                        with push._lock:
                            push.units += len(chunk)
                return gid

            return job

        group_ids = [g for g in _run(pool, push, [push_group(g) for g in range(groups)], server_pids) if g]
        phases.append(push)

        delete = Phase("delete everything")

        def remove(kind, rid):
            def job():
                status, _, latency = client.request("DELETE", f"/{kind}/{rid}")
                delete.record(status, latency, (204,), "")

            return job

        jobs = [remove("Groups", g) for g in group_ids] + [remove("Users", u) for u in ids]
        _run(pool, delete, jobs, server_pids)
        phases.append(delete)
    return phases


def print_table(title: str, phases: list[Phase]) -> None:
    print(f"\n== {title}")
    header = f"{'phase':<26}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    print(header + "   CPU ms/request: host server client")
    for phase in phases:
        s = phase.summary()
        cpu = "".join(f"{phase.cpu_ms.get(where, '-'):>7}" for where in ("host", "server", "client"))
        extra = f"  {phase.unit_name}/s={s[phase.unit_name + '_per_s']}" if phase.unit_name else ""
        print(
            f"{s['phase']:<26}{s['requests']:>9}{s['errors']:>8}{s['req_per_s']:>9}"
            f"{s['p50_ms']:>9}{s['p95_ms']:>9}{s['p99_ms']:>9}{' ' * 17}{cpu}{extra}"
        )
        for sample in phase.error_samples:
            print(f"    error: {sample}")


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _pids(text: str) -> list[int]:
    return [int(p) for p in text.split(",") if p.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="SCIM base URL, e.g. http://127.0.0.1:8000/api/scim/v2")
    parser.add_argument("token", help="bearer token")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--group-size", type=int, default=500)
    parser.add_argument("--batch", type=int, default=100, help="members per PATCH")
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--compare", nargs=2, metavar=("URL", "TOKEN"), help="a second server to run the same load")
    parser.add_argument("--watch-pids", default="", help="comma-separated PIDs of the server: RSS and CPU")
    parser.add_argument("--compare-pids", default="", help="comma-separated PIDs of the --compare server")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)

    options = dict(
        users=args.users,
        concurrency=args.concurrency,
        groups=args.groups,
        group_size=args.group_size,
        batch=args.batch,
        lookups=args.lookups,
    )
    print(f"SCIM load: {args.users} users, {args.groups} groups x {args.group_size} members, "
          f"PATCH batches of {args.batch}, concurrency {args.concurrency}")  # fmt: skip
    pids = _pids(args.watch_pids)
    results = {args.url: run_load(args.url, args.token, server_pids=pids, **options)}
    print_table(args.url, results[args.url])
    if args.compare:
        url, token = args.compare
        results[url] = run_load(url, token, server_pids=_pids(args.compare_pids), **options)
        print_table(url, results[url])
        print(f"\n== ratio {args.url} / {url} (req/s; members/s for the push phase)")
        for mine, theirs in zip(results[args.url], results[url], strict=True):
            a, b = mine.summary(), theirs.summary()
            key = f"{mine.unit_name}_per_s" if mine.unit_name else "req_per_s"
            ratio = a[key] / b[key] if b[key] else float("inf")
            print(f"{mine.name:<26}{a[key]:>10} vs {b[key]:>10}  x{ratio:.2f}")
    for pid in pids + _pids(args.compare_pids):
        size = rss_mb(pid)
        print(f"RSS of pid {pid}: {size:.0f} MB" if size is not None else f"pid {pid}: not running")
    if args.json:
        print(json.dumps({url: [p.summary() for p in phases] for url, phases in results.items()}, indent=2))
    errors = sum(p.errors for phases in results.values() for p in phases)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
