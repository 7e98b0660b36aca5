"""The shared retrying HTTP client against a local server (no network, no real sleeping)."""

from __future__ import annotations

import email.utils
import socket
import time
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug import Response

from levercast.features.errors import ConfigError, MarketUnavailable
from levercast.features.http import (
    DEADLINE_ENV,
    TIMEOUT_ENV,
    HttpClient,
    HttpSettings,
    PageGuard,
    deadline_transport,
    httpx_client,
    redact,
    scrub,
)
from tests.faults.servers import fault_server, hang, response_bytes, trickle


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


# -- deadlines, redirects, secrets (issue 19) ---------------------------------------------------
def _fast(url: str, **settings) -> HttpClient:
    defaults = {"deadline_secs": 2.0, "timeout_secs": 1.0, "max_retries": 2, "backoff_secs": 0.05}
    return HttpClient(HttpSettings(base_url=url, **{**defaults, **settings}), seed=0, name="test")


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(trickle(0.2, headers_too=True), id="trickled-headers"),
        pytest.param(trickle(0.2, headers_too=False), id="trickled-body"),
        pytest.param(hang, id="hang"),
    ],
)
def test_total_deadline_bounds_a_slow_server(behaviour):
    with fault_server(behaviour) as server:
        client = _fast(server.url)
        started = time.monotonic()
        with pytest.raises(MarketUnavailable, match=r"test GET /x failed after \d attempt\(s\)"):
            client.get_json("/x")
        elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 3.0  # the 2 s deadline, not the trickle's minutes


def test_deadline_message_names_the_deadline():
    with fault_server(trickle(0.2, headers_too=False)) as server:
        with pytest.raises(MarketUnavailable, match="timed out: total deadline of 2 s exceeded"):
            _fast(server.url).get_bytes("/x")


def test_retry_after_past_the_deadline_fails_at_once(httpserver):
    httpserver.expect_request("/r").respond_with_data("", status=429, headers={"Retry-After": "20"})
    sleeps: list[float] = []
    client = _client(httpserver, sleeps, deadline_secs=5, max_backoff_secs=30)
    with pytest.raises(MarketUnavailable, match=r"HTTP 429 \(Retry-After: 20; waiting 20 s would"):
        client.get("/r")
    assert sleeps == [] and len(httpserver.log) == 1


def test_retry_after_http_date_is_honoured(httpserver):
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=4), usegmt=True)
    httpserver.expect_oneshot_request("/r").respond_with_data(
        "", status=503, headers={"Retry-After": when}
    )
    httpserver.expect_request("/r").respond_with_json([1])
    sleeps: list[float] = []
    assert _client(httpserver, sleeps, max_backoff_secs=30).get_json("/r") == [1]
    assert len(sleeps) == 1 and 1.5 <= sleeps[0] <= 4


def test_redirect_is_followed_and_reported(httpserver):
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": "/new"}
    )
    httpserver.expect_request("/new").respond_with_json({"ok": 1})
    client = _client(httpserver, [])
    assert client.get_json("/old") == {"ok": 1}
    assert client.last_redirects == (httpserver.url_for("/new"),)


@pytest.mark.parametrize(
    ("chain", "match"),
    [
        ({"/a": "/b", "/b": "/a"}, r"redirect loop after 2 redirect\(s\)"),
        ({"/a": "/a"}, r"redirect loop after 1 redirect\(s\)"),
        ({f"/{i}": f"/{i + 1}" for i in range(10)}, "more than 3 redirects"),
    ],
    ids=["loop", "self", "too-many"],
)
def test_redirect_loops_and_chains_fail_with_a_clear_line(httpserver, chain, match):
    start = next(iter(chain))
    for source, target in chain.items():
        httpserver.expect_request(source).respond_with_data(
            "", status=302, headers={"Location": target}
        )
    client = _client(httpserver, [], max_redirects=3)
    started = time.monotonic()
    with pytest.raises(MarketUnavailable, match=match) as info:
        client.get(start)
    assert time.monotonic() - started < 5
    assert "\n" not in str(info.value)
    assert len(httpserver.log) <= 4


def test_redirect_to_another_host_drops_the_client_headers(httpserver):
    seen: list[dict[str, str]] = []

    def record(conn, request):
        seen.append(request.headers)
        conn.sendall(response_bytes(b"[]", headers={"Content-Type": "application/json"}))

    with fault_server(record) as other:
        httpserver.expect_request("/k").respond_with_data(
            "", status=302, headers={"Location": f"{other.url}/landing?x=1"}
        )
        client = HttpClient(
            HttpSettings(base_url=httpserver.url_for("/")),
            headers={"CG-API-KEY": "CGSECRET1", "Authorization": "Bearer TOK456789"},
        )
        assert client.get_json("/k") == []
    assert httpserver.log[0][0].headers["CG-API-KEY"] == "CGSECRET1"  # the configured host
    assert "cg-api-key" not in seen[0] and "authorization" not in seen[0]


def test_absolute_url_to_another_host_gets_no_client_headers():
    seen: list[dict[str, str]] = []

    def record(conn, request):
        seen.append(request.headers)
        conn.sendall(response_bytes(b"[]"))

    with fault_server(record) as other:
        client = HttpClient(
            HttpSettings(base_url="http://127.0.0.1:9"), headers={"CG-API-KEY": "CGSECRET1"}
        )
        client.get_json(f"{other.url}/x")
    assert "cg-api-key" not in seen[0]


def test_same_host_redirect_keeps_the_headers(httpserver):
    httpserver.expect_request("/a").respond_with_data("", status=307, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_json([])
    client = HttpClient(HttpSettings(base_url=httpserver.url_for("/")), headers={"X-Key": "v1v1"})
    client.get_json("/a")
    assert httpserver.log[1][0].headers["X-Key"] == "v1v1"


def test_oversized_body_is_refused(httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    with pytest.raises(MarketUnavailable, match="body of 5000 bytes exceeds max_body_bytes=1000"):
        _client(httpserver, [], max_body_bytes=1000).get_bytes("/big")
    assert len(httpserver.log) == 1


def test_html_body_is_named(httpserver):
    httpserver.expect_request("/h").respond_with_data(
        "<!DOCTYPE html><html><body>Just a moment...</body></html>", content_type="text/html"
    )
    with pytest.raises(MarketUnavailable, match=r"an HTML page instead of JSON .*DOCTYPE"):
        _client(httpserver, []).get_json("/h")
    assert len(httpserver.log) == 3  # retried: a CDN's error page is usually transient


@pytest.mark.parametrize(
    "value",
    ["abc\ndef-secret-part", "key\r\nX-Injected: 1", " leading-space-key", "tab\tkey", "ключ-key"],
    ids=["newline", "crlf-injection", "leading-space", "tab", "non-latin1"],
)
def test_bad_header_values_are_refused_without_echoing_them(value):
    with pytest.raises(ConfigError, match="header 'CG-API-KEY' must") as info:
        HttpClient(HttpSettings(base_url="http://127.0.0.1:9"), headers={"CG-API-KEY": value})
    for part in value.split():
        assert part not in str(info.value) or len(part) < 4


def test_base_url_credentials_never_shown(httpserver):
    httpserver.expect_request("/x").respond_with_data("nope", status=403)
    url = httpserver.url_for("/").replace("http://", "http://user:hunter2pw@")
    client = HttpClient(HttpSettings(base_url=url))
    with pytest.raises(MarketUnavailable) as info:
        client.get("/x")
    assert "hunter2pw" not in str(info.value) and "hunter2pw" not in client.name


@pytest.mark.parametrize(
    ("env", "match"),
    [("0", "found '0'"), ("-3", "found '-3'"), ("soon", "found 'soon'"), ("inf", "found 'inf'")],
)
def test_deadline_from_env_is_validated(monkeypatch, env, match):
    monkeypatch.setenv(DEADLINE_ENV, env)
    with pytest.raises(ConfigError, match=rf"{DEADLINE_ENV} must be a positive number.*{match}"):
        HttpSettings(base_url="http://x")


def test_deadline_from_env_and_constructor(monkeypatch):
    monkeypatch.setenv(DEADLINE_ENV, "2.5")
    monkeypatch.setenv(TIMEOUT_ENV, "0.5")
    assert HttpSettings(base_url="http://x").deadline_secs == 2.5
    assert HttpSettings(base_url="http://x").timeout_secs == 0.5
    assert HttpSettings(base_url="http://x", deadline_secs=9).deadline_secs == 9


# -- scrub ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "secrets", "gone"),
    [
        ("GET https://user:pa55word@host/x failed", (), ["pa55word", "user:"]),
        ("mlflow at http://tok3n@127.0.0.1:5000 down", (), ["tok3n"]),
        ("url /v1?api_key=SEKRET123&a=1 failed", (), ["SEKRET123"]),
        ("{'signature': 'abcdef123', 'symbol': 'BTC'}", (), ["abcdef123"]),
        ('{"token": "abcdef123"}', (), ["abcdef123"]),
        ("Authorization: Bearer eyJhbGciOi.x.y", (), ["eyJhbGciOi"]),
        ("CG-API-KEY: cgkey9876", (), ["cgkey9876"]),
        ("got line1part and line2part", ["line1part\nline2part"], ["line1part", "line2part"]),
        ("repr 'line1part\\nline2part'", ["line1part\nline2part"], ["line1part", "line2part"]),
        ("quoted a%2Bb%2Fc%3D%3Dxy", ["a+b/c==xy"], ["a%2Bb%2Fc%3D%3Dxy"]),
        ("bytes \\xff\\xfeRAWKEY", ["\udcff\udcfeRAWKEY"], ["RAWKEY"]),
    ],
    ids=[
        "userinfo",
        "userinfo-token",
        "query",
        "dict-repr",
        "json",
        "bearer",
        "header",
        "multiline",
        "multiline-escaped",
        "url-quoted",
        "any-bytes",
    ],
)
def test_scrub(text, secrets, gone):
    out = scrub(text, secrets)
    for secret in gone:
        assert secret not in out
    assert "***" in out


def test_scrub_removes_key_like_environment_values(monkeypatch):
    monkeypatch.setenv("LEVERCAST_COINGLASS_KEY", "cg-env-secret\nsecond-line")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "mlflowpw1")
    out = scrub("failed: cg-env-secret / second-line / mlflowpw1 / BTC")
    assert out == "failed: *** / *** / *** / BTC"


def test_scrub_leaves_ordinary_text_alone():
    text = "binance GET /fapi/v1/klines {'symbol': 'BTCUSDT'} failed: HTTP 503"
    assert scrub(text) == text


# -- pagination guard ----------------------------------------------------------------------------
def test_page_guard_stops_on_a_repeated_cursor():
    guard = PageGuard("venue /p", max_pages=100)
    guard.advance("c1", [1])
    with pytest.raises(MarketUnavailable, match=r"venue /p: pagination stopped: cursor 'c1' rep"):
        guard.advance("c1", [2])


def test_page_guard_stops_on_a_repeated_page():
    guard = PageGuard("venue /p", max_pages=100)
    guard.advance("c1", [{"a": 1}])
    with pytest.raises(MarketUnavailable, match="page 2 repeats an earlier page"):
        guard.advance("c2", [{"a": 1}])


def test_page_guard_stops_at_the_page_limit():
    guard = PageGuard("venue /p", max_pages=3)
    guard.advance(1, [1])
    guard.advance(2, [2])
    with pytest.raises(MarketUnavailable, match=r"more than 3 pages \(page limit\)"):
        guard.advance(3, [3])


# -- httpx (the hook for the Polymarket SDK adapter) ---------------------------------------------
def test_httpx_transport_bounds_a_trickling_server():
    import httpx

    with fault_server(trickle(0.2, headers_too=True)) as server:
        client = httpx.Client(transport=deadline_transport(deadline_secs=1.5), timeout=10)
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout, match=r"total deadline of 1\.5 s exceeded"):
            client.get(f"{server.url}/x")
        assert time.monotonic() - started < 3
        client.close()


def test_httpx_transport_bounds_a_trickling_body_on_a_reused_connection():
    import httpx

    calls = []

    def first_fast_then_trickle(conn, request):
        calls.append(request)
        if len(calls) == 1:
            conn.sendall(response_bytes(b"[]"))
        else:
            trickle(0.2, headers_too=True)(conn, request)

    with fault_server(first_fast_then_trickle) as server:
        settings = HttpSettings(base_url=server.url, deadline_secs=1.5, timeout_secs=1.0)
        with httpx_client(settings) as client:
            assert client.get("/a").json() == []
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                client.get("/b")
            assert time.monotonic() - started < 3
    assert len(server.requests) == 2  # the second went over the pooled connection


def test_httpx_client_drops_private_headers_on_cross_host_redirect():
    seen = []

    def record(conn, request):
        seen.append(request.headers)
        conn.sendall(response_bytes(b"{}"))

    with fault_server(record) as other:

        def redirect(conn, request):
            conn.sendall(response_bytes(b"", status="302 Found", headers={"Location": other.url}))

        with fault_server(redirect) as home:
            settings = HttpSettings(base_url=home.url, deadline_secs=3)
            with httpx_client(settings, headers={"POLY_API_KEY": "polykey1"}) as client:
                assert client.get("/x").json() == {}
    assert home.requests[0].headers["poly_api_key"] == "polykey1"
    assert "poly_api_key" not in seen[0]
