#!/usr/bin/env python3
"""Compare a working-day dump with the PyPI package `chinese-calendar`.

Reads lines `YYYY-MM-DD true|false` on stdin, e.g.

    fenghuo calendar dump --shipped --from 2018-01-01 --to 2026-12-31 | python3 scripts/calendar/check.py

and compares every date with `chinese_calendar.is_workday`. Fails (exit 1) on any mismatch,
malformed or duplicate line, date outside the checked range, or date of the range missing from
the input; every problem is listed. The last line reads `calendar: N passed, M failed`.
"""

import argparse
import datetime as dt
import sys

import chinese_calendar

FIRST, LAST = dt.date(2018, 1, 1), dt.date(2026, 12, 31)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="first", type=dt.date.fromisoformat, default=FIRST)
    ap.add_argument("--to", dest="last", type=dt.date.fromisoformat, default=LAST)
    args = ap.parse_args()

    seen = set()
    passed = 0
    problems = []
    for lineno, raw in enumerate(sys.stdin, 1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        try:
            if len(parts) != 2 or parts[1] not in ("true", "false"):
                raise ValueError
            day = dt.date.fromisoformat(parts[0])
        except ValueError:
            problems.append(f"line {lineno}: expected 'YYYY-MM-DD true|false', got {line!r}")
            continue
        if day in seen:
            problems.append(f"line {lineno}: {day} appears twice")
            continue
        seen.add(day)
        if not args.first <= day <= args.last:
            problems.append(f"line {lineno}: {day} is outside {args.first}..{args.last}")
            continue
        expected = chinese_calendar.is_workday(day)
        if (parts[1] == "true") != expected:
            problems.append(f"{day}: dump says {parts[1]}, chinese-calendar says {str(expected).lower()}")
        else:
            passed += 1

    day = args.first
    while day <= args.last:
        if day not in seen:
            problems.append(f"{day}: missing from the input")
        day += dt.timedelta(days=1)

    for p in problems:
        print(p)
    print(f"calendar: {passed} passed, {len(problems)} failed")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
