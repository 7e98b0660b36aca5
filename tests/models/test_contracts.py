def test_describe_reads_times_for_people():
    from datetime import UTC, datetime

    from levercast.models.contracts import Contract

    touch = Contract.from_json(
        {"kind": "touch", "asset": "BTC", "strike_usd": 60000, "direction": "down",
         "start": "2026-01-24T05:00Z", "end": "2026-01-31T05:00Z"}
    )  # fmt: skip
    assert touch.describe() == "BTC touches $60,000 (down) by 2026-01-31 05:00 UTC"
    assert touch.to_json_dict()["end"] == "2026-01-31T05:00:00Z"  # the JSON keeps ISO-8601
    up = Contract.from_json(
        {
            "kind": "up_down",
            "asset": "ETH",
            "start": "2026-01-30T00:00Z",
            "end": "2026-01-31T00:00Z",
        }
    )
    assert up.describe() == "ETH up from 2026-01-30 00:00 UTC to 2026-01-31 00:00 UTC"
    assert datetime(2026, 1, 31, 5, tzinfo=UTC) == touch.end
