"""A draft study specification from a patient table: ``python -m helpers.build --draft-spec FILE --study ID``.

The draft is the first hour of an author's work done for them: every column of the table (CSV or Excel) is
looked at and guessed, and each guess is written with a short ``# check:`` comment saying what it rests on:

* the **id** column: unique and never missing, preferably named like an id (``record_id``, ``patient_id``);
* the **arm** column: exactly two values and named like an arm (``arm``, ``group``, ``treatment``, ``rx``);
  without such a name the choice is left as a TODO (sex has two values as well);
* **dates**: every cell a date (YYYY-MM-DD, DD/MM/YYYY or MM/DD/YYYY, DD-Mon-YYYY); whether slashed dates are
  day first or month first is decided only by a date that can be read one way (13/05/2021) or by the data
  dictionary, otherwise it is a TODO;
* **categorical** columns: few distinct values (text with up to 10, whole numbers with up to 6); the observed
  codes become the levels, and codes that look like "unknown" (9 beside 1/2, 99 far above the other values,
  "unknown") become ``missing_codes``;
* **continuous** columns: numbers, with their observed range and decimals;
* the **survival** section: endpoints from the date columns (start: randomisation, treatment start, ...;
  events: progression or recurrence, death; last seen) or from time/event column pairs (``os_months`` and
  ``os_event``), with a TODO where no column fits.

A REDCap data dictionary (its CSV export), when given, supplies each field's label, its choices as the levels
(``1, Male | 2, Female``; yes/no fields as 0 = No, 1 = Yes; each option of a checkbox field, exported as
``<field>___<code>``, as 0 = Unchecked, 1 = Checked), the codes whose label means unknown as missing codes, and
its date validation (date_dmy: day first).

The draft validates against the spec's schema as written; :func:`helpers.study.spec.load_spec` accepts it once
every TODO is replaced. It never overwrites an existing spec.
"""
from __future__ import annotations

import csv
import datetime
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from helpers.study import dates as datemod
from helpers.study.patients import MISSING_TOKENS, DataValidationError, read_table
from helpers.study.dates import DAYS_PER_UNIT
from helpers.study.spec import TableFormat, read_yaml_with_lines

#: Text values that mean "unknown" in exports.
UNKNOWN_WORDS = {"unknown", "unk", "not known", "missing", "n/k", "nk", "?", "not recorded", "not available",
                 "not done", "unknown/not reported", "not reported"}
MAX_TEXT_LEVELS = 10
MAX_NUMBER_LEVELS = 6

_ID_NAME = re.compile(r"(^|[_\W])(id|pid|mrn|record|patient|subject|case|study_?no|number)([_\W]|$)|id$", re.I)
_ARM_NAME = re.compile(r"arm|group|treat|trt|^rx$|rx_|regimen|cohort|therapy|allocat|randomi[sz]ed_to|^tx$", re.I)
_START_NAME = re.compile(r"rand|start|begin|enrol|entry|registr|baseline|index|treat|first|surg|diag", re.I)
_DEATH_NAME = re.compile(r"death|dead|died|\bdod\b|_dod|decease|mort", re.I)
_PROGRESSION_NAME = re.compile(r"prog|recur|relapse|\bpd\b|_pd|metast", re.I)
_LAST_NAME = re.compile(r"last|follow|\bfu\b|_fu|lfu|contact|alive|censor|seen", re.I)
_DURATION = re.compile(r"^(?P<ep>os|pfs|rfs|dfs|efs|ttp|dss|css|mfs|lrfs)[_.]?(?P<unit>time|months?|mo|days?|weeks?|"
                       r"years?|yrs?)?$", re.I)
_EVENT = re.compile(r"^(?P<ep>os|pfs|rfs|dfs|efs|ttp|dss|css|mfs|lrfs)[_.]?(event|status|cens(or)?|ind|e)$", re.I)
ENDPOINT_NAMES = {"os": ("Overall survival", "OS"), "pfs": ("Progression-free survival", "PFS"),
                  "rfs": ("Recurrence-free survival", "RFS"), "dfs": ("Disease-free survival", "DFS"),
                  "efs": ("Event-free survival", "EFS"), "ttp": ("Time to progression", "TTP"),
                  "dss": ("Disease-specific survival", "DSS"), "css": ("Cancer-specific survival", "CSS"),
                  "mfs": ("Metastasis-free survival", "MFS"), "lrfs": ("Local recurrence-free survival", "LRFS")}
_NAMED_MONTH_FORMATS = ("%d-%b-%Y", "%d %b %Y", "%d-%B-%Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d.%b.%Y")
_ISO = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})(?:[ T]00:00(?::00)?)?")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class DraftError(ValueError):
    """The draft cannot be written (a spec exists, the table cannot be read, a bad study id)."""


# ------------------------------------------------------------------------------------------ the dictionary
@dataclass
class Field_:
    """One field of a REDCap data dictionary."""

    name: str
    type: str
    label: str
    choices: dict[str, str]
    validation: str
    note: str
    minimum: str
    maximum: str


def read_redcap_dictionary(path: Path) -> dict[str, Field_]:
    """Fields of a REDCap data dictionary (CSV as REDCap exports it), by field name.

    The columns are recognised by the start of their names (``Variable / Field Name``, ``Field Type``,
    ``Field Label``, ``Choices, Calculations, OR Slider Labels``, ``Text Validation Type ...``, ``Field Note``,
    ``Text Validation Min``/``Max``); a file without the first three is refused. Choices ``1, Male | 2, Female``
    become ``{"1": "Male", "2": "Female"}``; a yes/no field gets ``{"0": "No", "1": "Yes"}``, a true/false field
    ``{"0": "False", "1": "True"}``; HTML tags in labels are removed.
    """
    path = Path(path)
    if not path.exists():
        raise DraftError(f"{path}: data dictionary not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise DraftError(f"{path}: the data dictionary is empty")
    header = [h.strip().lower() for h in rows[0]]

    def col(prefix: str, required: bool = False) -> int | None:
        found = next((i for i, h in enumerate(header) if h.startswith(prefix)), None)
        if found is None and required:
            raise DraftError(f"{path}: not a REDCap data dictionary: no column starting '{prefix}' (columns: "
                             f"{', '.join(rows[0][:8])})")
        return found

    name_i, type_i, label_i = col("variable", True), col("field type", True), col("field label", True)
    choices_i, valid_i, note_i = col("choices"), col("text validation type"), col("field note")
    min_i, max_i = col("text validation min"), col("text validation max")
    fields = {}
    for number, row in enumerate(rows[1:], start=2):
        def cell(i):
            return row[i].strip() if i is not None and i < len(row) else ""
        name = cell(name_i)
        if not name:
            continue
        kind = cell(type_i).lower()
        choices = {}
        if kind == "yesno":
            choices = {"0": "No", "1": "Yes"}
        elif kind == "truefalse":
            choices = {"0": "False", "1": "True"}
        elif kind in ("radio", "dropdown", "checkbox") and cell(choices_i):
            for part in cell(choices_i).split("|"):
                code, sep, label = part.partition(",")
                if not sep:
                    raise DraftError(f"{path}: row {number}, column 'Choices, Calculations, OR Slider Labels': choice "
                                     f"'{part.strip()}' of field '{name}' is not 'code, label'")
                choices[code.strip()] = _strip_html(label.strip())
        fields[name] = Field_(name, kind, _strip_html(cell(label_i)), choices, cell(valid_i).lower(), cell(note_i),
                              cell(min_i), cell(max_i))
    return fields


def _strip_html(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()


def _unknown_label(label: str) -> bool:
    return label.strip().lower() in UNKNOWN_WORDS or bool(re.match(r"(unknown|not known|missing)\b", label.strip(),
                                                                   re.I))


def _note_codes(note: str) -> list[str]:
    """Missing codes a field note declares: '99 = unknown', '9: not known'."""
    return [m.group(1) for m in re.finditer(r"(-?\w+)\s*[=:]\s*(unknown|not known|missing|unk)\b", note, re.I)]


# ------------------------------------------------------------------------------------------ the columns
@dataclass
class Column:
    """What the draft found in one column."""

    name: str
    values: pd.Series                 # the non-missing cells (text)
    n_missing: int                    # empty, NA, . ...
    kind: str = "skip"                # id | arm | date | categorical | continuous | skip
    why: str = ""                     # the comment of the guess
    levels: dict[str, str] = field(default_factory=dict)
    missing_codes: list[str] = field(default_factory=list)
    label: str = ""
    unit: str | None = None
    date_format: str | None = None    # a date column: iso, numeric (DD/MM or MM/DD), or a strptime format
    source: str = "the data"

    @property
    def distinct(self) -> list[str]:
        return _sorted_codes(pd.unique(self.values.to_numpy()).tolist())


def _sorted_codes(codes: list[str]) -> list[str]:
    """Numbers in numeric order, then text in alphabetical order."""
    def key(c):
        try:
            return (0, float(c), "")
        except ValueError:
            return (1, 0.0, c.lower())
    return sorted(codes, key=key)


def _is_number(text: str) -> bool:
    return bool(_NUMBER.fullmatch(text))


def _decimals(text: str) -> int:
    return len(text.split(".", 1)[1]) if "." in text and "e" not in text.lower() else 0


def _date_kind(values: pd.Series) -> str | None:
    """'iso', 'numeric' (DD/MM/YYYY or MM/DD/YYYY), a named-month strptime format, or None: not a date column."""
    unique = pd.unique(values.to_numpy())
    if not len(unique):
        return None
    if all(_ISO.fullmatch(v) for v in unique):
        return "iso"
    if all(_ISO.fullmatch(v) or _NUMERIC_DATE.fullmatch(v) for v in unique):
        return "numeric"
    for fmt in _NAMED_MONTH_FORMATS:
        try:
            for v in unique:
                if not _ISO.fullmatch(v):
                    datetime.datetime.strptime(v, fmt)
            return fmt
        except ValueError:
            continue
    return None


def _humanised(name: str) -> str:
    text = re.sub(r"[_.]+", " ", name).strip()
    return (text[:1].upper() + text[1:]) if text else name


def _label_and_unit(label: str) -> tuple[str, str | None]:
    """'Age at registration (years)' -> ('Age at registration', 'years')."""
    m = re.fullmatch(r"(.+?)\s*\(([^()]{1,12})\)", label)
    if m and not any(ch.isdigit() for ch in m.group(2)):
        return m.group(1), m.group(2)
    return label, None


def _profile(name: str, cells: pd.Series, fields: dict[str, Field_]) -> Column:
    missing = cells.isin(MISSING_TOKENS)
    col = Column(name, cells[~missing], int(missing.sum()))
    f = fields.get(name)
    base, _, option = name.rpartition("___")
    if f is None and base in fields and fields[base].type == "checkbox":  # REDCap exports a checkbox per option
        box = fields[base]
        f = Field_(name, "checkbox option", f"{box.label}: {box.choices.get(option, option)}",
                   {"0": "Unchecked", "1": "Checked"}, "", "", "", "")
    col.label, col.unit = _label_and_unit(f.label) if f and f.label else (_humanised(name), None)
    if f:
        col.source = "the data dictionary"
    n = len(col.values)
    distinct = col.distinct
    if name.lower().startswith("redcap_") or name.lower().endswith("_complete"):
        col.why = "REDCap's bookkeeping column"
        return col
    if n == 0:
        col.why = "every cell is empty"
        return col
    kind = _date_kind(col.values)
    if f is not None and f.validation.startswith("date") and kind is None:  # said a date, is not: left out
        col.why = f"the data dictionary says {f.validation}, but cells such as '{col.values.iloc[0]}' are not dates"
        return col
    if kind is not None:
        col.kind, col.date_format = "date", kind
        col.why = f"every cell is a date ({_plural(n, 'cell')})"
        return col
    if len(distinct) == 1:
        col.why = f"one value only ({distinct[0]!r})"
        return col
    numeric = all(_is_number(v) for v in distinct)
    unknown = [v for v in distinct if v.strip().lower() in UNKNOWN_WORDS]
    choices = f.choices if f is not None and f.type in ("radio", "dropdown", "yesno", "truefalse",
                                                         "checkbox option") else {}
    if choices:
        col.kind = "categorical"
        col.missing_codes = [c for c, lab in choices.items() if _unknown_label(lab)]
        col.levels = {c: lab for c, lab in choices.items() if c not in col.missing_codes and c in distinct}
        unused = [f"{c} ({lab})" for c, lab in choices.items() if c not in distinct and c not in col.missing_codes]
        extra = [v for v in distinct if v not in choices]
        col.why = f"a {f.type} field of the data dictionary"
        if unused:
            col.why += f"; not in the table: {', '.join(unused)}"
        if extra:
            col.why += f"; in the table but not among its choices: {', '.join(extra)}"
            col.levels.update({v: v for v in extra})
        return col
    codes = [v for v in distinct if v not in unknown]
    if numeric:
        numbers = {v: float(v) for v in codes}
        candidates = _numeric_missing_codes(numbers, whole=all(x == int(x) for x in numbers.values()))
        if f is not None:
            candidates = list(dict.fromkeys([*_note_codes(f.note), *candidates]))
        candidates = [c for c in candidates if c in numbers]
        codes = [v for v in codes if v not in candidates]
        whole = all(float(v) == int(float(v)) for v in codes)
        col.missing_codes = unknown + candidates
        if whole and len(codes) <= MAX_NUMBER_LEVELS and not (f is not None and f.validation in ("integer", "number")
                                                              and len(codes) > 2):
            col.kind = "categorical"
            col.levels = {v: v for v in codes}
            col.why = f"{_plural(len(codes), 'distinct whole number')}"
        else:
            col.kind = "continuous"
            col.why = f"numbers, {_plural(len(codes), 'distinct value')}"
        return col
    if len(codes) <= MAX_TEXT_LEVELS:
        col.kind, col.levels, col.missing_codes = "categorical", {v: v for v in codes}, unknown
        col.why = f"text, {_plural(len(codes), 'distinct value')}"
        return col
    col.why = f"text with {len(distinct)} distinct values (free text or names?)"
    return col


def _numeric_missing_codes(numbers: dict[str, float], whole: bool) -> list[str]:
    """Codes such as 9 beside 1/2/3, or 99 far above the other values, that exports use for "unknown"."""
    out = []
    for code, value in numbers.items():
        others = [x for c, x in numbers.items() if c != code]
        if not others or value not in (9, 99, 999, 9999, -9, -99, -999, 8888, 888):
            continue
        if value > 0 and len(others) >= 2 and all(x >= 0 for x in others):
            if whole and len(others) <= MAX_NUMBER_LEVELS and value - max(others) >= 2 and value in (9, 99, 999):
                out.append(code)
            elif value > 2 * max(others) and max(others) > 0:
                out.append(code)
        elif value < 0 and all(x >= 0 for x in others):
            out.append(code)
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# ------------------------------------------------------------------------------------------ YAML writing
def _reads_as(text: str, flow: bool) -> object:
    source = f"k: [{text}]\n" if flow else f"k: {text}\n"
    try:
        value = read_yaml_with_lines(source, "draft")[0]["k"]
    except Exception:  # noqa: BLE001 -- any YAML error means: quote it
        return None
    return value[0] if flow and isinstance(value, list) and len(value) == 1 else (None if flow else value)


def scalar(text: str, flow: bool = False) -> str:
    """``text`` as a YAML scalar that reads back as the same text: plain when it can be, else double-quoted."""
    text = str(text)
    if text and text == text.strip() and not text.upper().startswith("TODO") and _reads_as(text, flow) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def code(text: str, flow: bool = False) -> str:
    """A level code as the cell holds it: a whole number plain (YAML reads 1 as a number, the spec compares it as
    the text '1'), anything else as text that reads back unchanged."""
    if re.fullmatch(r"-?(0|[1-9]\d{0,15})", text):
        return text
    return scalar(text, flow)


def flow_mapping(items: dict[str, str]) -> str:
    return "{" + ", ".join(f"{code(k, True)}: {scalar(v, True)}" for k, v in items.items()) + "}"


def flow_list(items, codes: bool = False) -> str:
    return "[" + ", ".join((code(str(v), True) if codes else scalar(str(v), True)) for v in items) + "]"


def wrapped_list(prefix: str, items: list[str], width: int = 64) -> list[str]:
    """``prefix [a, b, ...]`` as a flow list over as many lines as it needs (continuation lines aligned)."""
    parts = [scalar(str(v), True) for v in items]
    lines, current = [], prefix + "["
    indent = " " * len(current)
    for i, part in enumerate(parts):
        piece = part + ("]" if i == len(parts) - 1 else ",")
        if len(current) + len(piece) + 1 > width and current.strip() not in (prefix.strip() + "[",):
            lines.append(current.rstrip())
            current = indent
        current += piece if current.endswith(("[", " ")) else " " + piece
    lines.append(current if parts else prefix + "[]")
    return lines


def todo(what: str) -> str:
    return json.dumps(f"TODO: {what}", ensure_ascii=False)


class _Lines:
    """Lines of YAML with their comments, aligned when written."""

    def __init__(self):
        self.rows: list[tuple[str, str]] = []

    def add(self, text: str, comment: str = "") -> None:
        self.rows.append((text, comment))

    def check(self, text: str, why: str) -> None:
        self.add(text, f"check: {why}" if why else "check")

    def blank(self) -> None:
        self.rows.append(("", ""))

    def text(self) -> str:
        widths = [len(t) for t, c in self.rows if c and len(t) <= 44]
        column = (max(widths) + 2) if widths else 0
        out = []
        for text, comment in self.rows:
            if not comment:
                out.append(text.rstrip())
            elif not text:
                out.append(f"# {comment}")
            else:
                out.append(f"{text.ljust(column) if len(text) < column else text + '  '}# {comment}".rstrip())
        return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------------------------------ the guesses
def _best(columns: list[Column], pattern: re.Pattern) -> Column | None:
    named = [c for c in columns if pattern.search(c.name) or pattern.search(c.label)]
    return named[0] if named else None


def _day_month(dates: list[Column], fields: dict[str, Field_]) -> tuple[str | None, str]:
    """The date_format of the table's date columns and why, or (None, why) when it needs a decision."""
    numeric = [c for c in dates if c.date_format == "numeric"]
    named = sorted({c.date_format for c in dates if c.date_format not in ("iso", "numeric")})
    if named and numeric or len(named) > 1:
        return None, "the date columns are written in different forms: make them one (e.g. DD/MM/YYYY)"
    if named:
        return named[0], f"dates such as '{next(c for c in dates if c.date_format == named[0]).values.iloc[0]}'"
    if not numeric:
        return "iso", "every date is written YYYY-MM-DD"
    said = {fields[c.name].validation for c in numeric if c.name in fields and fields[c.name].validation}
    day_first = month_first = None
    for c in numeric:
        for text in pd.unique(c.values.to_numpy()):
            m = _NUMERIC_DATE.fullmatch(text)
            if m and int(m.group(1)) > 12 and day_first is None:
                day_first = f"'{text}'"
            if m and int(m.group(3)) > 12 and month_first is None:
                month_first = f"'{text}'"
    if day_first and month_first:
        return None, f"{day_first} can only be day first but {month_first} only month first: correct the table first"
    if said == {"date_dmy"} and not month_first:
        return "day_first", "date_dmy in the dictionary" + (f"; {day_first} is day first" if day_first else "")
    if said == {"date_mdy"} and not day_first:
        return "month_first", "date_mdy in the dictionary" + (f"; {month_first} is month first"
                                                                     if month_first else "")
    if day_first:
        return "day_first", f"dates such as {day_first} can only be day first (DD/MM/YYYY)"
    if month_first:
        return "month_first", f"dates such as {month_first} can only be month first (MM/DD/YYYY)"
    return None, "no date shows whether 03/05 is 3 May (day_first) or March 5 (month_first)"


def _days(column: Column, fmt: str | None) -> pd.Series:
    """A date column as days since 1970-01-01 (NaN where it cannot be read with ``fmt``)."""
    reading = "day_first" if fmt is None else fmt
    parsed = {t: datemod.parse_date(t, reading)[0] for t in pd.unique(column.values.to_numpy())}
    return column.values.map(parsed).astype(float)


def _nice_times(longest: float, unit: str) -> list[float]:
    steps = {"days": [30, 90, 180, 365, 730], "weeks": [4, 13, 26, 52, 104], "months": [3, 6, 12, 24, 36, 60],
             "years": [1, 2, 5, 10]}[unit]
    step = next((s for s in steps if longest / s <= 8), steps[-1])
    return [float(step * k) for k in range(int(math.floor(longest / step)) + 1)]


def _number_text(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}" if decimals else f"{int(round(x))}"


@dataclass
class Draft:
    """The draft's text and what it found (for the command's summary)."""

    text: str
    todos: int
    checks: int
    columns: int
    rows: int


def draft_spec(table: Path, study_id: str, folder: Path, dictionary: Path | None = None,
               command: str | None = None) -> Draft:
    """The draft ``study.yaml`` for ``table`` (CSV or Excel) in study folder ``folder`` (``data.patients`` is
    written relative to it). ``dictionary``: a REDCap data dictionary (CSV) for labels, levels and dates."""
    table = Path(table)
    fmt = sniff_format(table)
    raw = read_table(table, fmt)
    raw.columns = [str(c).strip() for c in raw.columns]
    cells = raw.apply(lambda s: s.str.strip()) if len(raw) else raw
    if raw.empty:
        raise DraftError(f"{table}: the table has a header but no rows")
    fields = read_redcap_dictionary(dictionary) if dictionary is not None else {}
    columns = [_profile(name, cells[name], fields) for name in cells.columns]
    n = len(cells)

    lines = _Lines()
    rel = Path(os.path.relpath(table.resolve(), Path(folder).resolve())).as_posix()
    lines.add("# yaml-language-server: $schema=../study.schema.json")
    lines.add(f"# Draft study specification of {table.name} ({_plural(n, 'row')}, {_plural(len(columns), 'column')})"
              + (f" and {Path(dictionary).name}" if dictionary else "") + ", written by")
    words, current = (command or "python -m helpers.build --draft-spec").split(" --"), ""
    for i, word in enumerate(words):
        piece = word if i == 0 else f"--{word}"
        if current and len(current) + len(piece) > 100:
            lines.add(f"#   {current.rstrip()}")
            current = "  "
        current += piece + " "
    lines.add(f"#   {current.rstrip()}")
    lines.add("# Every guess is marked `# check:`; each TODO must be replaced before the spec validates. Then:")
    lines.add(f"#   .venv/bin/python -m helpers.build --validate-only --patients {study_id}=<the table>")
    lines.add("# Every key: book/spec_format.md.")
    lines.add(f"study_id: {scalar(study_id)}")
    lines.add(f"title: {todo('the title of the study, as the pages show it')}")
    lines.check("synthetic: false", "true only if the table is made up")
    lines.check("design:", "how the arms were assigned (the pages' words on design)")
    lines.check("  type: observational", "randomised if assigned at random (a trial)")
    lines.check("  timing: retrospective", "prospective if collected as patients were followed")
    lines.add('  # time_zero: "..."', "optional: when follow-up starts (the checklist page shows it)")
    lines.add('  # immortal_time: "..."', "optional: any period one arm could not have the event")
    lines.blank()

    # -- data
    by_name = {c.name: c for c in columns}
    unique = [c for c in columns if c.n_missing == 0 and c.values.is_unique and c.kind != "date"]
    id_col = _best(unique, _ID_NAME) or (unique[0] if unique else None)
    lines.add("data:")
    lines.add(f"  patients: {scalar(rel)}", "relative to this folder")
    if id_col is not None:
        lines.check(f"  id_column: {scalar(id_col.name)}", f"unique and never missing in all {n} rows"
                    + ("" if _ID_NAME.search(id_col.name) else "; not named like an id"))
        id_col.kind = "id"
    else:
        lines.add(f"  id_column: {todo('the column of patient ids')}", "no column is unique and never missing")
    if fmt.delimiter != ",":
        lines.check(f"  delimiter: {json.dumps(fmt.delimiter)}", "the header is separated so")
    if fmt.decimal != ".":
        lines.check(f'  decimal: ","', "numbers such as 3,5")
    if fmt.encoding != "utf-8":
        lines.check(f"  encoding: {fmt.encoding}", "the file is not UTF-8 text")
    date_cols = [c for c in columns if c.kind == "date"]
    date_format, date_why = _day_month(date_cols, fields) if date_cols else (None, "")
    if date_cols:
        if date_format is None:
            lines.add(f"  date_format: {todo('day_first or month_first')}", date_why)
        elif date_format != "iso":
            lines.check(f"  date_format: {scalar(date_format)}", date_why)
        else:
            lines.check("  date_format: iso", date_why)
    lines.add(f"  # source: \"...\"", "optional: where the data come from (shown on every page)")
    if date_cols:
        lines.add(f"  # cutoff_date: YYYY-MM-DD", "optional: the data cut-off; later events are censored at it")
    lines.blank()

    # -- arm
    two = [c for c in columns if c.kind in ("categorical",) and len(c.levels) == 2 and c.n_missing == 0
           and not c.missing_codes]
    arm = _best(two, _ARM_NAME)
    lines.add("arm:")
    if arm is not None:
        arm.kind = "arm"
        codes = list(arm.levels)
        lines.check(f"  column: {scalar(arm.name)}", f"two values, {', '.join(codes)}; named like an arm")
        lines.check(f"  reference: {code(codes[0])}", f"the comparator: hazard ratios are {codes[1]} vs {codes[0]}")
        lines.add("  levels:")
        for c in codes:
            lines.check(f"    {code(c)}: {scalar(arm.levels[c])}", f"the label of arm {c} in the book"
                        + (f" (from {arm.source})" if arm.source != "the data" else ""))
    else:
        lines.add(f"  column: {todo('the column of the two arms')}",
                  "columns with two values: " + (", ".join(c.name for c in two) or "none"))
        lines.add(f"  reference: {todo('the code of the comparator arm')}")
        lines.add("  levels:", "code in the data: label in the book, exactly two")
        lines.add(f"    {todo('code 1')}: {todo('label 1')}")
        lines.add(f"    {todo('code 2')}: {todo('label 2')}")
    lines.blank()

    # -- survival columns (decided before the variables, which are the rest)
    survival = _survival_lines(columns, date_cols, date_format, n)
    used_by_survival = survival[1]
    variables = [c for c in columns if c.kind in ("categorical", "continuous") and c.name not in used_by_survival]

    lines.add("variables:", "the columns the analyses use (the others are listed at the end)")
    for c in variables:
        lines.add(f"  {scalar(c.name)}:")
        lines.check(f"    label: {scalar(c.label)}", f"from {c.source}" if c.source != "the data" else
                    "from the column's name")
        if c.unit:
            lines.check(f"    unit: {scalar(c.unit)}", "from the data dictionary's label")
        lines.check(f"    type: {c.kind}", c.why)
        if c.kind == "categorical":
            text = f"    levels: {flow_mapping(c.levels)}"
            if len(text) <= 72:
                lines.check(text, "code: label; the first is the reference level")
            else:
                lines.check("    levels:", "code: label; the first is the reference level")
                for k, v in c.levels.items():
                    lines.add(f"      {code(k)}: {scalar(v)}")
        else:
            numbers = [float(v) for v in c.values if v not in c.missing_codes]
            decimals = min(max((_decimals(v) for v in c.values if v not in c.missing_codes), default=0), 4)
            lo, hi = min(numbers), max(numbers)
            lines.check(f"    range: [{_number_text(lo, decimals)}, {_number_text(hi, decimals)}]",
                        "the observed range: widen it to the values allowed")
            lines.check(f"    decimals: {decimals}", "as many as the cells have (shown in medians and means)")
        if c.missing_codes:
            counts = ", ".join(f"{m}: {int((c.values == m).sum())}" for m in c.missing_codes)
            lines.check(f"    missing_codes: {flow_list(c.missing_codes, codes=True)}",
                        f"read as unknown (cells {counts})")
        if c.n_missing or c.missing_codes:
            empty = f"{_plural(c.n_missing, 'empty cell')}" if c.n_missing else ""
            lines.check("    missing_allowed: true", ", ".join(x for x in (empty, "missing codes" if c.missing_codes
                                                                            else "") if x))
    if not variables:
        lines.add(f"  {todo('name')}: {{label: {todo('label')}, type: categorical, levels: [a, b]}}",
                  "no column looks like a baseline variable")
    lines.blank()

    lines.add("table1:")
    lines.add('  title: "Baseline characteristics"')
    names = [c.name for c in variables] or ["TODO: a variable"]
    first, *rest = wrapped_list("  variables: ", names)
    lines.check(first, "the rows of Table 1, in order")
    for text in rest:
        lines.add(text)
    lines.blank()
    lines.rows += survival[0].rows

    skipped = [c for c in columns if c.kind in ("skip", "date") and c.name not in used_by_survival]
    if skipped:
        lines.blank()
        lines.add("# Columns not used:")
        for c in skipped:
            lines.add(f"#   {c.name}: {c.why if c.kind == 'skip' else 'a date not used by an endpoint'}")
    text = lines.text()
    checks = sum(1 for _, comment in lines.rows if comment.startswith("check"))
    return Draft(text, text.count('"TODO'), checks, len(columns), n)


def _survival_lines(columns: list[Column], date_cols: list[Column], date_format: str | None,
                    n: int) -> tuple[_Lines, set[str]]:
    """The survival section: endpoints from dates, or from time/event column pairs; the columns they use."""
    lines, used, ids = _endpoint_lines(columns, date_cols, date_format)
    if ids:
        candidates = [c.name for c in columns if c.kind in ("categorical", "continuous") and c.name not in used]
        lines.add("  cox:")
        lines.check(f"    endpoints: {flow_list(ids)}", "the univariable screen and multivariable model")
        first, *rest = wrapped_list("    candidates: ", candidates)
        lines.check(first, "every variable (keep the paper's)")
        for text in rest:
            lines.add(text)
    return lines, used


def _endpoint_lines(columns: list[Column], date_cols: list[Column],
                    date_format: str | None) -> tuple[_Lines, set[str], list[str]]:
    """The survival section's endpoints from dates, or from time/event column pairs; the columns they use."""
    lines = _Lines()
    used: set[str] = set()
    endpoints: list[tuple[str, dict, dict]] = []   # (id, keys, comments)
    unit, unit_why = "months", "days, weeks, months (days / 30.4375) or years (days / 365.25)"
    if date_cols:
        start = _best(date_cols, _START_NAME)
        death = _best([c for c in date_cols if c is not start], _DEATH_NAME)
        progression = _best([c for c in date_cols if c not in (start, death)], _PROGRESSION_NAME)
        last = _best([c for c in date_cols if c not in (start, death, progression)], _LAST_NAME)
        others = ", ".join(c.name for c in date_cols)
        start_v = scalar(start.name) if start else todo(f"the date of time 0, one of {others}")
        last_v = scalar(last.name) if last else todo(f"the date of last follow-up, one of {others}")
        start_why = "time 0 of every endpoint" if start else "no date column is named like a start"
        last_why = ("a patient without an event is censored here" if last else
                    "no date column is named like the last follow-up")
        if progression is not None:
            word = "rfs" if re.search(r"recur|relapse", progression.name, re.I) else "pfs"
            events = [progression.name] + ([death.name] if death else [])
            endpoints.append((word, {"label": ENDPOINT_NAMES[word][0], "short": ENDPOINT_NAMES[word][1],
                                     "start": start_v, "events": flow_list(events), "last_seen": last_v},
                              {"start": start_why, "events": "the first of these dates is the event"
                               + ("" if death else "; add the death date if death counts"),
                               "last_seen": last_why, "label": f"from the column {progression.name}"}))
        if death is not None:
            endpoints.append(("os", {"label": "Overall survival", "short": "OS", "start": start_v,
                                     "events": flow_list([death.name]), "last_seen": last_v},
                              {"start": start_why, "events": "death from any cause", "last_seen": last_why,
                               "label": f"from the column {death.name}"}))
        if not endpoints:
            endpoints.append(("os", {"label": "Overall survival", "short": "OS", "start": start_v,
                                     "events": "[" + todo(f"the event date columns, of {others}") + "]",
                                     "last_seen": last_v},
                              {"start": start_why, "events": "no date column is named like death or progression",
                               "last_seen": last_why, "label": "check the endpoint"}))
        used |= {c.name for c in (start, death, progression, last) if c is not None}
        longest = None
        if start is not None and date_format is not None:
            s = _days(start, date_format)
            ends = [_days(c, date_format) for c in date_cols if c is not start]
            if ends:
                end = pd.concat(ends, axis=1).max(axis=1)
                spans = (end - s.reindex(end.index)).dropna()
                longest = float(spans.max()) / DAYS_PER_UNIT[unit] if len(spans) else None
    else:
        times = {}
        for c in columns:
            m = _DURATION.fullmatch(c.name)
            if m and c.kind == "continuous":
                times[m.group("ep").lower()] = (c, (m.group("unit") or "").lower())
        flags = {}
        for c in columns:
            m = _EVENT.fullmatch(c.name)
            if m and c.kind == "categorical":
                flags[m.group("ep").lower()] = c
        if not times and "time" in {c.name.lower() for c in columns} and "status" in {c.name.lower() for c in columns}:
            times["os"] = (next(c for c in columns if c.name.lower() == "time"), "")
            flags["os"] = next(c for c in columns if c.name.lower() == "status")
        units = set()
        for ep, (tcol, u) in times.items():
            ecol = flags.get(ep)
            label, short = ENDPOINT_NAMES.get(ep, (_humanised(ep), ep.upper()))
            comments = {"time": f"{tcol.why}", "label": f"from the column {tcol.name}"}
            if ecol is not None:
                codes = list(ecol.levels)
                comments["event"] = ("1 = event, 0 = censored" if codes == ["0", "1"] else
                                     f"values {', '.join(codes)}: the spec needs 1 = event, 0 = censored (recode)")
                used.add(ecol.name)
            endpoints.append((ep, {"label": label, "short": short, "time": scalar(tcol.name),
                                   "event": scalar(ecol.name) if ecol is not None else todo(f"the 0/1 event column "
                                                                                           f"of {tcol.name}")},
                              comments))
            used.add(tcol.name)
            units.add(next((k for k in DAYS_PER_UNIT if u and k.startswith(u[:2])), ""))
        longest = max((float(pd.to_numeric(c.values, errors="coerce").max()) for c, _ in times.values()), default=None)
        known = units - {""}
        if len(known) == 1:
            unit, unit_why = known.pop(), "from the columns' names; times are not converted"
        else:
            unit_why = "the unit of the time columns (times are not converted)"
    if not endpoints:
        lines.add("# survival: no date column and no time/event columns (os_months + os_event) were found; see "
                  "book/spec_format.md to declare endpoints")
        return lines, used, []
    lines.add("survival:")
    lines.check(f"  time_unit: {unit}", unit_why)
    if longest is not None and longest > 0:
        times = ", ".join(_number_text(t, 0) for t in _nice_times(longest, unit))
        lines.check(f"  at_risk_times: [{times}]", f"numbers at risk; the longest follow-up is {longest:.0f} {unit}")
    ids = [e[0] for e in endpoints]
    if "os" in ids:
        lines.check("  followup_endpoint: os", "median follow-up by reverse Kaplan-Meier on OS")
    lines.add("  endpoints:")
    for ep, keys, comments in endpoints:
        lines.add(f"    {ep}:")
        for key, value in keys.items():
            text = f"      {key}: {value if key not in ('label', 'short') else scalar(value)}"
            why = comments.get(key, "")
            if '"TODO' in value:
                lines.add(text, why)
            elif why or key in ("label", "short"):
                lines.check(text, why or "the abbreviation on the pages")
            else:
                lines.add(text)
    return lines, used, ids


def sniff_format(path: Path) -> TableFormat:
    """The delimiter, decimal mark and encoding of a CSV file, from its header and cells (Excel: the defaults)."""
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.exists():
        return TableFormat()
    data = path.read_bytes()
    encoding = "utf-8"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        encoding, text = "cp1252", data.decode("cp1252")
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    decimal = "."
    if delimiter != ",":
        sample = text[:200_000]
        if re.search(rf"(^|{re.escape(delimiter)})-?\d+,\d+({re.escape(delimiter)}|$)", sample, re.M) and not \
                re.search(rf"(^|{re.escape(delimiter)})-?\d+\.\d+({re.escape(delimiter)}|$)", sample, re.M):
            decimal = ","
    return TableFormat(delimiter=delimiter if counts[delimiter] else ",", decimal=decimal, encoding=encoding)


def write_draft(table: Path | str, study_id: str, studies_dir: Path | None = None,
                dictionary: Path | str | None = None, command: str | None = None) -> tuple[Path, Draft]:
    """Write the draft spec of ``table`` to ``<studies_dir>/<study_id>/study.yaml``; never over an existing one."""
    from helpers.paths import STUDIES_DIR

    if not re.fullmatch(r"[A-Za-z0-9_\-]+", study_id or ""):
        raise DraftError(f"--study {study_id!r}: a study id is letters, digits, _ and - (it names the folder "
                         "data/studies/<id>/)")
    folder = Path(studies_dir or STUDIES_DIR) / study_id
    target = folder / "study.yaml"
    if target.exists():
        raise DraftError(f"{target} exists: a draft never overwrites a spec (choose another --study, or move the "
                         "file away first)")
    table = Path(table)
    if not table.exists():
        raise DraftError(f"{table}: patient table not found")
    try:
        draft = draft_spec(table, study_id, folder, Path(dictionary) if dictionary else None, command)
    except DataValidationError as exc:
        raise DraftError(str(exc)) from None
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(draft.text, encoding="utf-8")
    return target, draft
