"""Dates in the patient table, and the time-to-event endpoints declared from them.

A date cell is read as it is written, never guessed:

* ``YYYY-MM-DD`` (also ``YYYY/MM/DD``, and the ``YYYY-MM-DD 00:00:00`` an Excel date cell becomes) is always read;
* ``DD/MM/YYYY`` or ``MM/DD/YYYY`` (also with ``.`` or ``-``) only when the spec says which
  (``data.date_format: day_first`` or ``month_first``): ``03/05/2025`` is 3 May or March 5, so without the
  declaration the column is refused, naming a cell that shows which reading the data need when there is one;
* any other form with a declared ``strptime`` format (``"%d.%m.%Y"``, ``"%d-%b-%Y"``).

Refused, each with the cell as written: a two-digit year, a time of day other than midnight, an Excel day
number (44256), a day that the calendar does not have (31/02/2025), a year before 1900, and a date after the day
of the run ("in the future").

An endpoint declared from dates (``start``, ``events``, ``last_seen``) gets its time from the start date to the
first event date present, or to the last-seen date when there is none, in the spec's unit: days, weeks
(days / 7), months (days / 30.4375) or years (days / 365.25). Checked for every row: an event before the start,
an event after the last-seen date (a death after the patient was last seen, a censoring date before an event),
a last-seen date before the start, no event and no last-seen date. With a data cut-off (``data.cutoff_date``)
an event after it is no event and follow-up ends at it; a start after it is an error.

The functions return problems as ``(row index, column, message)``; :mod:`helpers.study.patients` turns them
into its file, row and column messages.
"""
from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd

#: Days per time unit when times are derived from dates (months = days / 30.4375, years = days / 365.25:
#: the mean lengths of the Gregorian month and year, 365.25 / 12 and 365.25 days).
DAYS_PER_UNIT = {"days": 1.0, "weeks": 7.0, "months": 30.4375, "years": 365.25}
#: How date cells may be declared (``data.date_format``), besides a strptime format.
DATE_FORMATS = {"iso": "YYYY-MM-DD", "day_first": "DD/MM/YYYY", "month_first": "MM/DD/YYYY"}
#: The strptime codes a declared format may use (no times of day, no two-digit years).
FORMAT_CODES = {"%d": "DD", "%m": "MM", "%b": "Mon", "%B": "Month", "%Y": "YYYY", "%%": "%"}
EARLIEST_YEAR = 1900
_EPOCH = datetime.date(1970, 1, 1).toordinal()

_ISO = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_NUMERIC = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})(?:[ T]00:00(?::00)?)?")
_SHORT_YEAR = re.compile(r"\d{1,2}([/.\-])\d{1,2}\1\d{2}")
_TIME_OF_DAY = re.compile(r".*\d[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?")
_SERIAL = re.compile(r"\d{5}(\.0+)?")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def date_format_problem(fmt: str) -> str | None:
    """Why ``fmt`` cannot be a ``data.date_format`` (None when it can)."""
    if fmt in DATE_FORMATS:
        return None
    choices = ", ".join(DATE_FORMATS)
    if "%" not in fmt:
        from helpers.study.schema import nearest

        close = nearest(fmt, list(DATE_FORMATS))
        return (f"'{fmt}' is not one of {choices} nor a format such as \"%d/%m/%Y\""
                + (f" (did you mean `{close}`?)" if close else ""))
    codes = re.findall(r"%.", fmt)
    unknown = [c for c in codes if c not in FORMAT_CODES]
    if "%y" in unknown:
        return f"'{fmt}' has a two-digit year (%y): is 25 1925 or 2025? Use %Y (four digits)"
    if unknown:
        return (f"'{fmt}' uses {', '.join(unknown)}: a date format may use {', '.join(c for c in FORMAT_CODES if c != '%%')} "
                "(whole days; no time of day)")
    if "%Y" not in codes or "%d" not in codes or not {"%m", "%b", "%B"} & set(codes):
        return f"'{fmt}' needs a day (%d), a month (%m, %b or %B) and a four-digit year (%Y)"
    example = datetime.date(2025, 1, 31)
    try:
        if datetime.datetime.strptime(example.strftime(fmt), fmt).date() != example:
            raise ValueError
    except ValueError:
        return f"'{fmt}' cannot be read back: 31 January 2025 written with it is not read as that date"
    return None


def format_pattern(fmt: str | None) -> str:
    """The form of dates declared with ``fmt``: 'YYYY-MM-DD', 'DD/MM/YYYY', 'DD.MM.YYYY' for "%d.%m.%Y"."""
    if fmt is None or fmt in DATE_FORMATS:
        return DATE_FORMATS[fmt or "iso"]
    return re.sub(r"%.", lambda m: FORMAT_CODES.get(m.group(0), m.group(0)), fmt)


def format_words(fmt: str | None) -> str:
    """How dates declared with ``fmt`` look, in the user's terms: 'DD/MM/YYYY (day first, e.g. 31/01/2025)'."""
    example = {"day_first": "day first, e.g. 31/01/2025", "month_first": "month first, e.g. 01/31/2025"}
    if fmt in example:
        return f"{format_pattern(fmt)} ({example[fmt]})"
    sample = datetime.date(2025, 1, 31).strftime(fmt) if fmt and fmt not in DATE_FORMATS else "2025-01-31"
    return f"{format_pattern(fmt)} (e.g. {sample})"


def declared(fmt: str | None) -> str:
    """The spec's words for ``fmt``: 'data.date_format: day_first', 'data.date_format "%d.%m.%Y"'."""
    if fmt is None:
        return "no data.date_format declared"
    return f"data.date_format: {fmt}" if fmt in DATE_FORMATS else f'data.date_format "{fmt}"'


def _calendar(year: int, month: int, day: int, text: str, how: str) -> tuple[int | None, str | None]:
    """Days since 1970-01-01 of a date, or why it is not one (``how``: how the cell was read)."""
    if not 1 <= month <= 12:
        return None, f"'{text}' is not a date: there is no month {month} (read as {how})"
    try:
        value = datetime.date(year, month, day)
    except ValueError:
        return None, (f"'{text}' is not a date of the calendar: {_MONTHS[month - 1]} {year} has no day {day} "
                      f"(read as {how})")
    if year < EARLIEST_YEAR:
        return None, f"'{text}' is in the year {year}, before {EARLIEST_YEAR}: a typing error? (read as {how})"
    return value.toordinal() - _EPOCH, None


def parse_date(text: str, fmt: str | None) -> tuple[int | None, str | None, bool]:
    """One cell: (days since 1970-01-01 or None, why not, whether it is DD/MM vs MM/DD with no format declared)."""
    how = f"{format_pattern(fmt)}, {declared(fmt)}"
    iso = _ISO.fullmatch(text)
    if iso:
        return (*_calendar(int(iso.group(1)), int(iso.group(3)), int(iso.group(4)), text, "YYYY-MM-DD"), False)
    if _SHORT_YEAR.fullmatch(text):
        return None, f"'{text}' has a two-digit year (is it 19.. or 20..?): write the year with four digits", False
    if _TIME_OF_DAY.fullmatch(text):
        return None, (f"'{text}' has a time of day: times are counted in whole days from dates; export the date "
                      "only"), False
    if _SERIAL.fullmatch(text):
        return None, (f"'{text}' looks like an Excel day number, not a date: format the column as a date in "
                      f"Excel before exporting it (dates are read as {format_pattern(fmt)})"), False
    numeric = _NUMERIC.fullmatch(text)
    if numeric and fmt in ("day_first", "month_first"):
        a, b, year = int(numeric.group(1)), int(numeric.group(3)), int(numeric.group(4))
        day, month = (a, b) if fmt == "day_first" else (b, a)
        return (*_calendar(year, month, day, text, how), False)
    if numeric and fmt is None:
        return None, None, True
    if fmt is not None and fmt not in DATE_FORMATS:
        try:
            value = datetime.datetime.strptime(text, fmt).date()
        except ValueError as exc:
            if "out of range" in str(exc) or "does not exist" in str(exc):
                return None, f"'{text}' is not a date of the calendar (read as {how})", False
            return None, f"'{text}' is not a date written {format_words(fmt)}, as {declared(fmt)} says", False
        return (*_calendar(value.year, value.month, value.day, text, how), False)
    if fmt is None:
        return None, (f"'{text}' is not a date written YYYY-MM-DD; for another form declare data.date_format "
                      "(day_first, month_first, or a format such as \"%d-%b-%Y\")"), False
    return None, f"'{text}' is not a date written {format_words(fmt)}, as {declared(fmt)} says", False


def _both_readings(text: str) -> str:
    """'3 May 2025 or March 5, 2025' for '03/05/2025' (the readings that are dates)."""
    m = _NUMERIC.fullmatch(text)
    a, b, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
    readings = []
    if 1 <= b <= 12 and _calendar(year, b, a, text, "")[0] is not None:
        readings.append(f"day first {a} {_MONTHS[b - 1]} {year}")
    if 1 <= a <= 12 and _calendar(year, a, b, text, "")[0] is not None:
        readings.append(f"month first {_MONTHS[a - 1]} {b}, {year}")
    return " or ".join(readings) or "no date either way"


def read_dates(column: str, cells: pd.Series, missing: pd.Series, fmt: str | None,
               today: datetime.date) -> tuple[pd.Series, list[tuple], set]:
    """A date column: days since 1970-01-01 (NaN: missing or not a date), the problems, and the row indexes of the
    cells that are not dates (whose other checks are skipped).

    Each distinct text is parsed once. Without a declared format, cells written DD/MM/YYYY or MM/DD/YYYY make one
    problem for the column (at the first such row), saying which declaration the data need.
    """
    present = cells[~missing]
    parsed = {text: parse_date(text, fmt) for text in pd.unique(present.to_numpy())}
    days = present.map({t: np.nan if v[0] is None else float(v[0]) for t, v in parsed.items()}).astype(float)
    days = days.reindex(cells.index)
    problems, bad = [], set()
    ambiguous = present[present.isin([t for t, v in parsed.items() if v[2]])]
    unreadable = present[present.isin([t for t, v in parsed.items() if v[1]])]
    for i, text in unreadable.items():
        problems.append((i, column, parsed[text][1]))
        bad.add(i)
    if len(ambiguous):
        bad |= set(ambiguous.index)
        split = ambiguous.str.extract(r"^(\d{1,2})\D(\d{1,2})\D")
        first_part, second_part = split[0].astype(int), split[1].astype(int)
        shown = next((t for t, a, b in zip(ambiguous, first_part, second_part) if a <= 12 and b <= 12),
                     ambiguous.iloc[0])
        hint = ""
        day_first = ambiguous.index[first_part > 12]
        month_first = ambiguous.index[second_part > 12]
        if len(day_first) and not len(month_first):
            hint = f"; '{ambiguous[day_first[0]]}' can only be day first, so `day_first` looks right"
        elif len(month_first) and not len(day_first):
            hint = f"; '{ambiguous[month_first[0]]}' can only be month first, so `month_first` looks right"
        elif len(month_first) and len(day_first):
            hint = (f"; '{ambiguous[day_first[0]]}' can only be day first but '{ambiguous[month_first[0]]}' only "
                    "month first: the column mixes both, correct it first")
        problems.append((ambiguous.index[0], column,
                         f"{len(ambiguous)} date(s) of this column are written like '{shown}' ({_both_readings(shown)}), "
                         "and the spec does not say which is meant: declare `data.date_format: day_first` (DD/MM/YYYY) "
                         f"or `data.date_format: month_first` (MM/DD/YYYY) in the study spec{hint}"))
    limit = today.toordinal() - _EPOCH
    for i in days.index[days > limit]:
        problems.append((i, column, f"'{cells[i]}' is in the future (after {today.isoformat()}, the day of this run)"))
        bad.add(i)
    return days, problems, bad


def derive_endpoint(ep, days: dict[str, pd.Series], cells: pd.DataFrame, missing: dict[str, pd.Series],
                    bad: set, unit: str, cutoff: datetime.date | None) -> tuple[pd.Series, pd.Series, list[tuple]]:
    """The time (in ``unit``) and 0/1 event of an endpoint declared from dates, and every row's problems.

    ``days`` holds each date column as days since 1970-01-01 (from :func:`read_dates`); rows in ``bad`` (a cell
    that is not a date) get no further checks. The first event date present is the event; without one, the
    patient is censored at the last-seen date; with ``cutoff``, at the cut-off when that comes first (an event
    after it is none).
    """
    start, last = days[ep.start], days[ep.last_seen]
    events = pd.DataFrame({c: days[c] for c in ep.events})
    ok = ~cells.index.isin(list(bad))
    problems = []
    for i in cells.index[ok & missing[ep.start].to_numpy()]:
        problems.append((i, ep.start, "the start date is missing (time 0 of every endpoint declared from dates)"))
    for column in ep.events:
        for i in cells.index[ok & (days[column] < start).to_numpy()]:
            problems.append((i, column, f"event date '{cells[column][i]}' is before the start date "
                                        f"'{cells[ep.start][i]}' ({ep.start})"))
        for i in cells.index[ok & (days[column] > last).to_numpy()]:
            problems.append((i, column, f"event date '{cells[column][i]}' is after the last-seen date "
                                        f"'{cells[ep.last_seen][i]}' ({ep.last_seen}): a patient is seen at or after "
                                        "every event; is one of the two dates mistyped?"))
    for i in cells.index[ok & (last < start).to_numpy()]:
        problems.append((i, ep.last_seen, f"last-seen date '{cells[ep.last_seen][i]}' is before the start date "
                                          f"'{cells[ep.start][i]}' ({ep.start})"))
    first = events.min(axis=1, skipna=True)
    has_event = first.notna()
    for i in cells.index[ok & ~has_event.to_numpy() & last.isna().to_numpy() & missing[ep.last_seen].to_numpy()]:
        problems.append((i, ep.last_seen, f"no event date ({', '.join(ep.events)}) and no last-seen date: this "
                                          f"patient's {ep.short} follow-up is unknown"))
    end, event = first.copy(), has_event.copy()
    censor = last
    if cutoff is not None:
        cut = float(cutoff.toordinal() - _EPOCH)
        for i in cells.index[ok & (start > cut).to_numpy()]:
            problems.append((i, ep.start, f"start date '{cells[ep.start][i]}' is after the data cut-off "
                                          f"{cutoff.isoformat()} (data.cutoff_date): remove the patient or correct the "
                                          "date"))
        event = has_event & (first <= cut)
        censor = pd.Series(np.where(has_event, cut, np.fmin(last.to_numpy(float), cut)), index=last.index)
    end = end.where(event, censor)
    time = (end - start) / DAYS_PER_UNIT[unit]
    return time.astype(float), event.astype(float).where(time.notna()), problems
