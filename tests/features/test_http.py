"""The shared retrying HTTP client against a local server (no network, no real sleeping)."""

from __future__ import annotations

import socket
import time

import pytest
from werkzeug import Response

from levercast.features.errors import ConfigError, MarketUnavailable
from levercast.features.http import HttpClient, HttpSettings, redact


def _client(server, sleeps, **settings):
    defaults = {"timeout_secs": 2.0, "max_retries": 2, "backoff_secs": 0.1}
    return HttpClient(
        HttpSettings(base_url=server.url_for("/"), **{**defaults, **settings}),
        sleep=sleeps.append,
        seed=0,
        name="test",
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_success_returns_json(httpserver):
    httpserver.expect_request("/ok", query_string="a=1").respond_with_json({"x": 1})
    sleeps: list[float] = []
    assert _client(httpserver, sleeps).get_json("/ok", {"a": 1}) == {"x": 1}
    assert sleeps == []


def test_429_honours_retry_after(httpserver):
    httpserver.expect_oneshot_request("/r").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "3"}
    )
    httpserver.expect_request("/r").respond_with_json([1])
    sleeps: list[float] = []
    assert _client(httpserver, sleeps, max_backoff_secs=30).get_json("/r") == [1]
    assert sleeps == [3.0]
    assert len(httpserver.log) == 2


def test_retry_after_is_capped_by_max_backoff(httpserver):
    httpserver.expect_oneshot_request("/r").respond_with_data(
        "", status=429, headers={"Retry-After": "600"}
    )
    httpserver.expect_request("/r").respond_with_json([1])
    sleeps: list[float] = []
    _client(httpserver, sleeps, max_backoff_secs=5).get_json("/r")
    assert sleeps == [5.0]


def test_5xx_is_retried_then_fails_with_one_clear_line(httpserver):
    httpserver.expect_request("/down").respond_with_data("oops", status=503)
    sleeps: list[float] = []
    with pytest.raises(
        MarketUnavailable, match=r"test GET /down failed after 3 attempt\(s\): HTTP 503"
    ):
        _client(httpserver, sleeps).get("/down")
    assert len(httpserver.log) == 3
    assert len(sleeps) == 2  # no sleep after the last attempt
    assert all(0 <= s <= 0.1 * 2**i for i, s in enumerate(sleeps))


def test_5xx_then_success(httpserver):
    httpserver.expect_oneshot_request("/flaky").respond_with_data("", status=502)
    httpserver.expect_request("/flaky").respond_with_json({"ok": True})
    sleeps: list[float] = []
    assert _client(httpserver, sleeps).get_json("/flaky") == {"ok": True}
    assert len(sleeps) == 1


def test_timeout_is_retried_then_fails(httpserver):
    def slow(_request):
        time.sleep(0.3)
        return Response("[]", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    sleeps: list[float] = []
    client = _client(httpserver, sleeps, timeout_secs=0.05, max_retries=1)
    with pytest.raises(
        MarketUnavailable, match=r"failed after 2 attempt\(s\): timed out after 0.05 s"
    ):
        client.get("/slow")
    deadline = time.monotonic() + 3
    while len(httpserver.log) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # let the server finish the abandoned requests before the next test
    assert len(httpserver.log) == 2


def test_connection_refused_fails_fast():
    sleeps: list[float] = []
    settings = HttpSettings(
        base_url=f"http://127.0.0.1:{_closed_port()}", max_retries=4, max_connect_retries=1
    )
    client = HttpClient(settings, sleep=sleeps.append, name="offline")
    started = time.monotonic()
    with pytest.raises(
        MarketUnavailable, match=r"offline GET /x failed after 2 attempt\(s\): conn"
    ):
        client.get("/x")
    assert client.requests_made == 2
    assert len(sleeps) == 1
    assert time.monotonic() - started < 5


def test_truncated_json_is_retried_then_fails(httpserver):
    httpserver.expect_request("/t").respond_with_data('{"list": [1, 2', content_type="text/json")
    sleeps: list[float] = []
    with pytest.raises(
        MarketUnavailable, match=r"test GET /t failed after 3 attempt\(s\): malformed JSON"
    ):
        _client(httpserver, sleeps).get_json("/t")
    assert len(httpserver.log) == 3


def test_truncated_json_then_good_body(httpserver):
    httpserver.expect_oneshot_request("/t").respond_with_data('[{"a": 1', content_type="text/json")
    httpserver.expect_request("/t").respond_with_json([{"a": 1}])
    sleeps: list[float] = []
    assert _client(httpserver, sleeps).get_json("/t") == [{"a": 1}]


@pytest.mark.parametrize("status", [400, 403, 404, 418])
def test_4xx_fails_at_once(httpserver, status):
    httpserver.expect_request("/bad").respond_with_data("invalid symbol", status=status)
    sleeps: list[float] = []
    with pytest.raises(MarketUnavailable, match=rf"failed: HTTP {status}: invalid symbol"):
        _client(httpserver, sleeps).get("/bad")
    assert len(httpserver.log) == 1
    assert sleeps == []


def test_secrets_are_redacted_from_messages(httpserver):
    httpserver.expect_request("/k").respond_with_data(
        "bad api_key=SEKRET123 token TOK456", status=401
    )
    sleeps: list[float] = []
    client = HttpClient(
        HttpSettings(base_url=httpserver.url_for("/")),
        sleep=sleeps.append,
        headers={"Authorization": "TOK456"},
    )
    with pytest.raises(MarketUnavailable) as info:
        client.get("/k", {"api_key": "SEKRET123", "a": "BTC"})
    message = str(info.value)
    assert "SEKRET123" not in message and "TOK456" not in message
    assert "'api_key': '***'" in message and "'a': 'BTC'" in message


def test_secret_in_path_query_is_not_shown(httpserver):
    httpserver.expect_request("/k").respond_with_data("", status=500)
    sleeps: list[float] = []
    with pytest.raises(MarketUnavailable) as info:
        _client(httpserver, sleeps, max_retries=0).get("/k?api_key=SEKRET123")
    assert "SEKRET123" not in str(info.value)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"api_key": "x", "symbol": "BTCUSDT"}, {"api_key": "***", "symbol": "BTCUSDT"}),
        ({"Token": "x"}, {"Token": "***"}),
        (None, {}),
    ],
    ids=["api_key", "case-insensitive", "none"],
)
def test_redact(params, expected):
    assert redact(params) == expected


def test_min_interval_rate_limit(httpserver):
    httpserver.expect_request("/p").respond_with_json([])
    sleeps: list[float] = []
    client = HttpClient(
        HttpSettings(base_url=httpserver.url_for("/"), min_interval_secs=1.5),
        sleep=sleeps.append,
        clock=lambda: 100.0,  # frozen clock: every call comes "at once"
    )
    client.get_json("/p")
    client.get_json("/p")
    client.get_json("/p")
    assert sleeps == [1.5, 1.5]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "ftp://x"}, "base_url must start with http"),
        ({"base_url": "http://x", "timeout_secs": 0}, "timeout_secs must be positive"),
        ({"base_url": "http://x", "max_retries": -1}, "must be >= 0"),
        ({"base_url": "http://x", "max_connect_retries": -1}, "must be >= 0"),
    ],
    ids=["scheme", "timeout", "retries", "connect-retries"],
)
def test_settings_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        HttpSettings(**kwargs)
