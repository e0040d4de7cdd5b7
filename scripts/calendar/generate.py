#!/usr/bin/env python3
"""Regenerate data/calendar/mainland.json from the PyPI package `chinese-calendar`.

The file holds, per year, the two exception lists of the mainland-China working-day rule

    working day = Monday..Friday, minus `holidays`, plus `makeup_workdays`

- `holidays`: every date of the State Council's public-holiday periods exactly as the package
  lists them (`chinese_calendar.constants.holidays`), weekend days included. Only the weekday
  ones change the rule's result; the weekend ones are kept so a year reads like the notice and
  so the file is a plain copy of the source, not a derivation of it.
- `makeup_workdays` (调休 上班): the weekend days declared working days
  (`chinese_calendar.constants.workdays`). The package puts these first (a date in both lists is
  a working day); we refuse any such overlap instead, as the Rust loader does.

A date belongs to the year it falls in, whichever notice declared it: e.g. 2018-12-29 (a
make-up Saturday) and 2018-12-31 were set by the 2019 notice but are stored under 2018. Hence the
last days of the newest year can still change when next year's notice appears; reload that year
too.

Usage (from the repository root, with the pinned package installed):
    python3 scripts/calendar/generate.py            # rewrite the data file
    python3 scripts/calendar/generate.py --check    # exit 1 if the committed file is stale
"""

import argparse
import datetime as dt
import json
import sys
from importlib.metadata import version
from pathlib import Path

import chinese_calendar
from chinese_calendar.constants import holidays, workdays

# 2026: on 2026-12-02 no well-kept source carries the 2027 notice (chinese-calendar 1.11.0 and
# the crate chinese_holiday 2026.0.1 stop at 2026; PyPI holidays 0.108 estimates 2027 by rule,
# without make-up days). Raise it with the pinned package once it has the year, cross-checked.
FIRST_YEAR, LAST_YEAR = 2018, 2026
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = ROOT / "data" / "calendar" / "mainland.json"


def year_entry(year):
    hol = sorted(d for d in holidays if d.year == year)
    mk = sorted(d for d in workdays if d.year == year)
    overlap = set(hol) & set(mk)
    if overlap:
        sys.exit(f"{year}: dates both holiday and make-up day: {sorted(overlap)}")
    weekday_mk = [d for d in mk if d.weekday() < 5]
    if weekday_mk:
        sys.exit(f"{year}: make-up working days on weekdays: {weekday_mk}")
    # The package must say the same as our rule for every day of the year.
    day = dt.date(year, 1, 1)
    while day.year == year:
        ours = (day.weekday() < 5 and day not in holidays) or day in workdays
        if ours != chinese_calendar.is_workday(day):
            sys.exit(f"{day}: rule disagrees with chinese_calendar.is_workday")
        day += dt.timedelta(days=1)
    return {
        "year": year,
        "holidays": [d.isoformat() for d in hol],
        "makeup_workdays": [d.isoformat() for d in mk],
    }


def build():
    covered = {d.year for d in holidays}
    missing = [y for y in range(FIRST_YEAR, LAST_YEAR + 1) if y not in covered]
    if missing:
        sys.exit(f"chinese-calendar {version('chinese-calendar')} lacks years {missing}")
    # The 2020 extension of Spring Festival (State Council notice of 2020-01-27) must be in.
    for d in ("2020-01-31", "2020-02-01", "2020-02-02"):
        if dt.date.fromisoformat(d) not in holidays:
            sys.exit(f"chinese-calendar {version('chinese-calendar')} lacks the 2020 extension ({d})")
    data = {
        "source": f"PyPI chinese-calendar {version('chinese-calendar')}",
        "years": [year_entry(y) for y in range(FIRST_YEAR, LAST_YEAR + 1)],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args()
    text = build()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            sys.exit(f"{args.output} is stale: run scripts/calendar/generate.py")
        print(f"{args.output} is up to date")
        return
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
