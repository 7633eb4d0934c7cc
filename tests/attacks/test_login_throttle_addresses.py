"""The 20-failures-per-address lock counts an IPv6 client by its /64. One IPv6 host is usually given a whole
/64 (SLAAC, privacy addresses, any VPS), so it can send each try from a new address: twenty failures from
2001:db8::1 ... ::14 and the twenty-first try from ::99 was let through, and a password spray across every
user name never met the address lock. An IPv4-mapped address (::ffff:10.0.0.9, what a dual-stack socket
reports) counts as its IPv4 address. Found by an attack on the login."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import SteppingClock
from tests.webui.test_login_security import login_from
from webui import create_app
from workflows.logins import throttle_address
from workflows.settings import Settings, SettingsError


def test_twenty_failures_from_one_ipv6_64_lock_every_address_in_it(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    browser = app.test_client()
    for n in range(20):  # a new address and, every fifth, a new name: neither lock on single values holds
        assert login_from(browser, f"guess{n % 4}-{n}", "wrong", f"2001:db8:0:7::{n + 1:x}") == 401
    assert login_from(browser, "analyst1", "demo", "2001:db8:0:7:ffff::99") == 429
    assert login_from(app.test_client(), "analyst1", "demo", "2001:db8:0:8::1") == 302  # the next /64


def test_ipv4_mapped_addresses_count_with_their_ipv4_address(app: Flask, demo_tokens: dict[str, str]) -> None:
    browser = app.test_client()
    for n in range(10):
        assert login_from(browser, f"guess{n}", "wrong", "10.0.0.9") == 401
        assert login_from(browser, f"other{n}", "wrong", "::ffff:10.0.0.9") == 401
    assert login_from(browser, "analyst1", "demo", "10.0.0.9") == 429


def test_what_the_throttle_counts() -> None:
    assert throttle_address("2001:DB8::1") == throttle_address("2001:db8::ffff:1") == "2001:db8::/64"
    assert throttle_address("fe80::1%eth0") == "fe80::/64"
    assert throttle_address("::ffff:192.0.2.1") == "192.0.2.1"
    assert throttle_address("192.0.2.1") == "192.0.2.1"
    assert throttle_address("") == ""
    assert throttle_address("not-an-address" * 10) == ("not-an-address" * 10)[:64]


def test_a_forwarded_address_with_a_port_counts_without_it(
    settings: Settings, app_clock: SteppingClock, demo_tokens: dict[str, str]
) -> None:
    """Some load balancers (Azure Application Gateway, for one) forward "client:port"; the client picks a
    new source port for every connection, so each try counted as a new address."""
    app = create_app(settings.replace("web", behind_proxy="true"), clock=app_clock)
    try:
        browser = app.test_client()
        for n in range(20):
            browser.environ_base["HTTP_X_FORWARDED_FOR"] = f"203.0.113.5:{40000 + n}"
            assert login_from(browser, f"guess{n % 4}-{n}", "wrong", "10.0.0.1") == 401
        browser.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.5:50000"
        assert login_from(browser, "analyst1", "demo", "10.0.0.1") == 429
        browser.environ_base["HTTP_X_FORWARDED_FOR"] = "[2001:db8:0:7::1]:50001"
        for n in range(20):
            assert login_from(browser, f"other{n % 4}-{n}", "wrong", "10.0.0.1") == 401
        browser.environ_base["HTTP_X_FORWARDED_FOR"] = "2001:db8:0:7::2"
        assert login_from(browser, "analyst1", "demo", "10.0.0.1") == 429
    finally:
        app.extensions["creditflow"].engine.dispose()


def test_ports_are_dropped_only_from_what_is_an_address_with_a_port() -> None:
    assert throttle_address("203.0.113.5:443") == "203.0.113.5"
    assert throttle_address("[2001:db8::1]:443") == "2001:db8::/64"
    assert throttle_address("[2001:db8::1]") == "2001:db8::/64"
    assert throttle_address("2001:db8::443") == "2001:db8::/64"  # no brackets: the last group is no port
    assert throttle_address("proxy.example:443") == "proxy.example:443"


def test_behind_two_proxies_the_throttle_counts_the_client_not_the_outer_proxy(
    settings: Settings, app_clock: SteppingClock, demo_tokens: dict[str, str]
) -> None:
    """A CDN or load balancer in front of nginx: with one trusted hop every client was the CDN's address,
    so anyone's 20 failures locked every user out; `behind_proxy = "2"` was refused at startup."""
    app = create_app(settings.replace("web", behind_proxy="2"), clock=app_clock)
    try:
        attacker = app.test_client()  # what the client sends first is its own: a new lie on every try
        for n in range(20):
            attacker.environ_base["HTTP_X_FORWARDED_FOR"] = f"192.0.2.{n}, 198.51.100.7, 203.0.113.1"
            assert login_from(attacker, f"guess{n % 4}-{n}", "wrong", "10.0.0.1") == 401
        attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "192.0.2.99, 198.51.100.7, 203.0.113.1"
        assert login_from(attacker, "analyst1", "demo", "10.0.0.1") == 429
        colleague = app.test_client()  # another client through the same CDN and nginx
        colleague.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.8, 203.0.113.1"
        assert login_from(colleague, "analyst1", "demo", "10.0.0.1") == 302
    finally:
        app.extensions["creditflow"].engine.dispose()


@pytest.mark.parametrize("value", ["0", "10", "-1", "two"])
def test_a_bad_proxy_count_fails_at_startup(settings: Settings, value: str) -> None:
    with pytest.raises(SettingsError, match=r"\[web\] behind_proxy must be .* number of proxies"):
        create_app(settings.replace("web", behind_proxy=value))
