"""Study specifications: the YAML file that maps a one-row-per-patient table onto the analyses.

A study lives in ``data/studies/<study_id>/`` and is described by ``study.yaml`` (format documented in
``book/spec_format.md``).  :func:`load_spec` reads and validates it and returns a :class:`StudySpec`.
Every problem found is reported at once, with the file and the key path, as a :class:`SpecError`.
"""
from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers.paths import STUDIES_DIR
from helpers.study.dates import DAYS_PER_UNIT, date_format_problem
from helpers.study.schema import StudyFile, check_structure, did_you_mean, nearest

VARIABLE_TYPES = ("categorical", "continuous")
CONTINUOUS_SUMMARIES = ("median_iqr", "mean_sd")


class SpecError(ValueError):
    """A study specification is malformed.  ``problems`` lists every problem found."""

    #: what the file is, in the message ("3 problem(s) in the study specification")
    what = "the study specification"

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{self.path}: {len(self.problems)} problem(s) in {self.what}:\n{lines}")


@dataclass(frozen=True)
class Cut:
    """Cut-points turning a continuous variable into ordered categories, like R's ``cut()``.

    ``right=True`` gives intervals closed on the right, ``(a, b]`` (R's default): with ``breaks=[40]`` the
    levels are ``x <= 40`` and ``x > 40``.  ``right=False`` gives ``[a, b)``: ``x < 60`` and ``x >= 60``.
    ``levels`` are the codes of the ``len(breaks) + 1`` categories, lowest first.
    """

    breaks: tuple[float, ...]
    levels: tuple[str, ...]
    right: bool = True


@dataclass(frozen=True)
class Variable:
    """One column of the patient table.

    ``levels`` maps level codes (as written in the data, or produced by ``cut``) to display labels, in
    display order; the first level is the reference level in models.  For a continuous variable with a
    ``cut``, ``summarise_as`` says whether Table 1 and the models use the value itself (``continuous``)
    or its categories (``categorical``).
    """

    name: str
    label: str
    type: str
    levels: dict[str, str] = field(default_factory=dict)
    unit: str | None = None
    decimals: int = 2
    valid_range: tuple[float | None, float | None] = (None, None)
    cut: Cut | None = None
    summarise_as: str = "categorical"
    missing_allowed: bool = False
    integer: bool = False  # whole numbers (age in completed years): checked on load; enables GRIM checks
    missing_codes: tuple[str, ...] = ()  # cell texts that mean "unknown" (9, 99): read as missing values

    @property
    def is_categorical(self) -> bool:
        """True when analyses treat this variable as categories (natively or through its cut)."""
        return self.type == "categorical" or (self.cut is not None and self.summarise_as == "categorical")

    @property
    def display_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    @property
    def category_labels(self) -> dict[str, str]:
        """Level code to label for the categories analyses use (cut levels for a cut variable)."""
        if self.type == "categorical":
            return dict(self.levels)
        if self.cut is not None:
            return {code: self.levels.get(code, code) for code in self.cut.levels}
        return {}


@dataclass(frozen=True)
class Arm:
    column: str
    reference: str
    labels: dict[str, str]

    @property
    def codes(self) -> list[str]:
        """Arm codes with the reference arm first."""
        return [self.reference] + [c for c in self.labels if c != self.reference]

    @property
    def experimental(self) -> str:
        return self.codes[1]


@dataclass(frozen=True)
class Table1Spec:
    title: str
    variables: tuple[str, ...]
    continuous_summary: str = "median_iqr"
    categorical_test: str = "chisq_yates"
    continuous_test: str = "mann_whitney"
    notes: str = ""


@dataclass(frozen=True)
class MatchingSpec:
    """Propensity-score matching. ``convention`` "sas_psmatch" sets ``distance`` logit, ``caliper_sd`` pooled and
    ``discard`` both unless they are given; "matchit" (default) is MatchIt's behaviour exactly."""

    covariates: tuple[str, ...]
    ratio: int = 1
    caliper: float | None = 0.1
    replace: bool = False
    order: str = "largest"
    convention: str = "matchit"
    distance: str | None = None
    caliper_sd: str | None = None
    discard: str | None = None


@dataclass(frozen=True)
class MissingSpec:
    """``missing``: complete cases (R's default), or multiple imputation by chained equations."""

    method: str = "complete_case"
    m: int = 20
    maxit: int = 5
    seed: int = 20241201

    @property
    def impute(self) -> bool:
        return self.method == "mice"


@dataclass(frozen=True)
class WeightingSpec:
    """Propensity-score weighting: the model's covariates, the estimands, stabilized ATE weights, trimming."""

    covariates: tuple[str, ...]
    estimands: tuple[str, ...] = ("ATE", "ATT", "ATO")
    stabilize: bool = True
    trim: float | None = None


#: Suffixes of the columns derived from an endpoint declared from dates: <id>_time and <id>_event.
DERIVED_TIME, DERIVED_EVENT = "_time", "_event"


@dataclass(frozen=True)
class Endpoint:
    """A time-to-event endpoint: a time column (>= 0, in ``SurvivalSpec.time_unit``) and a 0/1 event column.

    ``part_of`` names a composite endpoint this one refines (intrahepatic PFS is part of PFS): an event of
    this endpoint must be an event of the parent at the same time (checked when the data are loaded).

    An endpoint declared from dates has ``start`` (the date of time 0), ``events`` (event dates: the first
    present is the event) and ``last_seen`` (the date of last follow-up); its ``time`` and ``event`` are then
    the columns the loader derives, ``<id>_time`` (in the time unit) and ``<id>_event`` (0/1), so that every
    analysis reads the same two columns in both forms.
    """

    name: str
    label: str
    short: str
    time: str
    event: str
    part_of: str | None = None
    start: str | None = None
    events: tuple[str, ...] = ()
    last_seen: str | None = None

    @property
    def from_dates(self) -> bool:
        return self.start is not None

    @property
    def date_columns(self) -> tuple[str, ...]:
        """The date columns this endpoint reads (start, event dates, last follow-up); empty for durations."""
        if not self.from_dates:
            return ()
        return tuple(dict.fromkeys([self.start, *self.events, *([self.last_seen] if self.last_seen else [])]))

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The columns of the patient table this endpoint reads."""
        return self.date_columns if self.from_dates else (self.time, self.event)


@dataclass(frozen=True)
class CoxSpec:
    """The paper's Cox analysis: which endpoints get the univariate screen, the candidate variables, the
    reference level of each (when not the first level), and the entry rule of the multivariable model."""

    endpoints: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    reference_levels: dict[str, str] = field(default_factory=dict)
    entry_p: float = 0.1
    entry_rule: str = "any_term"
    ph_cut: float | None = None


@dataclass(frozen=True)
class Cause:
    """One cause of a competing-risks analysis: the event types it counts, and the KM endpoint of the paper."""

    id: str
    label: str
    types: tuple[str, ...]
    endpoint: str | None = None


@dataclass(frozen=True)
class CompetingRisks:
    """A time to the first of several event types (``endpoint``'s time and 0/1 event) and the type column."""

    id: str
    label: str
    endpoint: str
    type_column: str
    censored: str
    types: dict[str, str]
    causes: dict[str, Cause]


@dataclass(frozen=True)
class SurvivalSpec:
    """The ``survival`` section: endpoints and the conventions of the survival chapter."""

    endpoints: dict[str, Endpoint]
    time_unit: str = "months"
    conf_type: str = "log"
    at_risk_times: tuple[float, ...] = ()
    landmarks: tuple[float, ...] = ()
    followup_endpoint: str | None = None
    cox: CoxSpec = field(default_factory=CoxSpec)
    rmst_endpoints: tuple[str, ...] = ()
    rmst_tau: str | float = "floor_min_max"
    competing_risks: dict[str, CompetingRisks] = field(default_factory=dict)
    hr_decimals: int = 2
    km_median_lines: bool = False
    km_layout: str = "standard"


@dataclass(frozen=True)
class SubgroupSpec:
    """The ``subgroups`` section: endpoints and baseline variables of the forest plots."""

    endpoints: tuple[str, ...]
    variables: tuple[str, ...]


CONF_TYPES = ("log", "log-log", "plain")
ENTRY_RULES = ("any_term", "global_wald")
TAU_RULES = ("floor_min_max", "min_max")


@dataclass(frozen=True)
class ResponseCriterion:
    """One response assessment (e.g. RECIST 1.1): its display label and the column of best overall response."""

    id: str
    label: str
    column: str


@dataclass(frozen=True)
class ResponseSpec:
    """The ``response`` section: best overall response codes (best first), which of them count towards the
    objective response rate (ORR) and the disease control rate (DCR), the test policy and the criteria."""

    categories: tuple[str, ...]
    objective: tuple[str, ...]
    control: tuple[str, ...]
    criteria: dict[str, ResponseCriterion]
    test: str = "fisher_if_expected_lt5"


@dataclass(frozen=True)
class AdverseEventSpec:
    """The ``adverse_events`` section.

    ``format="wide"``: one grade column per term in the patient table, named ``<column_prefix><term>``
    (grade 0 = no event).  ``format="long"``: a separate ``file`` with columns ``<id column>, term, grade``
    (one row per event; patients without a row had no event).  ``terms`` maps term codes to labels in the
    paper's order; ``severe_grades`` are the grades of the "grade 3-4" column.
    """

    terms: dict[str, str]
    format: str = "wide"
    column_prefix: str = "ae_"
    file: str | None = None
    test: str = "fisher_if_expected_lt5"
    severe_grades: tuple[int, ...] = (3, 4)

    def column(self, term: str) -> str:
        """The wide-format column of ``term``."""
        return f"{self.column_prefix}{term}"

    @property
    def severe_range(self) -> tuple[int, int]:
        return min(self.severe_grades), max(self.severe_grades)


AE_FORMATS = ("wide", "long")
AE_GRADES = (0, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class FlowStep:
    step: str
    n: int
    label: str


@dataclass(frozen=True)
class Citation:
    """The paper's reference (``citation`` in the spec)."""

    title: str
    journal: str
    year: int
    authors: str | None = None
    volume: str | None = None
    pages: str | None = None
    doi: str | None = None
    url: str | None = None
    note: str | None = None

    def text(self) -> str:
        """'Authors. Title. Journal. Year;volume:pages. doi:...' (parts the spec leaves out are left out)."""
        where = f"{self.journal}. {self.year}"
        if self.volume:
            where += f";{self.volume}"
        if self.pages:
            where += f":{self.pages}"
        parts = [self.authors, self.title.rstrip("."), where]
        out = ". ".join(p for p in parts if p) + "."
        if self.doi:
            out += f" doi:{self.doi}"
        return out

    @property
    def link(self) -> str | None:
        return f"https://doi.org/{self.doi}" if self.doi else self.url


@dataclass(frozen=True)
class Design:
    """How the treatments were assigned (``design`` in the spec)."""

    type: str          # randomised | observational
    timing: str        # retrospective | prospective
    setting: str | None = None
    time_zero: str | None = None
    immortal_time: str | None = None

    @property
    def randomised(self) -> bool:
        return self.type == "randomised"

    def phrase(self) -> str:
        """'a retrospective observational study' / 'a prospective randomised trial'."""
        return f"a {self.timing} randomised trial" if self.randomised else f"a {self.timing} observational study"


@dataclass(frozen=True)
class TableFormat:
    """How the patient table's CSV file is written (``data.delimiter``, ``data.decimal``, ``data.encoding``)."""

    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    date_format: str | None = None  # iso | day_first | month_first | a strptime format; None: YYYY-MM-DD only


@dataclass(frozen=True)
class StudySpec:
    study_id: str
    title: str
    short_title: str
    paper: str
    seed_file: str
    synthetic: bool
    folder: Path
    patients_file: Path
    id_column: str
    arm: Arm
    variables: dict[str, Variable]
    table1: Table1Spec
    matching: MatchingSpec | None
    flow: tuple[FlowStep, ...]
    survival: SurvivalSpec | None = None
    subgroups: SubgroupSpec | None = None
    notes: str = ""
    response: ResponseSpec | None = None
    adverse_events: AdverseEventSpec | None = None
    data_source: str = ""
    design: Design = field(default_factory=lambda: Design("observational", "retrospective"))
    citation: Citation | None = None
    table_format: TableFormat = field(default_factory=TableFormat)
    spec_file: Path | None = None
    paper_numbers: dict[str, str] = field(default_factory=dict)
    weighting: WeightingSpec | None = None
    missing: MissingSpec = field(default_factory=MissingSpec)
    cutoff_date: datetime.date | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def arm_labels(self) -> dict[str, str]:
        return {code: self.arm.labels[code] for code in self.arm.codes}

    @property
    def published_file(self) -> Path:
        return self.folder / "published.yaml"


def study_folder(study_id: str, studies_dir: Path | None = None) -> Path:
    return Path(studies_dir or STUDIES_DIR) / study_id


def available_studies(studies_dir: Path | None = None) -> list[str]:
    """Study ids that have a ``study.yaml`` under the studies folder, sorted."""
    root = Path(studies_dir or STUDIES_DIR)
    return sorted(p.parent.name for p in root.glob("*/study.yaml"))


def load_spec(study: str | Path, studies_dir: Path | None = None) -> StudySpec:
    """Read and validate a study specification.

    ``study`` is a study id (a folder under ``data/studies``) or the path of a ``study.yaml``.
    The structure (every key at every level, types, allowed values) is checked against the one format
    definition, :mod:`helpers.study.schema`; then the cross-references (declared variables, endpoints,
    levels). Raises :class:`SpecError` listing every problem with its line and key path, or
    ``FileNotFoundError`` naming the path tried.
    """
    path = Path(study)
    if path.suffix not in (".yaml", ".yml"):
        folder = study_folder(str(study), studies_dir)
        path = folder / "study.yaml"
        if not path.exists():
            known = available_studies(studies_dir)
            close = nearest(str(study), known)
            raise FileNotFoundError(f"{path}: no study specification for study '{study}'"
                                    + (f" (did you mean `{close}`?)" if close else "")
                                    + f" (known studies: {', '.join(known) or 'none'})")
    if not path.exists():
        raise FileNotFoundError(f"{path}: study specification not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(path, [f"not UTF-8 text at byte {exc.start}: save the file as UTF-8"]) from None
    raw, lines = read_yaml_with_lines(text, path)
    if not isinstance(raw, dict):
        raise SpecError(path, ["line 1: the file must contain a mapping (key: value pairs) at the top level"])
    model, structural, left_out = check_structure(raw)
    todos = dict(draft_todos(raw))
    problems = [_located(lines, loc, f"still a TODO of the draft ({value!r}): replace it with your choice (the "
                                     "comment on this line says what is needed)") for loc, value in todos.items()]
    # a TODO value is also of the wrong kind for its key (a TODO instead of an endpoint): said once, as a TODO
    problems += [_located(lines, loc, message) for loc, message in structural
                 if not any(tuple(map(str, loc[:len(t)])) == tuple(map(str, t)) for t in todos)]
    return _parse_spec(model, raw, lines, path, problems, left_out, set(todos))


def draft_todos(raw: Any, loc: tuple = ()):
    """(key path, value) of every text value that starts with TODO: a choice the draft spec left to the author
    (``python -m helpers.build --draft-spec``)."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if isinstance(key, str) and key.strip().upper().startswith("TODO"):
                yield loc + (key,), key
            yield from draft_todos(value, loc + (key,))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            yield from draft_todos(value, loc + (i,))
    elif isinstance(raw, str) and raw.strip().upper().startswith("TODO"):
        yield loc, raw


#: PyYAML's wording of the usual mistakes, and what they mean in plain words.
_YAML_PROBLEMS = {
    "mapping values are not allowed here": "a ':' where a value was expected: is a value that contains ': ' "
                                           "missing its quotes, or is a key indented too far?",
    "could not find expected ':'": "a key without its ':' (or a line indented differently from its neighbours)",
    "found character '\\t' that cannot start any token": "a tab character: indent with spaces only",
    "expected <block end>, but found": "a line indented differently from the lines of its block",
    "found unexpected end of stream": "a quote or bracket that is opened but never closed",
    "did not find expected key": "an item of a mapping or list that does not line up with the others",
    "found undefined alias": "a '*' that is not a YAML alias: quote values that start with '*'",
    "found duplicate anchor": "an '&' used twice: quote values that start with '&'",
}


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loading that also refuses a key given twice in one mapping (YAML keeps the last silently)."""


def _mapping_without_duplicates(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key '{key}' is given twice in one mapping (first on line {seen[key] + 1})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _number_as_written(kind):
    """A YAML number whose text is not how Python writes it stays text: YAML 1.1 reads 010 as 8 (octal), 1:30 as
    90 (base 60), 1_000 as 1000 and 1.50 as 1.5, but as a code in a cell each means what it says ("010")."""
    base = yaml.SafeLoader.construct_yaml_int if kind is int else yaml.SafeLoader.construct_yaml_float

    def construct(loader, node):
        value = base(loader, node)
        text = str(node.value)
        if kind is int and text == str(value):
            return value
        if kind is float and text.lower() in (str(value).lower(), repr(value).lower()):
            return value
        if kind is float and text.lower().lstrip("+-") in (".inf", ".nan"):
            return value
        return text

    return construct


_LineLoader.add_constructor("tag:yaml.org,2002:int", _number_as_written(int))
_LineLoader.add_constructor("tag:yaml.org,2002:float", _number_as_written(float))


def date_or_text(loader, node):
    """A YAML date that is not a date of the calendar (``2025-13-01``) stays text, for the check of its key to
    refuse with its line; ``yaml.safe_load`` would raise a bare ValueError."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return str(node.value)


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", date_or_text)


#: Parsed texts (text -> (data, lines)): a chapter's kernel, forked from the warm kernels' zygote, finds its
#: study's spec parsed already (:func:`preparse_specs`); a text edited since is a new key.
_PARSED_WITH_LINES: dict[str, tuple[Any, dict[tuple, int]]] = {}


def read_yaml_with_lines(text: str, path: Path | str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML ``text``; return the data and the line (1-based) of every key path.

    A syntax error becomes a :class:`SpecError` naming the line of the mistake in plain words. A text parsed
    before in this process is not parsed again: the caller gets a deep copy of the earlier result.
    """
    if text not in _PARSED_WITH_LINES:
        _PARSED_WITH_LINES[text] = _parse_yaml_with_lines(text, path)
    return copy.deepcopy(_PARSED_WITH_LINES[text])


def preparse_specs(studies_dir: Path | str) -> None:
    """Parse every ``study.yaml`` under ``studies_dir`` into :data:`_PARSED_WITH_LINES` (the zygote does, before
    forking); a file that does not parse is left to the chapter that reads it, which reports it."""
    for path in sorted(Path(studies_dir).glob("*/study.yaml")):
        try:
            read_yaml_with_lines(path.read_text(encoding="utf-8"), path)
        except (OSError, UnicodeDecodeError, SpecError):
            pass


def _parse_yaml_with_lines(text: str, path: Path | str) -> tuple[Any, dict[tuple, int]]:
    try:
        loader = _LineLoader(text)  # one parse: the node tree gives the lines, and the data are built from it
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = str(exc.problem or exc.context or exc)
        plain = next((v for k, v in _YAML_PROBLEMS.items() if problem.startswith(k)), problem)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        near = ""
        if mark is not None:
            src = text.splitlines()
            if 0 <= mark.line < len(src):
                near = f" (the line reads: {src[mark.line].strip()[:80]!r})"
        raise SpecError(path, [f"{where}not valid YAML: {plain}{near}"]) from None
    except yaml.YAMLError as exc:
        raise SpecError(path, [f"not valid YAML: {exc}"]) from None
    lines: dict[tuple, int] = {}

    def walk(n, loc):
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = (k.value,)
                lines[loc + key] = k.start_mark.line + 1
                walk(v, loc + key)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[loc + (i,)] = item.start_mark.line + 1
                walk(item, loc + (i,))

    if node is not None:
        lines[()] = 1
        walk(node, ())
    return data, lines


def _line_of(lines: dict[tuple, int], loc: tuple) -> int:
    """The line of key path ``loc``, or of its nearest enclosing key that exists (a missing key's parent)."""
    loc = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _located(lines: dict[tuple, int], loc: tuple, message: str) -> str:
    return f"line {_line_of(lines, loc)}: {_key_path(loc) or '(top level)'}: {message}"


def _parse_spec(model: StudyFile, raw: dict, lines: dict[tuple, int], path: Path,
                problems: list[str], left_out: set[tuple] = frozenset(), todos: set[tuple] = frozenset()) -> StudySpec:
    """Turn a structurally valid spec into a :class:`StudySpec`, checking every cross-reference; the problems
    found are added to ``problems`` (the structural ones already there) and raised together. A key path in
    ``todos`` (a draft's TODO, already reported) gets no second message."""

    def problem(loc: tuple, message: str) -> None:
        if any(tuple(map(str, loc[:len(t)])) == tuple(map(str, t)) for t in todos):
            return
        problems.append(_located(lines, loc, message))

    def unknown(loc: tuple, name: str, what: str, known) -> None:
        if ("variables", name) in left_out or ("survival", "endpoints", name) in left_out:
            return  # declared, but at fault itself: already reported
        problem(loc, f"'{name}' is not {what}{did_you_mean(name, list(known))}")

    def section(name: str):  # a top-level section, or None when it is missing or faulty (already reported)
        return getattr(model, name, None)

    if section("study_id") is not None and model.study_id != path.parent.name:
        problem(("study_id",), f"'{model.study_id}' must equal the folder name '{path.parent.name}'")

    arm_section = section("arm")
    arm_labels = {str(k): str(v) for k, v in arm_section.levels.items()} if arm_section else {}
    if arm_section is not None:
        if len(arm_labels) != 2:
            problem(("arm", "levels"), f"exactly two arms are supported, got {len(arm_labels)}: {list(arm_labels)}")
        if str(arm_section.reference) not in arm_labels:
            unknown(("arm", "reference"), str(arm_section.reference), "one of arm.levels", arm_labels)
    reference = str(arm_section.reference) if arm_section and str(arm_section.reference) in arm_labels \
        else next(iter(arm_labels), "?")
    arm = Arm(arm_section.column if arm_section else "arm", reference, arm_labels)

    variables: dict[str, Variable] = {}
    for name, v in (section("variables") or {}).items():
        where = ("variables", name)
        levels = v.levels if v.levels is not None else {}
        levels = {str(x): str(x) for x in levels} if isinstance(levels, list) else \
            {str(k): str(val) for k, val in levels.items()}
        if v.type == "categorical" and len(levels) < 2:
            problem(where + ("levels",), "a categorical variable needs at least two levels")
        cut = None
        if v.cut is not None:
            breaks = tuple(float(b) for b in v.cut.breaks)
            cut_levels = tuple(str(x) for x in v.cut.levels)
            if len(cut_levels) != len(breaks) + 1:
                problem(where + ("cut", "levels"), f"need {len(breaks) + 1} levels for {len(breaks)} breaks")
            if list(breaks) != sorted(set(breaks)):
                problem(where + ("cut", "breaks"), "must be strictly increasing")
            if v.type == "categorical":
                problem(where + ("cut",), "only continuous variables can be cut")
            cut = Cut(breaks, cut_levels, v.cut.right)
        elif v.summarise_as == "categorical":
            problem(where + ("summarise_as",), "a variable without a cut can only be summarised as itself")
        if v.integer and v.type == "categorical":
            problem(where + ("integer",), "only continuous variables can be declared integer")
        rng = tuple(v.range) if v.range is not None else (None, None)
        if rng[0] is not None and rng[1] is not None and rng[0] > rng[1]:
            problem(where + ("range",), f"minimum {rng[0]:g} is above maximum {rng[1]:g}")
        missing_codes = tuple(dict.fromkeys(str(c) for c in v.missing_codes))
        if missing_codes and not v.missing_allowed:
            problem(where + ("missing_codes",), "these codes become missing values: set `missing_allowed: true` "
                                                "as well (the pages count them as missing, models use complete "
                                                "cases)")
        if v.type == "categorical":
            for code in missing_codes:
                if code in levels:
                    problem(where + ("missing_codes",), f"'{code}' is both a level and a missing code: it can be "
                                                        "only one")
        variables[str(name)] = Variable(
            name=str(name), label=v.label, type=v.type, levels=levels, unit=v.unit, decimals=v.decimals,
            valid_range=rng, cut=cut, summarise_as=v.summarise_as or ("categorical" if cut else "continuous"),
            missing_allowed=v.missing_allowed, integer=v.integer, missing_codes=missing_codes)
    if arm.column in variables:
        problem(("variables", arm.column), "the arm column must not also be declared as a variable")

    def declared(loc: tuple, names) -> tuple[str, ...]:
        for i, v in enumerate(names):
            if v not in variables:
                unknown(loc + (i,), v, "declared under variables", variables)
        return tuple(names)

    t1 = section("table1")
    table1 = Table1Spec(title=t1.title, variables=declared(("table1", "variables"), t1.variables),
                        continuous_summary=t1.continuous_summary, categorical_test=t1.categorical_test,
                        continuous_test=t1.continuous_test, notes=t1.notes) if t1 is not None else None

    matching = None
    if section("matching") is not None:
        m = model.matching
        matching = MatchingSpec(declared(("matching", "covariates"), m.covariates), ratio=m.ratio,
                                caliper=m.caliper, replace=m.replace, order=m.order, convention=m.convention,
                                distance=m.distance, caliper_sd=m.caliper_sd, discard=m.discard)

    weighting = None
    if section("weighting") is not None:
        w = model.weighting
        covs = w.covariates if w.covariates is not None else (list(matching.covariates) if matching else None)
        if covs is None:
            problem(("weighting", "covariates"), "required when the study has no matching section (the propensity "
                                                 "model's variables)")
            covs = []
        weighting = WeightingSpec(declared(("weighting", "covariates"), covs), tuple(w.estimands), w.stabilize,
                                  w.trim)

    flow = tuple(FlowStep(f.step, f.n, f.label or f.step) for f in section("flow") or ())
    id_column = model.data.id_column if section("data") is not None else None
    survival = _parse_survival(section("survival"), variables, arm.column, problem, unknown, declared, id_column)
    _check_dates(section("data"), survival, problem)
    subgroups = None
    if section("subgroups") is not None:
        g = model.subgroups
        known = survival.endpoints if survival else {}
        for i, e in enumerate(g.endpoints):
            if e not in known:
                unknown(("subgroups", "endpoints", i), e, "an endpoint of the survival section", known)
        names = declared(("subgroups", "variables"), g.variables)
        for i, v in enumerate(names):
            if v in variables and variables[v].type == "continuous" and variables[v].cut is None:
                problem(("subgroups", "variables", i), f"'{v}' is continuous without a 'cut'; subgroups need "
                                                       "categories")
        subgroups = SubgroupSpec(tuple(g.endpoints), names)
    used = set(variables) | {arm.column} | ({model.data.id_column} if section("data") else set())
    if survival is not None:
        used |= {c for ep in survival.endpoints.values() for c in (ep.time, ep.event, *ep.source_columns)}
    response = _parse_response(section("response"), used, problem)
    if response is not None:
        used |= {c.column for c in response.criteria.values()}
    adverse_events = _parse_adverse_events(section("adverse_events"), used, problem)

    if problems:
        raise SpecError(path, problems)
    c = model.citation
    return StudySpec(
        study_id=model.study_id, title=model.title, short_title=model.short_title or model.title,
        paper=model.paper, seed_file=model.seed_file, synthetic=model.synthetic, folder=path.parent,
        patients_file=path.parent / model.data.patients, id_column=model.data.id_column, arm=arm,
        variables=variables, table1=table1, matching=matching, flow=flow, survival=survival,
        subgroups=subgroups, notes=model.notes, response=response, adverse_events=adverse_events,
        data_source=model.data.source.strip(),
        design=Design(model.design.type, model.design.timing, model.design.setting, model.design.time_zero,
                      model.design.immortal_time),
        citation=Citation(**c.model_dump()) if c is not None else None,
        table_format=TableFormat(model.data.delimiter, model.data.decimal, model.data.encoding,
                                 model.data.date_format),
        spec_file=path, paper_numbers=dict(section("paper_numbers") or {}), weighting=weighting,
        missing=MissingSpec(**section("missing").model_dump()) if section("missing") is not None else MissingSpec(),
        cutoff_date=model.data.cutoff_date, raw=raw)


def _check_dates(data, survival: SurvivalSpec | None, problem) -> None:
    """``data.date_format`` and ``data.cutoff_date``: a valid format; a cut-off that is not in the future; both
    only with endpoints declared from dates (they would do nothing otherwise)."""
    if data is None:
        return
    with_dates = [ep.name for ep in (survival.endpoints.values() if survival else ()) if ep.from_dates]
    if data.date_format is not None:
        message = date_format_problem(data.date_format)
        if message:
            problem(("data", "date_format"), message)
        elif not with_dates:
            problem(("data", "date_format"), "no endpoint is declared from dates (start, events, last_seen), so "
                                             "no date is read: remove it, or declare the endpoints from dates")
    if data.cutoff_date is not None:
        today = datetime.date.today()
        if data.cutoff_date > today:
            problem(("data", "cutoff_date"), f"{data.cutoff_date.isoformat()} is after today ({today.isoformat()}): "
                                             "a data cut-off cannot be in the future")
        if not with_dates:
            problem(("data", "cutoff_date"), "no endpoint is declared from dates (start, events, last_seen), so "
                                             "nothing is censored at the cut-off: remove it, or declare the "
                                             "endpoints from dates")


DATE_KEYS = ("start", "events", "last_seen")


def _parse_survival(s, variables: dict[str, Variable], arm_column: str, problem, unknown,
                    declared, id_column: str | None = None) -> SurvivalSpec | None:
    """The ``survival`` section (structure already checked): columns, endpoint and variable references.

    An endpoint is declared either by durations (``time``, ``event``) or by dates (``start``, ``events``,
    ``last_seen``); the dates form gets the derived columns ``<id>_time`` and ``<id>_event``."""
    if s is None:
        return None
    endpoints: dict[str, Endpoint] = {}
    used_columns = set(variables) | {arm_column} | ({id_column} if id_column else set())
    for name, e in s.endpoints.items():
        where = ("survival", "endpoints", name)
        dates = [k for k in DATE_KEYS if getattr(e, k) is not None]
        durations = [k for k in ("time", "event") if getattr(e, k) is not None]
        if dates and durations:
            problem(where + (durations[0],), "give either time and event (durations) or start, events and last_seen "
                                             "(dates), not both")
        if dates:
            for key in DATE_KEYS:
                if getattr(e, key) is None:
                    problem(where + (key,), "required key is missing: an endpoint declared from dates needs start, "
                                            "events and last_seen")
            events = tuple(e.events or ())
            for i, column in enumerate(events):
                if column in events[:i]:
                    problem(where + ("events", i), f"'{column}' is listed twice")
                if column in (e.start, e.last_seen):
                    which = "start" if column == e.start else "last-seen"
                    problem(where + ("events", i), f"'{column}' is also the {which} date: an event date must be a "
                                                   "column of its own")
            if e.start is not None and e.start == e.last_seen:
                problem(where + ("last_seen",), f"'{e.last_seen}' is also the start date")
            for key in DATE_KEYS:
                for i, column in enumerate(events if key == "events" else [getattr(e, key)]):
                    if column is not None and column in used_columns:
                        problem(where + ((key, i) if key == "events" else (key,)),
                                f"column '{column}' is already used by a variable, the arm or the id")
            endpoints[str(name)] = Endpoint(str(name), e.label, e.short, f"{name}{DERIVED_TIME}",
                                            f"{name}{DERIVED_EVENT}", e.part_of, e.start, events, e.last_seen)
        else:
            for key in ("time", "event"):
                if getattr(e, key) is None:
                    problem(where + (key,), "required key is missing (or declare the endpoint from dates: start, "
                                            "events and last_seen)")
                elif getattr(e, key) in used_columns:
                    problem(where + (key,), f"column '{getattr(e, key)}' is already used by a variable or the arm")
            endpoints[str(name)] = Endpoint(str(name), e.label, e.short, e.time or f"{name}{DERIVED_TIME}",
                                            e.event or f"{name}{DERIVED_EVENT}", e.part_of)
    with_dates = [ep for ep in endpoints.values() if ep.from_dates]
    for ep in with_dates:
        others = used_columns | {c for o in endpoints.values() if o is not ep
                                 for c in (*o.source_columns, *((o.time, o.event) if o.from_dates else ()))}
        for derived in (ep.time, ep.event):
            if derived in others or derived in ep.date_columns:
                problem(("survival", "endpoints", ep.name), f"the column derived from its dates, '{derived}', has "
                                                            "the name of another column of the spec: rename the "
                                                            "endpoint")
    if with_dates and s.time_unit not in DAYS_PER_UNIT:
        close = nearest(s.time_unit, list(DAYS_PER_UNIT))
        problem(("survival", "time_unit"), f"'{s.time_unit}' cannot be derived from dates (endpoint "
                                           f"{with_dates[0].name}): use one of {list(DAYS_PER_UNIT)}"
                                           + (f" (did you mean `{close}`?)" if close else ""))
    for ep in endpoints.values():
        if ep.part_of is not None and ep.part_of not in endpoints:
            unknown(("survival", "endpoints", ep.name, "part_of"), ep.part_of, "an endpoint", endpoints)
    if s.followup_endpoint is not None and s.followup_endpoint not in endpoints:
        unknown(("survival", "followup_endpoint"), s.followup_endpoint, "an endpoint", endpoints)

    def endpoint_list(loc: tuple, names) -> tuple[str, ...]:
        for i, e in enumerate(names):
            if e not in endpoints:
                unknown(loc + (i,), e, "an endpoint", endpoints)
        return tuple(names)

    c = s.cox
    refs = {str(k): str(v) for k, v in c.reference_levels.items()}
    for v, level in refs.items():
        if v not in variables:
            unknown(("survival", "cox", "reference_levels", v), v, "declared under variables", variables)
        else:
            var = variables[v]
            codes = list(var.levels) if var.type == "categorical" else list(var.cut.levels if var.cut else ())
            if level not in codes:
                problem(("survival", "cox", "reference_levels", v),
                        f"'{level}' is not a level of {v} {codes}{did_you_mean(level, codes)}")
    cox = CoxSpec(endpoint_list(("survival", "cox", "endpoints"), c.endpoints),
                  declared(("survival", "cox", "candidates"), c.candidates), refs, float(c.entry_p), c.entry_rule,
                  c.ph_cut)
    competing = {}
    for cid, c in s.competing_risks.items():
        loc = ("survival", "competing_risks", cid)
        if c.endpoint not in endpoints:
            unknown(loc + ("endpoint",), c.endpoint, "an endpoint", endpoints)
        if c.type in used_columns or c.type in {x for ep in endpoints.values() for x in (ep.time, ep.event)}:
            problem(loc + ("type",), f"column '{c.type}' is already used by a variable, the arm or an endpoint")
        types = {str(k): str(v) for k, v in c.types.items()}
        if str(c.censored) in types:
            problem(loc + ("censored",), f"'{c.censored}' is also an event type")
        causes = {}
        for k, cause in c.causes.items():
            bad = [str(t) for t in cause.types if str(t) not in types]
            if bad:
                problem(loc + ("causes", k, "types"), f"{bad} not among the types {list(types)}"
                        f"{did_you_mean(bad[0], list(types))}")
            if cause.endpoint is not None and cause.endpoint not in endpoints:
                unknown(loc + ("causes", k, "endpoint"), cause.endpoint, "an endpoint", endpoints)
            causes[str(k)] = Cause(str(k), cause.label, tuple(str(t) for t in cause.types), cause.endpoint)
        competing[str(cid)] = CompetingRisks(str(cid), c.label, c.endpoint, c.type, str(c.censored), types, causes)
    return SurvivalSpec(endpoints=endpoints, time_unit=s.time_unit, conf_type=s.conf_type,
                        at_risk_times=tuple(float(x) for x in s.at_risk_times),
                        landmarks=tuple(float(x) for x in s.landmarks), followup_endpoint=s.followup_endpoint,
                        cox=cox, rmst_endpoints=endpoint_list(("survival", "rmst", "endpoints"), s.rmst.endpoints),
                        rmst_tau=s.rmst.tau, competing_risks=competing, hr_decimals=s.hr_decimals,
                        km_median_lines=s.km_median_lines, km_layout=s.km_layout)


def _parse_response(r, used_columns: set[str], problem) -> ResponseSpec | None:
    """The ``response`` section (structure already checked): codes and columns."""
    if r is None:
        return None
    categories = tuple(str(x) for x in r.categories)
    if len(set(categories)) != len(categories):
        problem(("response", "categories"), f"codes must be unique, got {list(categories)}")
    subsets = {}
    for key in ("objective", "control"):
        codes = tuple(str(x) for x in getattr(r, key))
        bad = [c for c in codes if c not in categories]
        if bad:
            problem(("response", key), f"{bad} not in response.categories {list(categories)}")
        subsets[key] = codes
    if not set(subsets["objective"]) <= set(subsets["control"]):
        problem(("response", "control"), f"must include every objective response code {list(subsets['objective'])}")
    criteria: dict[str, ResponseCriterion] = {}
    seen: dict[str, str] = {}
    for cid, c in r.criteria.items():
        if c.column in used_columns:
            problem(("response", "criteria", cid, "column"), f"column '{c.column}' is already used by a variable, "
                                                             "the arm, the id or an endpoint")
        if c.column in seen:
            problem(("response", "criteria", cid, "column"), f"column '{c.column}' is also used by criterion "
                                                             f"'{seen[c.column]}'")
        seen[c.column] = str(cid)
        criteria[str(cid)] = ResponseCriterion(str(cid), c.label, c.column)
    return ResponseSpec(categories, subsets["objective"], subsets["control"], criteria, r.test)


def _parse_adverse_events(a, used_columns: set[str], problem) -> AdverseEventSpec | None:
    """The ``adverse_events`` section (structure already checked): the file, grades and column names."""
    if a is None:
        return None
    if a.format == "long" and not a.file:
        problem(("adverse_events", "file"), "required for format 'long' (a CSV/Excel file with columns patient id, "
                                            "term, grade)")
    severe = list(a.severe_grades)
    if not all(1 <= g <= 5 for g in severe):
        problem(("adverse_events", "severe_grades"), f"must be grades 1-5, got {severe}")
        severe = [3, 4]
    elif sorted(set(severe)) != list(range(min(severe), max(severe) + 1)):
        problem(("adverse_events", "severe_grades"), f"must be consecutive grades, got {severe}")
    terms = {str(t): str(t) for t in a.terms} if isinstance(a.terms, list) else \
        {str(k): str(v) for k, v in a.terms.items()}
    if not terms:
        problem(("adverse_events", "terms"), "needs at least one term (code: label, in the paper's order)")
    if "overall" in terms:
        problem(("adverse_events", "terms", "overall"), "'overall' is reserved for 'any adverse event'")
    if a.format == "wide":
        for t in terms:
            if a.column_prefix + t in used_columns:
                problem(("adverse_events", "terms", t), f"column '{a.column_prefix + t}' is already used elsewhere "
                                                        "in the spec")
    return AdverseEventSpec(terms=terms, format=a.format, column_prefix=a.column_prefix, file=a.file, test=a.test,
                            severe_grades=tuple(int(g) for g in severe))
