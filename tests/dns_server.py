"""A real DNS server for tests, on UDP 127.0.0.1 at a free port, answering TXT queries
from a dict the test controls (dnslib). Domain verification is tested against it over
the wire rather than with a mocked resolver.

    with TxtDnsServer({"acme.test": ["optiid-domain-verification=abc"]}) as server:
        settings.SSO_DNS_NAMESERVERS = [server.nameserver]   # "127.0.0.1:<port>"

A name in ``records`` answers its TXT values (an empty list: the name exists with no TXT
record, NOERROR and no answer); any other name is NXDOMAIN. ``records`` may be changed
while the server runs. ``SilentUdpPort`` is a port where nothing ever answers.
"""

from __future__ import annotations

import socket

import pytest
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

# A TXT character-string holds at most 255 bytes (RFC 1035 §3.3.14): longer values are
# published as several strings, which the verifier must join.
_MAX_STRING = 255


class TxtResolver(BaseResolver):
    def __init__(self, records: dict[str, list[str]]):
        self.records = records
        self.queries: list[str] = []

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.queries.append(name)
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype == QTYPE.TXT:
            for value in self.records[name]:
                raw = value.encode()
                chunks = [raw[i : i + _MAX_STRING] for i in range(0, len(raw), _MAX_STRING)] or [b""]
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        return reply


class TxtDnsServer:
    def __init__(self, records: dict[str, list[str]] | None = None):
        self.resolver = TxtResolver(records if records is not None else {})
        # Port 0: the system picks a free port. The logger is muted (it prints every query).
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        self.server = DNSServer(self.resolver, address="127.0.0.1", port=0, logger=quiet)

    @property
    def records(self) -> dict[str, list[str]]:
        return self.resolver.records

    @property
    def queries(self) -> list[str]:
        """The names asked so far, lower-cased, in order."""
        return self.resolver.queries

    @property
    def nameserver(self) -> str:
        host, port = self.server.server.server_address
        return f"{host}:{port}"

    def __enter__(self) -> TxtDnsServer:
        self.server.start_thread()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
        self.server.server.server_close()


class SilentUdpPort:
    """A bound UDP port that never answers: queries sent there time out, as with a DNS
    server that is down behind a firewall dropping packets."""

    def __enter__(self) -> SilentUdpPort:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        return self

    @property
    def nameserver(self) -> str:
        host, port = self.socket.getsockname()
        return f"{host}:{port}"

    def __exit__(self, *exc) -> None:
        self.socket.close()


@pytest.fixture(name="dns_server")
def fixture_dns_server(settings):
    """A running TxtDnsServer that domain verification queries (SSO_DNS_NAMESERVERS),
    with a one-second timeout so a failing test does not hang."""
    with TxtDnsServer() as server:
        settings.SSO_DNS_NAMESERVERS = [server.nameserver]
        settings.SSO_DNS_TIMEOUT_SECONDS = 1
        yield server


@pytest.fixture(name="silent_dns")
def fixture_silent_dns(settings):
    """SSO_DNS_NAMESERVERS pointing at a port where nothing answers, with a one-second timeout."""
    with SilentUdpPort() as port:
        settings.SSO_DNS_NAMESERVERS = [port.nameserver]
        settings.SSO_DNS_TIMEOUT_SECONDS = 1
        yield port
