"""Loading and validating a study's one-row-per-patient table against its specification.

:func:`load_patients` reads a CSV or Excel file, checks every row against the study spec and either returns
a typed DataFrame or raises :class:`DataValidationError` listing *every* problem found, each with the file,
the row (spreadsheet numbering: the header is row 1, the first patient row 2) and the column.
"""
from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.study.spec import StudySpec, TableFormat, Variable

SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".xls")
MISSING_TOKENS = {"", "NA", "N/A", "na", "NaN", "nan", "NULL", "null", "."}
#: Suffix of the categorical column derived from a continuous variable's cut-points.
CUT_SUFFIX = "_cat"


@dataclass(frozen=True)
class Problem:
    row: int | None  # spreadsheet row number (header = 1); None for whole-file problems
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class DataValidationError(ValueError):
    """The patient table does not fit its study specification.  ``problems`` lists every problem."""

    def __init__(self, path: Path | str, problems: list[Problem], limit: int = 50):
        self.path = str(path)
        self.problems = list(problems)
        shown = "\n".join(f"  - {self.path}: {p}" for p in self.problems[:limit])
        more = f"\n  ... and {len(self.problems) - limit} more" if len(self.problems) > limit else ""
        super().__init__(f"{self.path}: {len(self.problems)} problem(s) in the patient table:\n{shown}{more}")


def read_table(path: Path, fmt: TableFormat | None = None) -> pd.DataFrame:
    """Read a CSV or Excel file as text cells (no type guessing), or raise with a clear message.

    A CSV file is read with the spec's ``fmt`` (``data.delimiter``, ``data.decimal``, ``data.encoding``;
    default: comma, point, UTF-8). A byte-order mark and Windows line ends are fine. A file that does not fit
    (a semicolon-separated export, Latin-1 text read as UTF-8) gets a message saying what it looks like and
    which spec key to set.
    """
    path = Path(path)
    fmt = fmt or TableFormat()
    if not path.exists():
        raise DataValidationError(path, [Problem(None, None, "file not found")])
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DataValidationError(path, [Problem(None, None, f"unsupported file type '{path.suffix}': "
                                                              f"use one of {', '.join(SUPPORTED_SUFFIXES)}")])
    if path.suffix.lower() == ".csv":
        text, problems = _decode(path, fmt)
        if not problems:
            problems, stripped = _check_csv_shape(text, fmt)
        if problems:
            raise DataValidationError(path, problems)
        del text
        # parsed from the file, not from the decoded text: an io.StringIO of a large table holds it again as
        # four bytes per character (1 GiB more at 10^6 patients) and the C parser re-encodes it, a third slower
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, sep=fmt.delimiter, encoding=_read_encoding(fmt))
        raw.attrs["stripped"] = stripped
        raw.attrs["decimal"] = fmt.decimal
        return raw
    try:
        return pd.read_excel(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # openpyxl/xlrd raise many kinds; all mean "not a readable workbook"
        raise DataValidationError(path, [Problem(None, None, f"not a readable Excel file: {exc}")]) from None


def _read_encoding(fmt: TableFormat) -> str:
    """The codec that reads the file as :func:`_decode` decoded it (a UTF-8 byte-order mark removed)."""
    return "utf-8-sig" if fmt.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else fmt.encoding


def _decode(path: Path, fmt: TableFormat) -> tuple[str, list[Problem]]:
    """The file's text in the declared encoding (a UTF-8 byte-order mark removed), or the row and column of
    the first byte that does not decode, with what the file probably is."""
    data = path.read_bytes()
    utf8 = _read_encoding(fmt) == "utf-8-sig"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") and utf8:
        return "", [Problem(None, None, "not UTF-8 text but UTF-16 (it starts with a UTF-16 byte-order mark): save "
                                        "it as UTF-8, or declare `data.encoding: utf-16` in the study spec")]
    if b"\x00" in data[:4096] and not fmt.encoding.lower().startswith("utf-16"):
        return "", [Problem(None, None, "not UTF-8 text: the file holds NUL bytes (is it a binary file, e.g. an "
                                        "Excel workbook renamed .csv?)")]
    try:
        return data.decode(_read_encoding(fmt)), []
    except UnicodeDecodeError as exc:
        before = data[:exc.start]
        row = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        field = before[line_start:].count(fmt.delimiter.encode()) if fmt.delimiter else 0
        header = data.split(b"\n", 1)[0].decode("latin-1").strip().split(fmt.delimiter)
        column = header[field].strip() if field < len(header) else None
        bad = data[exc.start:exc.start + 1].hex()
        hint = ""
        try:
            data.decode("cp1252")
            hint = (" The file looks like Latin-1 / Windows-1252 text (an older Excel export): save it as UTF-8, or "
                    "declare `data.encoding: cp1252` (or `latin-1`) in the study spec.")
        except UnicodeDecodeError:
            pass
        name = "UTF-8" if utf8 else fmt.encoding
        return "", [Problem(row, column, f"byte 0x{bad} is not valid {name} text (not UTF-8 as declared).{hint}"
                            if utf8 else f"byte 0x{bad} is not valid {name} text.{hint}")]


def _shown_sep(sep: str) -> str:
    return "'\\t'" if sep == "\t" else f"'{sep}'"


def _check_csv_shape(text: str, fmt: TableFormat) -> tuple[list[Problem], bool]:
    """Malformed CSV: a header with another delimiter than declared, or rows whose number of fields differs
    from the header's.

    Also returns whether the text has no blank or tab at all (then no cell needs stripping, which saves a
    Python call per cell).
    """
    sep = fmt.delimiter
    stripped = " " not in text and "\t" not in text
    quoted = '"' in text
    lines = text.splitlines()
    header = next(csv.reader(lines[:1], delimiter=sep), [])
    if not header or not any(cell.strip() for cell in header):
        return [Problem(None, None, "empty file: expected a header row and one row per patient")], stripped
    if len(header) == 1:
        for other, name in ((";", "semicolon"), ("\t", "tab"), (",", "comma"), ("|", "vertical bar")):
            if other != sep and lines[0].count(other) >= 1:
                more = (" Numbers such as 3,5 then need `data.decimal: \",\"` too." if other == ";" else "")
                return [Problem(1, None, f"the header has no {_shown_sep(sep)} but {lines[0].count(other)} "
                                         f"{_shown_sep(other)}: this looks like a {name}-separated file (Excel "
                                         f"writes CSV so in many European locales); declare `data.delimiter: "
                                         f"\"{_shown_sep(other)[1:-1]}\"` in the study spec.{more}")], stripped
    width = len(header)
    if not quoted:
        # no quoted cells: a row's fields are its delimiters + 1 (a blank line has none), no CSV parsing needed
        return [Problem(i + 1, None, f"has {line.count(sep) + 1} fields but the header has {width}")
                for i, line in enumerate(lines) if line and line.count(sep) + 1 != width], stripped
    # rows are parsed one at a time (a large table's cells are never all held as Python strings at once)
    return [Problem(i + 1, None, f"has {len(r)} fields but the header has {width}")
            for i, r in enumerate(csv.reader(lines, delimiter=sep)) if r and len(r) != width], stripped


def load_patients(spec: StudySpec, path: Path | str | None = None, *, today: datetime.date | None = None) -> pd.DataFrame:
    """Load and validate the patient table of ``spec`` (or the file at ``path`` instead of the spec's).

    Returns a DataFrame indexed by the patient id with: the arm as an ordered categorical (reference arm
    first); categorical variables as ordered categoricals in the spec's level order (a cell holding one of the
    variable's ``missing_codes`` is missing); continuous variables as floats; for each continuous variable with
    cut-points an extra categorical column ``<name>_cat`` built like R's ``cut()``; each endpoint's time and
    event columns as floats; and for an endpoint declared from dates, its date columns (``datetime64``) and the
    derived ``<id>_time`` (in ``survival.time_unit``) and ``<id>_event`` (:mod:`helpers.study.dates`).
    ``today`` (default: the day of the run) is the day after which a date is "in the future".
    """
    path = Path(path) if path is not None else spec.patients_file
    return validate_patients(spec, read_table(path, spec.table_format), source=path, today=today)


def validate_patients(spec: StudySpec, raw: pd.DataFrame, source: Path | str = "<in-memory table>", *,
                      today: datetime.date | None = None) -> pd.DataFrame:
    """Validate and type a patient table already in memory, exactly as :func:`load_patients` does a file.

    ``raw`` holds one row per patient with the spec's columns; cells may be text (as read from a file) or
    numbers/categories (converted to text first, so the same checks apply). ``source`` names the table in
    error messages. Returns the typed table of :func:`load_patients` or raises :class:`DataValidationError`.
    """
    path = source
    if not all(dtype == object for dtype in raw.dtypes):
        raw = raw.astype(str).replace({"nan": "", "None": "", "<NA>": "", "NaT": ""})
    else:
        raw = raw.copy(deep=False)  # the column names are tidied below; the cells are not changed
    problems: list[Problem] = []
    raw.columns = [str(c).strip() for c in raw.columns]

    endpoints = list(spec.survival.endpoints.values()) if spec.survival else []
    competing = list(spec.survival.competing_risks.values()) if spec.survival else []
    required = list(dict.fromkeys([spec.id_column, spec.arm.column, *spec.variables,
                                   *[c for ep in endpoints for c in ep.source_columns],
                                   *[c.type_column for c in competing],
                                   *response_columns(spec), *wide_ae_columns(spec)]))
    missing = [c for c in required if c not in raw.columns]
    for c in missing:
        problems.append(Problem(None, c, "required column is missing"
                                + (f" (columns found: {', '.join(raw.columns[:12])}...)" if len(raw.columns) else "")))
    for ep in endpoints:
        for c in (ep.time, ep.event) if ep.from_dates else ():
            if c in raw.columns:
                problems.append(Problem(None, c, f"the table has a column '{c}', but the spec derives '{c}' from the "
                                                 f"dates of endpoint {ep.name}: drop or rename the column, or rename "
                                                 "the endpoint"))
    if problems:
        raise DataValidationError(path, problems)
    if raw.empty:
        raise DataValidationError(path, [Problem(None, None, "the table has a header but no patient rows")])

    rownum = pd.Series(np.arange(len(raw)) + 2, index=raw.index)
    cells = raw if raw.attrs.get("stripped") else raw.apply(lambda s: s.str.strip())
    decimal = raw.attrs.get("decimal", spec.table_format.decimal)

    ids = cells[spec.id_column]
    for i in ids.index[ids.isin(MISSING_TOKENS)]:
        problems.append(Problem(rownum[i], spec.id_column, "patient id is missing"))
    dup = ids[~ids.isin(MISSING_TOKENS) & ids.duplicated(keep="first")]
    for i, value in dup.items():
        first = rownum[ids.index[ids == value][0]]
        problems.append(Problem(rownum[i], spec.id_column, f"duplicate patient id '{value}' (first seen in row {first})"))

    arms = cells[spec.arm.column]
    known_arm = arms.isin(list(spec.arm.labels))
    for i in arms.index[~known_arm]:
        problems.append(Problem(rownum[i], spec.arm.column,
                                f"unknown arm '{arms[i]}': expected one of {list(spec.arm.labels)}"))

    out = pd.DataFrame(index=raw.index)
    out[spec.arm.column] = pd.Categorical(arms.where(known_arm),
                                          categories=spec.arm.codes, ordered=True)
    for name, var in spec.variables.items():
        col = cells[name]
        is_missing = col.isin(MISSING_TOKENS)
        if var.missing_codes:
            is_missing = is_missing | col.isin(list(var.missing_codes))
        if not var.missing_allowed:
            for i in col.index[is_missing]:
                problems.append(Problem(rownum[i], name, "value is missing (set missing_allowed: true in the spec "
                                                         "if missing values are expected)"))
        if var.type == "categorical":
            bad = ~is_missing & ~col.isin(list(var.levels))
            for i in col.index[bad]:
                problems.append(Problem(rownum[i], name, f"unknown category '{col[i]}': expected one of "
                                                         f"{list(var.levels)}"))
            out[name] = pd.Categorical(col.where(~is_missing & ~bad), categories=list(var.levels), ordered=True)
        else:
            values = _numbers(col.where(~is_missing), decimal)
            for i in col.index[~is_missing & values.isna()]:
                problems.append(Problem(rownum[i], name, f"not a number: '{col[i]}'{_decimal_hint(col[i], decimal)}"))
            if var.integer:
                for i in values.index[values.notna() & (values % 1 != 0)]:
                    problems.append(Problem(rownum[i], name, f"value {col[i]} is not a whole number (the spec "
                                                             "declares integer: true)"))
            lo, hi = var.valid_range
            if lo is not None:
                for i in values.index[values < lo]:
                    problems.append(Problem(rownum[i], name, f"value {col[i]} is below the allowed minimum {lo:g}"))
            if hi is not None:
                for i in values.index[values > hi]:
                    problems.append(Problem(rownum[i], name, f"value {col[i]} is above the allowed maximum {hi:g}"))
            out[name] = values.astype(float)
            if var.cut is not None:
                out[name + CUT_SUFFIX] = cut_variable(out[name], var)
    for ep in endpoints:
        if not ep.from_dates:
            _load_endpoint(ep, cells, rownum, out, problems, decimal)
    _load_date_endpoints(spec, [ep for ep in endpoints if ep.from_dates], cells, rownum, out, problems, today)
    if spec.response is not None:
        for crit in spec.response.criteria.values():
            _load_response(crit, spec.response.categories, cells, rownum, out, problems)
    for column in wide_ae_columns(spec):
        grades, bad = _parse_grades(cells[column])
        for i in cells.index[bad]:
            problems.append(Problem(rownum[i], column, f"adverse event grade must be a whole number 0-5 "
                                                       f"(0 = none), got '{cells[column][i]}'"))
        out[column] = grades.where(~bad, 0).astype(int)
    for ep in endpoints:
        if ep.part_of is not None and not problems:
            parent = spec.survival.endpoints[ep.part_of]
            bad = (out[ep.event] == 1) & ((out[parent.event] != 1) | (out[ep.time] != out[parent.time]))
            shown = lambda c, i: cells[c][i] if c in cells.columns else f"{out[c][i]:g}"  # noqa: E731 (derived)
            for i in out.index[bad]:
                problems.append(Problem(rownum[i], ep.events[0] if ep.from_dates else ep.event,
                                        f"a {ep.short} event must also be a {parent.short} "
                                        f"event at the same time ({parent.time} = {shown(parent.time, i)}, "
                                        f"{parent.event} = {shown(parent.event, i)}, {ep.time} = {shown(ep.time, i)})"))
    for cr in competing:
        _load_event_type(spec, cr, cells, rownum, out, problems)
    if problems:
        raise DataValidationError(path, problems)
    # a copy: a view of the ids would keep the whole block of raw text cells alive (1 GiB at 10^6 rows)
    out.index = pd.Index(ids.to_numpy(copy=True), name=spec.id_column)
    return out


def _numbers(col: pd.Series, decimal: str = ".") -> pd.Series:
    """Text cells as floats (NaN: missing or not a number); with ``decimal=","`` 3,5 reads as 3.5."""
    if decimal == ",":
        col = col.str.replace(",", ".", regex=False)
    return pd.to_numeric(col, errors="coerce")


def _decimal_hint(text: str, decimal: str) -> str:
    """Why a cell such as '3,5' is not a number when the spec declares a point as the decimal mark."""
    if decimal == "." and isinstance(text, str) and "," in text:
        if not pd.isna(pd.to_numeric(text.replace(",", "."), errors="coerce")):
            return " (a comma as the decimal mark? declare `data.decimal: \",\"` in the study spec)"
    return ""


def _load_endpoint(ep, cells: pd.DataFrame, rownum: pd.Series, out: pd.DataFrame, problems: list,
                   decimal: str = ".") -> None:
    """Time (a number >= 0) and event (0 or 1) columns of one endpoint; missing values are errors."""
    time_raw, event_raw = cells[ep.time], cells[ep.event]
    times = _numbers(time_raw.where(~time_raw.isin(MISSING_TOKENS)), decimal)
    for i in time_raw.index[times.isna()]:
        what = ("value is missing" if time_raw[i] in MISSING_TOKENS else
                f"not a number: '{time_raw[i]}'{_decimal_hint(time_raw[i], decimal)}")
        problems.append(Problem(rownum[i], ep.time, f"{what} ({ep.short} time)"))
    for i in times.index[times < 0]:
        problems.append(Problem(rownum[i], ep.time, f"negative time {time_raw[i]} ({ep.short} time must be >= 0)"))
    events = _small_numbers(event_raw, EVENT_TEXTS)
    is_indicator = (events == 0) | (events == 1)
    for i in event_raw.index[~is_indicator]:
        problems.append(Problem(rownum[i], ep.event, f"event indicator must be 0 (censored) or 1 (event), got "
                                                     f"'{event_raw[i]}' ({ep.short})"))
    out[ep.time] = times.astype(float)
    out[ep.event] = events.where(is_indicator).astype(float)


def _load_event_type(spec: StudySpec, cr, cells: pd.DataFrame, rownum: pd.Series, out: pd.DataFrame,
                     problems: list) -> None:
    """The first-event type column of a competing-risks analysis: one of the declared types, or the censored
    code exactly where the endpoint is censored, and each cause's types exactly where its endpoint has an event."""
    col = cells[cr.type_column]
    codes = [*cr.types, cr.censored]
    ok = col.isin(codes)
    for i in col.index[~ok]:
        what = "value is missing" if col[i] in MISSING_TOKENS else f"unknown event type '{col[i]}'"
        problems.append(Problem(rownum[i], cr.type_column, f"{what}: expected one of {codes}"))
    typed = pd.Categorical(col.where(ok), categories=codes)
    out[cr.type_column] = typed
    if problems:
        return
    ep = spec.survival.endpoints[cr.endpoint]
    censored = (col == cr.censored).to_numpy()
    bad = censored != (out[ep.event].to_numpy() == 0)
    for i in col.index[bad]:
        problems.append(Problem(rownum[i], cr.type_column, f"type '{col[i]}' but {ep.event} = {out[ep.event][i]:g}: "
                                f"'{cr.censored}' (censored) exactly where {ep.short} is censored"))
    for cause in cr.causes.values():
        if cause.endpoint is None:
            continue
        sub = spec.survival.endpoints[cause.endpoint]
        is_cause = col.isin(list(cause.types)).to_numpy()
        bad = is_cause != (out[sub.event].to_numpy() == 1)
        for i in col.index[bad]:
            problems.append(Problem(rownum[i], cr.type_column, f"type '{col[i]}' but {sub.event} = "
                                    f"{out[sub.event][i]:g}: the {sub.short} events are the types "
                                    f"{list(cause.types)}"))


def _load_date_endpoints(spec: StudySpec, endpoints: list, cells: pd.DataFrame, rownum: pd.Series,
                         out: pd.DataFrame, problems: list, today: datetime.date | None) -> None:
    """Endpoints declared from dates: each date column read once (as ``datetime64`` in ``out``), then each
    endpoint's ``<id>_time`` and ``<id>_event`` derived and every row checked (:mod:`helpers.study.dates`).
    One problem per cell: a date shared by two endpoints (the death date of PFS and OS) is reported once."""
    from helpers.study import dates

    if not endpoints:
        return
    today = today or datetime.date.today()
    fmt = spec.table_format.date_format
    columns = list(dict.fromkeys(c for ep in endpoints for c in ep.date_columns))
    days, missing, found, bad = {}, {}, [], set()
    for column in columns:
        missing[column] = cells[column].isin(MISSING_TOKENS)
        days[column], column_problems, column_bad = dates.read_dates(column, cells[column], missing[column], fmt, today)
        found += column_problems
        bad |= column_bad
        out[column] = _as_datetimes(days[column])
    for ep in endpoints:
        time, event, endpoint_problems = dates.derive_endpoint(ep, days, cells, missing, bad,
                                                               spec.survival.time_unit, spec.cutoff_date)
        found += endpoint_problems
        out[ep.time], out[ep.event] = time, event
    seen = set()
    for i, column, message in sorted(found, key=lambda problem: rownum[problem[0]]):
        if (i, column) not in seen:
            seen.add((i, column))
            problems.append(Problem(rownum[i], column, message))


def _as_datetimes(days: pd.Series) -> pd.Series:
    """Days since 1970-01-01 (NaN: no date) as ``datetime64[ns]`` (NaT), by whole days (no float arithmetic)."""
    values = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[ns]")
    present = days.notna().to_numpy()
    values[present] = days.to_numpy()[present].astype(np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    return pd.Series(values, index=days.index)


def response_columns(spec: StudySpec) -> list[str]:
    """Best-overall-response columns of the spec's response criteria (empty without a response section)."""
    return [c.column for c in spec.response.criteria.values()] if spec.response is not None else []


def wide_ae_columns(spec: StudySpec) -> list[str]:
    """Grade columns of wide-format adverse events, in term order (empty otherwise)."""
    ae = spec.adverse_events
    if ae is None or ae.format != "wide":
        return []
    return [ae.column(t) for t in ae.terms]


def _load_response(crit, categories, cells: pd.DataFrame, rownum: pd.Series, out: pd.DataFrame,
                   problems: list) -> None:
    """A best overall response column: one of the declared categories; missing values are errors."""
    col = cells[crit.column]
    ok = col.isin(list(categories))
    for i in col.index[~ok]:
        what = "value is missing" if col[i] in MISSING_TOKENS else f"unknown response category '{col[i]}'"
        problems.append(Problem(rownum[i], crit.column, f"{what} ({crit.label} best overall response): expected one "
                                                        f"of {list(categories)}"))
    out[crit.column] = pd.Categorical(col.where(ok), categories=list(categories), ordered=True)


def _parse_grades(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numeric grades and a mask of cells that are not whole numbers 0-5 (missing included)."""
    values = _small_numbers(col, GRADE_TEXTS)
    bad = ~(values.between(0, 5) & (values % 1 == 0))  # NaN fails both tests
    return values, bad


#: How event indicators and adverse-event grades are almost always written.
EVENT_TEXTS = ("0", "1")
GRADE_TEXTS = ("0", "1", "2", "3", "4", "5")


def _small_numbers(col: pd.Series, usual: tuple[str, ...]) -> pd.Series:
    """The numbers in text cells ``col`` as floats (NaN: missing or not a number), as ``pd.to_numeric`` reads them.

    The ``usual`` texts (whole numbers such as "0" and "1") are looked up in a hash table: ``pd.to_numeric``
    on a million Python strings is what made loading slow. Only the other cells ("1.0", "x", "NA", ...) go
    through ``pd.to_numeric``, so every value, and every cell found bad, is the same as before.
    """
    codes = pd.Index(usual).get_indexer(col.to_numpy())
    values = np.array([float(text) for text in usual])[codes]
    other = codes < 0
    if other.any():
        rest = col[other]
        values[other] = pd.to_numeric(rest.where(~rest.isin(MISSING_TOKENS)), errors="coerce").to_numpy(float)
    return pd.Series(values, index=col.index)


def load_adverse_events(spec: StudySpec, data_index: pd.Index, path: Path | str | None = None) -> pd.DataFrame:
    """Read a long-format adverse-event file (``<id column>, term, grade``; one row per event) as a wide table.

    Returns one integer grade column per term (named by the term code, in the spec's order), indexed by
    ``data_index`` (the patient ids), holding each patient's maximum grade per term, 0 when the patient has
    no row for the term.  Raises :class:`DataValidationError` naming file, row and column for grades outside
    0-5, unknown terms, patient ids not in ``data_index``, missing columns or empty cells.
    """
    ae = spec.adverse_events
    if ae is None or ae.format != "long":
        raise ValueError(f"study '{spec.study_id}' has no long-format adverse_events section")
    path = Path(path) if path is not None else spec.folder / str(ae.file)
    raw = read_table(path, spec.table_format)
    raw.columns = [str(c).strip() for c in raw.columns]
    id_col = spec.id_column
    missing = [c for c in (id_col, "term", "grade") if c not in raw.columns]
    if missing:
        raise DataValidationError(path, [Problem(None, c, "required column is missing (columns found: "
                                                          f"{', '.join(raw.columns)})") for c in missing])
    cells = raw.apply(lambda s: s.str.strip()) if not raw.empty else raw
    rownum = pd.Series(np.arange(len(raw)) + 2, index=raw.index)
    problems: list[Problem] = []
    known = set(map(str, data_index))
    ids, terms = cells[id_col], cells["term"]
    for i in ids.index[~ids.isin(known)]:
        what = "patient id is missing" if ids[i] in MISSING_TOKENS else f"unknown patient id '{ids[i]}'"
        problems.append(Problem(rownum[i], id_col, f"{what}: not in the patient table"))
    for i in terms.index[~terms.isin(list(ae.terms))]:
        what = "term is missing" if terms[i] in MISSING_TOKENS else f"unknown adverse event term '{terms[i]}'"
        problems.append(Problem(rownum[i], "term", f"{what}: expected one of {list(ae.terms)}"))
    grades, bad = _parse_grades(cells["grade"])
    for i in cells.index[bad]:
        problems.append(Problem(rownum[i], "grade", f"adverse event grade must be a whole number 0-5, "
                                                    f"got '{cells['grade'][i]}'"))
    if problems:
        raise DataValidationError(path, problems)
    long = pd.DataFrame({"id": ids, "term": terms, "grade": grades.astype(int)})
    wide = long.pivot_table(index="id", columns="term", values="grade", aggfunc="max") if len(long) else None
    out = pd.DataFrame(0, index=pd.Index(data_index, name=id_col), columns=list(ae.terms), dtype=int)
    if wide is not None:
        wide = wide.reindex(index=out.index.astype(str), columns=list(ae.terms)).fillna(0).astype(int)
        out[:] = wide.to_numpy()
    return out


def adverse_event_grades(spec: StudySpec, data: pd.DataFrame, known_ids: pd.Index | None = None) -> pd.DataFrame:
    """Maximum grade per patient (rows, ``data``'s index) and term (columns: term codes, spec order).

    Wide format reads the ``<prefix><term>`` columns of ``data`` (from :func:`load_patients`); long format
    reads the spec's file with :func:`load_adverse_events`.  ``known_ids`` are the ids the long file may
    mention (default ``data.index``; pass the full patient table's index when ``data`` is a sub-cohort).
    """
    ae = spec.adverse_events
    if ae is None:
        raise ValueError(f"study '{spec.study_id}' has no adverse_events section")
    if ae.format == "wide":
        grades = data[[ae.column(t) for t in ae.terms]].copy()
        grades.columns = list(ae.terms)
        return grades.astype(int)
    full = load_adverse_events(spec, known_ids if known_ids is not None else data.index)
    return full.loc[data.index]


def cut_variable(values: pd.Series, var: Variable) -> pd.Series:
    """Categorise ``values`` with ``var.cut`` exactly like R's ``cut(x, c(-Inf, breaks, Inf), right=...)``."""
    assert var.cut is not None
    edges = [-np.inf, *var.cut.breaks, np.inf]
    codes = pd.cut(values, bins=edges, labels=list(var.cut.levels), right=var.cut.right)
    return pd.Categorical(codes, categories=list(var.cut.levels), ordered=True)


def value_masks(values: pd.Series, wanted) -> dict:
    """``{w: (values == w).to_numpy()}`` for each of ``wanted`` (e.g. the arm codes or a variable's levels).

    One hash lookup (categorical codes; a recoding only when ``values`` is already categorical) instead of
    one whole-column object comparison per wanted value, which is what made the per-arm counts slow.
    """
    wanted = list(wanted)
    position = level_codes(values, wanted)
    return {w: position == i for i, w in enumerate(wanted)}


def patients_per_arm(in_arm: dict, analysis: str, where: str = "") -> dict:
    """``{arm: number of patients}`` from :func:`value_masks` of the arm column; a ValueError naming the
    ``analysis`` (and ``where``, e.g. " in the matched cohort") when an arm has none."""
    n = {a: int(m.sum()) for a, m in in_arm.items()}
    empty = [a for a, k in n.items() if k == 0]
    if empty:
        raise ValueError(f"{analysis} needs patients in both arms; arm(s) {empty} have none{where}")
    return n


def level_codes(values: pd.Series, wanted) -> np.ndarray:
    """Position of each value in ``wanted`` (-1: missing or any other value), by one hash lookup."""
    return pd.Categorical(values, categories=list(wanted)).codes


def analysis_column(spec: StudySpec, name: str) -> str:
    """The column analyses use for variable ``name``: its cut categories when it is summarised as such."""
    var = spec.variables[name]
    if var.type == "continuous" and var.cut is not None and var.summarise_as == "categorical":
        return name + CUT_SUFFIX
    return name
