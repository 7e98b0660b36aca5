from __future__ import annotations

from datetime import UTC, datetime

import pytest

from levercast.markets.questions.relative import When, resolve_when


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def resolved(phrase: str, now: datetime, need: str = "window") -> When:
    found = resolve_when(phrase, now=now, need=need)  # type: ignore[arg-type]
    assert isinstance(found, When), found
    return found


# Wednesday 2026-04-15 10:00 EDT.
WED = utc(2026, 4, 15, 14)
# Sunday 2026-04-19 22:30 EDT (Monday 02:30 UTC): the week ends in 90 minutes.
SUN_EVE = utc(2026, 4, 20, 2, 30)
# Friday 2026-04-17 13:00 EDT: today's noon fixing has passed.
FRI_PM = utc(2026, 4, 17, 17)
FRI_AM = utc(2026, 4, 17, 15, 59)  # 11:59 EDT
FRI_NOON = utc(2026, 4, 17, 16)  # exactly 12:00 EDT: the fixing is not after it
# Saturday 2026-03-07 12:00 EST, the day before DST starts (Sunday 2026-03-08 is 23 hours).
PRE_SPRING = utc(2026, 3, 7, 17)
# Saturday 2026-10-31 12:00 EDT, the day before DST ends (Sunday 2026-11-01 is 25 hours).
PRE_FALL = utc(2026, 10, 31, 16)
# Thursday 2026-12-31 15:00 EST, and 23:30 EST the same evening.
NYE = utc(2026, 12, 31, 20)
NYE_LATE = utc(2027, 1, 1, 4, 30)
WIN, FIX = "window", "fixing"


@pytest.mark.parametrize(
    ("phrase", "now", "need", "start", "end"),
    [
        # the week ends Sunday 23:59:59 ET (end = Monday 00:00 ET)
        ("this week", WED, WIN, "2026-04-13T04:00Z", "2026-04-20T04:00Z"),
        ("before the end of the week", WED, WIN, "2026-04-15T14:00Z", "2026-04-20T04:00Z"),
        ("by the end of the week", WED, WIN, "2026-04-15T14:00Z", "2026-04-20T04:00Z"),
        ("by sunday", WED, WIN, "2026-04-15T14:00Z", "2026-04-20T04:00Z"),
        ("at the end of the week", WED, FIX, "2026-04-15T14:00Z", "2026-04-20T04:00Z"),
        ("next week", WED, WIN, "2026-04-20T04:00Z", "2026-04-27T04:00Z"),
        ("this weekend", WED, WIN, "2026-04-18T04:00Z", "2026-04-20T04:00Z"),
        ("this week", SUN_EVE, WIN, "2026-04-13T04:00Z", "2026-04-20T04:00Z"),
        ("by sunday", SUN_EVE, WIN, "2026-04-20T02:30Z", "2026-04-20T04:00Z"),
        ("by the end of the week", SUN_EVE, WIN, "2026-04-20T02:30Z", "2026-04-20T04:00Z"),
        ("next week", SUN_EVE, WIN, "2026-04-20T04:00Z", "2026-04-27T04:00Z"),
        ("tomorrow", SUN_EVE, WIN, "2026-04-20T04:00Z", "2026-04-21T04:00Z"),
        ("on friday", SUN_EVE, FIX, "2026-04-20T02:30Z", "2026-04-24T16:00Z"),
        ("this week", utc(2026, 4, 20, 4), WIN, "2026-04-20T04:00Z", "2026-04-27T04:00Z"),
        # "on Friday" is Friday's 12:00 ET fixing: the next Friday once today's noon has passed
        ("on friday", WED, FIX, "2026-04-15T14:00Z", "2026-04-17T16:00Z"),
        ("on friday", FRI_AM, FIX, "2026-04-17T15:59Z", "2026-04-17T16:00Z"),
        ("on friday", FRI_NOON, FIX, "2026-04-17T16:00Z", "2026-04-24T16:00Z"),
        ("on friday", FRI_PM, FIX, "2026-04-17T17:00Z", "2026-04-24T16:00Z"),
        ("friday", FRI_PM, FIX, "2026-04-17T17:00Z", "2026-04-24T16:00Z"),
        ("this friday", FRI_PM, FIX, "2026-04-17T17:00Z", "2026-04-24T16:00Z"),
        ("on friday at 4pm", FRI_PM, FIX, "2026-04-17T17:00Z", "2026-04-17T20:00Z"),
        ("on friday at 4pm", utc(2026, 4, 17, 21), FIX, "2026-04-17T21:00Z", "2026-04-24T20:00Z"),
        # as a window, Friday is still today until it ends
        ("on friday", FRI_PM, WIN, "2026-04-17T04:00Z", "2026-04-18T04:00Z"),
        ("by friday", FRI_PM, WIN, "2026-04-17T17:00Z", "2026-04-18T04:00Z"),
        ("before friday", WED, WIN, "2026-04-15T14:00Z", "2026-04-17T04:00Z"),
        ("by friday 5pm", WED, WIN, "2026-04-15T14:00Z", "2026-04-17T21:00Z"),
        # today and tomorrow
        ("today", WED, WIN, "2026-04-15T04:00Z", "2026-04-16T04:00Z"),
        ("today", WED, FIX, "2026-04-15T14:00Z", "2026-04-15T16:00Z"),
        ("tomorrow", WED, WIN, "2026-04-16T04:00Z", "2026-04-17T04:00Z"),
        ("tomorrow", WED, FIX, "2026-04-15T14:00Z", "2026-04-16T16:00Z"),
        ("by tomorrow", WED, WIN, "2026-04-15T14:00Z", "2026-04-17T04:00Z"),
        ("by end of day", WED, WIN, "2026-04-15T14:00Z", "2026-04-16T04:00Z"),
        ("at 5pm", WED, FIX, "2026-04-15T14:00Z", "2026-04-15T21:00Z"),
        ("at 5pm", utc(2026, 4, 15, 22), FIX, "2026-04-15T22:00Z", "2026-04-16T21:00Z"),
        ("at 17:00 utc on friday", WED, FIX, "2026-04-15T14:00Z", "2026-04-17T17:00Z"),
        # durations are elapsed time from the time asked
        ("in the next 24 hours", WED, WIN, "2026-04-15T14:00Z", "2026-04-16T14:00Z"),
        ("in the next 3 days", WED, WIN, "2026-04-15T14:00Z", "2026-04-18T14:00Z"),
        ("in the next week", WED, WIN, "2026-04-15T14:00Z", "2026-04-22T14:00Z"),
        ("within 48 hours", WED, WIN, "2026-04-15T14:00Z", "2026-04-17T14:00Z"),
        ("over the next 15 mins", WED, WIN, "2026-04-15T14:00Z", "2026-04-15T14:15Z"),
        ("next 24h", WED, WIN, "2026-04-15T14:00Z", "2026-04-16T14:00Z"),
        ("in 24 hours", WED, FIX, "2026-04-15T14:00Z", "2026-04-16T14:00Z"),
        ("2 hours from now", WED, FIX, "2026-04-15T14:00Z", "2026-04-15T16:00Z"),
        # months and years
        ("by the end of the month", WED, WIN, "2026-04-15T14:00Z", "2026-05-01T04:00Z"),
        ("this month", WED, WIN, "2026-04-01T04:00Z", "2026-05-01T04:00Z"),
        ("next month", WED, WIN, "2026-05-01T04:00Z", "2026-06-01T04:00Z"),
        ("at the end of the month", WED, FIX, "2026-04-15T14:00Z", "2026-05-01T04:00Z"),
        ("by year end", WED, WIN, "2026-04-15T14:00Z", "2027-01-01T05:00Z"),
        ("by the end of the year", WED, WIN, "2026-04-15T14:00Z", "2027-01-01T05:00Z"),
        ("this year", WED, WIN, "2026-01-01T05:00Z", "2027-01-01T05:00Z"),
        ("this quarter", WED, WIN, "2026-04-01T04:00Z", "2026-07-01T04:00Z"),
        ("by the end of march", WED, WIN, "2026-04-15T14:00Z", "2027-04-01T04:00Z"),
        ("at the end of march", WED, FIX, "2026-04-15T14:00Z", "2027-04-01T04:00Z"),
        # month and year rollovers
        ("by the end of the month", NYE, WIN, "2026-12-31T20:00Z", "2027-01-01T05:00Z"),
        ("by year end", NYE, WIN, "2026-12-31T20:00Z", "2027-01-01T05:00Z"),
        ("next month", NYE, WIN, "2027-01-01T05:00Z", "2027-02-01T05:00Z"),
        ("next year", NYE, WIN, "2027-01-01T05:00Z", "2028-01-01T05:00Z"),
        ("tomorrow", NYE, FIX, "2026-12-31T20:00Z", "2027-01-01T17:00Z"),
        ("by year end", NYE_LATE, WIN, "2027-01-01T04:30Z", "2027-01-01T05:00Z"),
        ("this month", NYE_LATE, WIN, "2026-12-01T05:00Z", "2027-01-01T05:00Z"),
        ("this year", utc(2027, 1, 1, 5), WIN, "2027-01-01T05:00Z", "2028-01-01T05:00Z"),
        ("in the next month", utc(2026, 1, 31, 17), WIN, "2026-01-31T17:00Z", "2026-02-28T17:00Z"),
        ("on february 29", WED, FIX, "2026-04-15T14:00Z", "2028-02-29T17:00Z"),
        # "in March": the next March not yet over
        ("in march", WED, WIN, "2027-03-01T05:00Z", "2027-04-01T04:00Z"),
        ("in march", utc(2026, 2, 10), WIN, "2026-03-01T05:00Z", "2026-04-01T04:00Z"),
        ("in march", utc(2026, 3, 20, 16), WIN, "2026-03-01T05:00Z", "2026-04-01T04:00Z"),
        ("in march", utc(2026, 4, 1, 3, 59), WIN, "2026-03-01T05:00Z", "2026-04-01T04:00Z"),
        ("in march", utc(2026, 4, 1, 4), WIN, "2027-03-01T05:00Z", "2027-04-01T04:00Z"),
        ("in march 2027", WED, WIN, "2027-03-01T05:00Z", "2027-04-01T04:00Z"),
        ("on march 7", WED, FIX, "2026-04-15T14:00Z", "2027-03-07T17:00Z"),
        ("on march 7", utc(2026, 3, 1), FIX, "2026-03-01T00:00Z", "2026-03-07T17:00Z"),
        # DST: ET days are 23 or 25 hours; elapsed durations are not stretched
        ("tomorrow", PRE_SPRING, WIN, "2026-03-08T05:00Z", "2026-03-09T04:00Z"),
        ("in the next 24 hours", PRE_SPRING, WIN, "2026-03-07T17:00Z", "2026-03-08T17:00Z"),
        ("this week", PRE_SPRING, WIN, "2026-03-02T05:00Z", "2026-03-09T04:00Z"),
        ("on monday", PRE_SPRING, FIX, "2026-03-07T17:00Z", "2026-03-09T16:00Z"),
        ("by sunday", PRE_SPRING, WIN, "2026-03-07T17:00Z", "2026-03-09T04:00Z"),
        ("tomorrow", PRE_FALL, WIN, "2026-11-01T04:00Z", "2026-11-02T05:00Z"),
        ("in the next 3 days", PRE_FALL, WIN, "2026-10-31T16:00Z", "2026-11-03T16:00Z"),
        ("on monday", PRE_FALL, FIX, "2026-10-31T16:00Z", "2026-11-02T17:00Z"),
        ("by the end of the month", PRE_FALL, WIN, "2026-10-31T16:00Z", "2026-11-01T04:00Z"),
        ("next week", PRE_FALL, WIN, "2026-11-02T05:00Z", "2026-11-09T05:00Z"),
        ("in the next month", utc(2026, 10, 15, 16), WIN, "2026-10-15T16:00Z", "2026-11-15T17:00Z"),
        ("on friday at 5pm est", WED, FIX, "2026-04-15T14:00Z", "2026-04-17T21:00Z"),
    ],
)  # fmt: skip
def test_relative_date_rules(phrase, now, need, start, end):
    found = resolved(phrase, now, need)
    assert (iso(found.start), iso(found.end)) == (start, end)
    assert found.fixing is (need == "fixing")
    assert found.assumptions


@pytest.mark.parametrize(
    ("phrase", "now", "need", "fragment"),
    [
        ("this week", WED, "window", "Sunday 23:59:59 ET"),
        ("on friday", WED, "fixing", "12:00 ET fixing"),
        ("on friday at 5pm est", WED, "fixing", "EDT is in force"),
        ("on friday at 4pm", WED, "fixing", "without a zone is ET"),
        ("in the next 24 hours", PRE_SPRING, "window", "elapsed time"),
        ("in march", WED, "window", "March 2027"),
        ("this month", WED, "window", "begun before the time asked"),
    ],
)
def test_assumptions_name_the_convention(phrase, now, need, fragment):
    assert any(fragment in note for note in resolved(phrase, now, need).assumptions)


@pytest.mark.parametrize(
    ("phrase", "now", "need", "fragment"),
    [
        ("next friday", WED, "window", "this coming one or the one after"),
        ("until friday", WED, "window", "'until'"),
        ("by the weekend", WED, "window", "weekend"),
        ("by 2027", WED, "window", "'by <year>'"),
        ("by march", WED, "window", "'by <month>'"),
        ("soon", WED, "window", "no definite deadline"),
        ("in the next few days", WED, "window", "vague span"),
        ("in the coming days", WED, "window", "vague span"),
        ("on 3/7", WED, "fixing", "numeric date"),
        ("at midnight", WED, "fixing", "midnight"),
        ("this week", WED, "fixing", "is a span"),
        ("by friday", WED, "fixing", "is a deadline"),
        ("in the next 24 hours", WED, "fixing", "names a span"),
        ("at 5pm", WED, "window", "names a fixing"),
        ("on friday at 4pm", WED, "window", "names a fixing"),
        ("today", utc(2026, 4, 15, 17), "fixing", "already passed"),
        ("today at 9am", WED, "fixing", "already passed"),
        ("on march 7, 2025", WED, "fixing", "already passed"),
        ("in march 2026", WED, "window", "ends before the time asked"),
        ("on february 30", WED, "fixing", "no such date"),
        ("at 25:00", WED, "fixing", "unreadable time"),
        ("in the next 0 hours", WED, "window", "empty span"),
        ("in the next 99999 days", WED, "window", "longer than ten years"),
        ("", WED, "window", "no date or deadline"),
        ("whenever", WED, "window", "unrecognised time phrase 'whenever'"),
    ],
)
def test_ambiguous_or_impossible_phrases_are_refused(phrase, now, need, fragment):
    found = resolve_when(phrase, now=now, need=need)
    assert isinstance(found, str), found
    assert fragment in found
