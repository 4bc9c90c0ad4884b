"""A network namespace joined to this one by a veth pair: a second machine for end-to-end tests.

The namespace gets one end of the pair, this (root) namespace keeps the other, and the two ends share a
private /30 out of 10.213.0.0/16. A process started through :meth:`VethNamespace.launcher` sees only the
namespace's loopback and its end of the pair, so a caller in this namespace reaches it from a real,
non-loopback address, and it reaches this namespace only at :attr:`VethNamespace.outer_address`.

Setting it up needs root and ``ip`` (iproute2). Where the machine refuses, :func:`unavailable` skips the
test with the reason, or fails it when ``DURABLE_EXT_REQUIRE_NETNS`` is set (as CI does).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

import pytest

REQUIRE_SETTING = "DURABLE_EXT_REQUIRE_NETNS"
POOL = ipaddress.IPv4Network("10.213.0.0/16")
SUBNETS_TRIED = 32
IP_TIMEOUT_S = 10.0


class NetnsRefused(Exception):
    """This machine does not let the test make a network namespace; the message says why."""


@dataclass(frozen=True)
class VethNamespace:
    name: str
    outer_link: str
    inner_link: str
    outer_address: str
    """This namespace's end of the pair: where processes in the namespace reach this side."""
    inner_address: str
    """The namespace's end of the pair: where this side reaches processes in the namespace."""

    @property
    def launcher(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name]


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test for ``reason``, or fail it when the environment demands network namespaces."""
    if os.environ.get(REQUIRE_SETTING, "").strip() not in ("", "0"):
        pytest.fail(f"{reason} ({REQUIRE_SETTING} is set, so this test must run)")
    pytest.skip(reason)


def refusal() -> str | None:
    """Why this machine cannot make network namespaces at all, before trying; None when it may."""
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed: run `make netns` (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root: run the tests as root (or in a privileged container)"
    return None


@contextmanager
def veth_namespace(prefix: str = "dxk") -> Iterator[VethNamespace]:
    """A namespace and veth pair that exist for the ``with`` block, removed after it even on failure.

    Raises :class:`NetnsRefused` with ``ip``'s own message when the kernel or the sandbox says no.
    """
    reason = refusal()
    if reason is not None:
        raise NetnsRefused(reason)
    tag = f"{prefix}{os.getpid()}{secrets.token_hex(1)}"  # at most 3 + 7 + 2 characters
    outer, inner = _free_subnet()
    namespace = VethNamespace(tag, f"{tag}o", f"{tag}i", str(outer), str(inner))
    try:
        _build(namespace)
        yield namespace
    finally:
        _remove(namespace)


def _build(ns: VethNamespace) -> None:
    _ip("netns", "add", ns.name)
    _ip("link", "add", ns.outer_link, "type", "veth", "peer", "name", ns.inner_link)
    _ip("link", "set", ns.inner_link, "netns", ns.name)
    _ip("addr", "add", f"{ns.outer_address}/30", "dev", ns.outer_link)
    _ip("link", "set", ns.outer_link, "up")
    _ip("-n", ns.name, "addr", "add", f"{ns.inner_address}/30", "dev", ns.inner_link)
    _ip("-n", ns.name, "link", "set", ns.inner_link, "up")
    _ip("-n", ns.name, "link", "set", "lo", "up")


def _remove(ns: VethNamespace) -> None:
    # Deleting one end of a veth pair deletes both; deleting the namespace also drops its end. What was
    # never made (a build that stopped half way) is not an error; anything else left behind is.
    try:
        _ip("link", "del", ns.outer_link, quiet_if_missing=True)
    finally:
        _ip("netns", "del", ns.name, quiet_if_missing=True)


def _free_subnet() -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """The two host addresses of a /30 in :data:`POOL` that no interface here uses, chosen by the pid."""
    used = _assigned_networks()
    subnets = list(POOL.subnets(new_prefix=30))
    first = os.getpid() % len(subnets)
    for offset in range(SUBNETS_TRIED):
        subnet = subnets[(first + offset) % len(subnets)]
        if not any(subnet.overlaps(net) for net in used):
            outer, inner = subnet.hosts()
            return outer, inner
    raise NetnsRefused(f"no free /30 in {POOL} after {SUBNETS_TRIED} tries: remove stale test interfaces")


def _assigned_networks() -> list[ipaddress.IPv4Network]:
    listing = _ip("-o", "-4", "addr", "show")
    networks = []
    for line in listing.splitlines():
        fields = line.split()
        if "inet" in fields:
            networks.append(ipaddress.IPv4Interface(fields[fields.index("inet") + 1]).network)
    return networks


def _ip(*args: str, quiet_if_missing: bool = False) -> str:
    try:
        done = subprocess.run(
            ["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsRefused(f"`ip {' '.join(args)}` could not run: {exc}") from exc
    if done.returncode != 0:
        message = done.stderr.strip() or f"exit code {done.returncode}"
        missing = "Cannot find device" in message or "No such file" in message
        if not (quiet_if_missing and missing):
            raise NetnsRefused(f"`ip {' '.join(args)}` was refused: {message}")
    return done.stdout
