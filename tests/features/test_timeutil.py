from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from levercast.features.timeutil import format_utc, utc_text


def test_utc_text_reads_for_people_in_utc_whatever_the_offset():
    eastern = datetime(2026, 1, 31, 0, 0, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert utc_text(eastern) == "2026-01-31 05:00 UTC"
    assert utc_text(eastern, seconds=True) == "2026-01-31 05:00:30 UTC"
    assert format_utc(eastern) == "2026-01-31T05:00:30Z"  # the machine form stays ISO-8601
    assert utc_text(datetime(2026, 1, 31, 5)) == "2026-01-31 05:00 UTC"  # naive: taken as UTC
    assert utc_text(datetime(2026, 1, 31, 5, tzinfo=UTC)) == "2026-01-31 05:00 UTC"
