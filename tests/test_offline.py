"""The suite never leaves the machine: NCBI's hosts (named in fixtures as text) cannot be reached."""

from __future__ import annotations

import socket

import httpx
import pytest


@pytest.mark.parametrize("url", ["https://eutils.ncbi.nlm.nih.gov/entrez/eutils/esearch.fcgi", "https://pubmed.ncbi.nlm.nih.gov/7/"])
def test_ncbi_hosts_are_unreachable_from_tests(url):
    with pytest.raises(httpx.ConnectError, match="loopback only"):
        httpx.get(url, timeout=1)


def test_a_raw_socket_to_a_public_address_is_refused():
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError, match="loopback only"):
        sock.connect(("130.14.29.110", 443))


def test_loopback_still_connects():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
