"""Study specifications: the YAML file that maps a one-row-per-patient table onto the analyses.

A study lives in ``data/studies/<study_id>/`` and is described by ``study.yaml`` (format documented in
``book/spec_format.md``).  :func:`load_spec` reads and validates it and returns a :class:`StudySpec`.
Every problem found is reported at once, with the file and the key path, as a :class:`SpecError`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers.paths import STUDIES_DIR

VARIABLE_TYPES = ("categorical", "continuous")
CONTINUOUS_SUMMARIES = ("median_iqr", "mean_sd")


class SpecError(ValueError):
    """A study specification is malformed.  ``problems`` lists every problem found."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = str(path)
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{self.path}: {len(self.problems)} problem(s) in the study specification:\n{lines}")


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
    covariates: tuple[str, ...]
    ratio: int = 1
    caliper: float | None = 0.1
    replace: bool = False
    order: str = "largest"


@dataclass(frozen=True)
class Endpoint:
    """A time-to-event endpoint: a time column (>= 0, in ``SurvivalSpec.time_unit``) and a 0/1 event column.

    ``part_of`` names a composite endpoint this one refines (intrahepatic PFS is part of PFS): an event of
    this endpoint must be an event of the parent at the same time (checked when the data are loaded).
    """

    name: str
    label: str
    short: str
    time: str
    event: str
    part_of: str | None = None


@dataclass(frozen=True)
class CoxSpec:
    """The paper's Cox analysis: which endpoints get the univariate screen, the candidate variables, the
    reference level of each (when not the first level), and the entry rule of the multivariable model."""

    endpoints: tuple[str, ...] = ()
    candidates: tuple[str, ...] = ()
    reference_levels: dict[str, str] = field(default_factory=dict)
    entry_p: float = 0.1
    entry_rule: str = "any_term"


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
    Raises :class:`SpecError` listing every problem, or ``FileNotFoundError`` naming the path tried.
    """
    path = Path(study)
    if path.suffix not in (".yaml", ".yml"):
        folder = study_folder(str(study), studies_dir)
        path = folder / "study.yaml"
        if not path.exists():
            known = ", ".join(available_studies(studies_dir)) or "none"
            raise FileNotFoundError(f"{path}: no study specification for study '{study}' (known studies: {known})")
    if not path.exists():
        raise FileNotFoundError(f"{path}: study specification not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(path, [f"not valid YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise SpecError(path, ["the file must contain a mapping (key: value pairs) at the top level"])
    return _parse_spec(raw, path)


def _parse_spec(raw: dict, path: Path) -> StudySpec:
    problems: list[str] = []

    def need(mapping: dict, key: str, where: str, kind: type | tuple = str) -> Any:
        if not isinstance(mapping, dict) or key not in mapping or mapping[key] is None:
            problems.append(f"{where}{key}: required key is missing")
            return None
        value = mapping[key]
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            problems.append(f"{where}{key}: must be {names}, got {type(value).__name__} ({value!r})")
            return None
        return value

    study_id = need(raw, "study_id", "")
    if study_id and study_id != path.parent.name:
        problems.append(f"study_id: '{study_id}' must equal the folder name '{path.parent.name}'")
    title = need(raw, "title", "") or ""
    data = need(raw, "data", "", dict) or {}
    patients = need(data, "patients", "data.") or "patients.csv"
    id_column = need(data, "id_column", "data.") or "patient_id"
    data_source = data.get("source", "") if isinstance(data, dict) else ""
    if data_source is None or not isinstance(data_source, str):
        problems.append(f"data.source: must be text (where the patient table comes from), got {data_source!r}")
        data_source = ""

    arm_raw = need(raw, "arm", "", dict) or {}
    arm_column = need(arm_raw, "column", "arm.") or "arm"
    arm_levels = need(arm_raw, "levels", "arm.", dict) or {}
    reference = need(arm_raw, "reference", "arm.")
    arm_labels = {str(k): str(v) for k, v in arm_levels.items()}
    if arm_levels and len(arm_labels) != 2:
        problems.append(f"arm.levels: exactly two arms are supported, got {len(arm_labels)}: {list(arm_labels)}")
    if reference is not None and arm_labels and reference not in arm_labels:
        problems.append(f"arm.reference: '{reference}' is not one of arm.levels {list(arm_labels)}")
    arm = Arm(arm_column, str(reference or (list(arm_labels) or ["?"])[0]), arm_labels)

    variables: dict[str, Variable] = {}
    for name, vraw in (need(raw, "variables", "", dict) or {}).items():
        where = f"variables.{name}."
        if not isinstance(vraw, dict):
            problems.append(f"variables.{name}: must be a mapping with at least 'label' and 'type'")
            continue
        vtype = need(vraw, "type", where)
        if vtype is not None and vtype not in VARIABLE_TYPES:
            problems.append(f"{where}type: '{vtype}' is not one of {list(VARIABLE_TYPES)}")
        levels = vraw.get("levels") or {}
        if isinstance(levels, list):
            levels = {str(x): str(x) for x in levels}
        if not isinstance(levels, dict):
            problems.append(f"{where}levels: must be a mapping of code: label (or a list of codes)")
            levels = {}
        levels = {str(k): str(v) for k, v in levels.items()}
        if vtype == "categorical" and len(levels) < 2:
            problems.append(f"{where}levels: a categorical variable needs at least two levels")
        cut = None
        if "cut" in vraw:
            craw = vraw["cut"]
            try:
                breaks = tuple(float(b) for b in craw["breaks"])
                cut_levels = tuple(str(x) for x in craw["levels"])
                if len(cut_levels) != len(breaks) + 1:
                    problems.append(f"{where}cut.levels: need {len(breaks) + 1} levels for {len(breaks)} breaks")
                if list(breaks) != sorted(set(breaks)):
                    problems.append(f"{where}cut.breaks: must be strictly increasing")
                cut = Cut(breaks, cut_levels, bool(craw.get("right", True)))
            except (KeyError, TypeError, ValueError):
                problems.append(f"{where}cut: must have numeric 'breaks' and 'levels' (codes), optional 'right'")
            if vtype == "categorical":
                problems.append(f"{where}cut: only continuous variables can be cut")
        rng = vraw.get("range", [None, None])
        if not (isinstance(rng, list) and len(rng) == 2):
            problems.append(f"{where}range: must be [min, max] (use null for no bound)")
            rng = [None, None]
        summarise_as = vraw.get("summarise_as", "categorical" if cut else "continuous")
        if summarise_as not in VARIABLE_TYPES:
            problems.append(f"{where}summarise_as: '{summarise_as}' is not one of {list(VARIABLE_TYPES)}")
        variables[str(name)] = Variable(
            name=str(name),
            label=str(vraw.get("label", name)),
            type=vtype or "categorical",
            levels=levels,
            unit=vraw.get("unit"),
            decimals=int(vraw.get("decimals", 2)),
            valid_range=(rng[0], rng[1]),
            cut=cut,
            summarise_as=summarise_as,
            missing_allowed=bool(vraw.get("missing_allowed", False)),
            integer=bool(vraw.get("integer", False)),
        )
        if vraw.get("integer") and vtype == "categorical":
            problems.append(f"{where}integer: only continuous variables can be declared integer")
    if arm_column in variables:
        problems.append(f"variables.{arm_column}: the arm column must not also be declared as a variable")

    t1raw = need(raw, "table1", "", dict) or {}
    t1vars = tuple(t1raw.get("variables") or ())
    for v in t1vars:
        if v not in variables:
            problems.append(f"table1.variables: '{v}' is not declared under variables")
    table1 = Table1Spec(
        title=str(t1raw.get("title", "Baseline characteristics")),
        variables=t1vars,
        continuous_summary=str(t1raw.get("continuous_summary", "median_iqr")),
        categorical_test=str(t1raw.get("categorical_test", "chisq_yates")),
        continuous_test=str(t1raw.get("continuous_test", "mann_whitney")),
        notes=str(t1raw.get("notes", "")),
    )
    if table1.continuous_summary not in CONTINUOUS_SUMMARIES:
        problems.append(f"table1.continuous_summary: '{table1.continuous_summary}' is not one of {list(CONTINUOUS_SUMMARIES)}")

    matching = None
    if raw.get("matching"):
        mraw = raw["matching"]
        covs = tuple(mraw.get("covariates") or ())
        for v in covs:
            if v not in variables:
                problems.append(f"matching.covariates: '{v}' is not declared under variables")
        caliper = mraw.get("caliper", 0.1)
        if caliper is not None and (not isinstance(caliper, (int, float)) or caliper <= 0 or math.isnan(caliper)):
            problems.append(f"matching.caliper: must be a positive number or null, got {caliper!r}")
        ratio = mraw.get("ratio", 1)
        if not isinstance(ratio, int) or ratio < 1:
            problems.append(f"matching.ratio: must be a whole number >= 1, got {ratio!r}")
        matching = MatchingSpec(covs, ratio=ratio, caliper=caliper, replace=bool(mraw.get("replace", False)),
                                order=str(mraw.get("order", "largest")))

    flow = []
    for i, fraw in enumerate(raw.get("flow") or []):
        if not isinstance(fraw, dict) or "step" not in fraw or "n" not in fraw:
            problems.append(f"flow[{i}]: each step needs 'step' and 'n'")
            continue
        flow.append(FlowStep(str(fraw["step"]), int(fraw["n"]), str(fraw.get("label", fraw["step"]))))

    survival = _parse_survival(raw.get("survival"), variables, arm_column, problems)
    subgroups = _parse_subgroups(raw.get("subgroups"), variables, survival, problems)
    used = set(variables) | {arm_column, id_column}
    if survival is not None:
        used |= {c for ep in survival.endpoints.values() for c in (ep.time, ep.event)}
    response = _parse_response(raw.get("response"), used, problems)
    if response is not None:
        used |= {c.column for c in response.criteria.values()}
    adverse_events = _parse_adverse_events(raw.get("adverse_events"), used, problems)

    if problems:
        raise SpecError(path, problems)
    return StudySpec(
        study_id=study_id,
        title=title,
        short_title=str(raw.get("short_title", title)),
        paper=str(raw.get("paper", "")),
        seed_file=str(raw.get("seed_file", "")),
        synthetic=bool(raw.get("synthetic", False)),
        folder=path.parent,
        patients_file=path.parent / patients,
        id_column=id_column,
        arm=arm,
        variables=variables,
        table1=table1,
        matching=matching,
        flow=tuple(flow),
        survival=survival,
        subgroups=subgroups,
        notes=str(raw.get("notes", "")),
        response=response,
        adverse_events=adverse_events,
        data_source=data_source.strip(),
        raw=raw,
    )


def _parse_survival(sraw: Any, variables: dict[str, Variable], arm_column: str,
                    problems: list[str]) -> SurvivalSpec | None:
    """Parse the optional ``survival`` section, appending every problem to ``problems``."""
    if not sraw:
        return None
    if not isinstance(sraw, dict):
        problems.append("survival: must be a mapping with at least 'endpoints'")
        return None
    endpoints: dict[str, Endpoint] = {}
    eraw_all = sraw.get("endpoints")
    if not isinstance(eraw_all, dict) or not eraw_all:
        problems.append("survival.endpoints: required mapping of endpoint id -> {label, time, event}")
        eraw_all = {}
    used_columns = set(variables) | {arm_column}
    for name, eraw in eraw_all.items():
        where = f"survival.endpoints.{name}."
        if not isinstance(eraw, dict):
            problems.append(f"survival.endpoints.{name}: must be a mapping with 'label', 'time' and 'event'")
            continue
        for key in ("time", "event"):
            if not isinstance(eraw.get(key), str):
                problems.append(f"{where}{key}: required column name is missing")
            elif eraw[key] in used_columns:
                problems.append(f"{where}{key}: column '{eraw[key]}' is already used by a variable or the arm")
        endpoints[str(name)] = Endpoint(str(name), str(eraw.get("label", name)), str(eraw.get("short", name)),
                                        str(eraw.get("time", "")), str(eraw.get("event", "")),
                                        eraw.get("part_of"))
    for ep in endpoints.values():
        if ep.part_of is not None and ep.part_of not in endpoints:
            problems.append(f"survival.endpoints.{ep.name}.part_of: '{ep.part_of}' is not an endpoint")

    def endpoint_list(key: str) -> tuple[str, ...]:
        names = tuple(str(x) for x in (sraw.get(key) if key in sraw else ()) or ())
        return names

    conf_type = str(sraw.get("conf_type", "log"))
    if conf_type not in CONF_TYPES:
        problems.append(f"survival.conf_type: '{conf_type}' is not one of {list(CONF_TYPES)}")
    followup = sraw.get("followup_endpoint")
    if followup is not None and followup not in endpoints:
        problems.append(f"survival.followup_endpoint: '{followup}' is not an endpoint")

    craw = sraw.get("cox") or {}
    cox_endpoints = tuple(str(x) for x in craw.get("endpoints") or ())
    candidates = tuple(str(x) for x in craw.get("candidates") or ())
    refs = {str(k): str(v) for k, v in (craw.get("reference_levels") or {}).items()}
    for e in cox_endpoints:
        if e not in endpoints:
            problems.append(f"survival.cox.endpoints: '{e}' is not an endpoint")
    for v in candidates:
        if v not in variables:
            problems.append(f"survival.cox.candidates: '{v}' is not declared under variables")
    for v, level in refs.items():
        if v not in variables:
            problems.append(f"survival.cox.reference_levels: '{v}' is not declared under variables")
        else:
            var = variables[v]
            codes = list(var.levels) if var.type == "categorical" else list(var.cut.levels if var.cut else ())
            if level not in codes:
                problems.append(f"survival.cox.reference_levels.{v}: '{level}' is not a level of {v} {codes}")
    entry_rule = str(craw.get("entry_rule", "any_term"))
    if entry_rule not in ENTRY_RULES:
        problems.append(f"survival.cox.entry_rule: '{entry_rule}' is not one of {list(ENTRY_RULES)}")
    entry_p = craw.get("entry_p", 0.1)
    if not isinstance(entry_p, (int, float)) or not 0 < entry_p <= 1:
        problems.append(f"survival.cox.entry_p: must be a number in (0, 1], got {entry_p!r}")
        entry_p = 0.1
    cox = CoxSpec(cox_endpoints, candidates, refs, float(entry_p), entry_rule)

    rraw = sraw.get("rmst") or {}
    rmst_endpoints = tuple(str(x) for x in rraw.get("endpoints") or ())
    for e in rmst_endpoints:
        if e not in endpoints:
            problems.append(f"survival.rmst.endpoints: '{e}' is not an endpoint")
    tau = rraw.get("tau", "floor_min_max")
    if not (tau in TAU_RULES or (isinstance(tau, (int, float)) and tau > 0)):
        problems.append(f"survival.rmst.tau: must be one of {list(TAU_RULES)} or a positive number, got {tau!r}")

    def numbers(key: str) -> tuple[float, ...]:
        vals = sraw.get(key) or []
        try:
            out = tuple(float(x) for x in vals)
        except (TypeError, ValueError):
            problems.append(f"survival.{key}: must be a list of numbers, got {vals!r}")
            return ()
        if any(x < 0 for x in out):
            problems.append(f"survival.{key}: times must be >= 0, got {list(out)}")
        return out

    return SurvivalSpec(endpoints=endpoints, time_unit=str(sraw.get("time_unit", "months")), conf_type=conf_type,
                        at_risk_times=numbers("at_risk_times"), landmarks=numbers("landmarks"),
                        followup_endpoint=followup, cox=cox, rmst_endpoints=rmst_endpoints, rmst_tau=tau)


def _code_list(value: Any, where: str, problems: list[str]) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value or not all(isinstance(x, (str, int)) for x in value):
        problems.append(f"{where}: must be a non-empty list of codes, got {value!r}")
        return None
    return tuple(str(x) for x in value)


def _check_policy(value: Any, where: str, problems: list[str]) -> str:
    from helpers.stats.hypothesis_tests import CATEGORICAL_POLICIES  # local: hypothesis_tests does not import spec

    policy = str(value)
    if policy not in CATEGORICAL_POLICIES:
        problems.append(f"{where}: '{policy}' is not one of {list(CATEGORICAL_POLICIES)}")
    return policy


def _parse_response(rraw: Any, used_columns: set[str], problems: list[str]) -> ResponseSpec | None:
    """Parse the optional ``response`` section, appending every problem to ``problems``."""
    if not rraw:
        return None
    if not isinstance(rraw, dict):
        problems.append("response: must be a mapping with 'categories', 'objective', 'control' and 'criteria'")
        return None
    categories = _code_list(rraw.get("categories"), "response.categories", problems) or ()
    if len(set(categories)) != len(categories):
        problems.append(f"response.categories: codes must be unique, got {list(categories)}")
    subsets = {}
    for key in ("objective", "control"):
        codes = _code_list(rraw.get(key), f"response.{key}", problems) or ()
        unknown = [c for c in codes if categories and c not in categories]
        if unknown:
            problems.append(f"response.{key}: {unknown} not in response.categories {list(categories)}")
        subsets[key] = codes
    if subsets["objective"] and subsets["control"] and not set(subsets["objective"]) <= set(subsets["control"]):
        problems.append(f"response.control: must include every objective response code {list(subsets['objective'])}")
    test = _check_policy(rraw.get("test", "fisher_if_expected_lt5"), "response.test", problems)
    criteria: dict[str, ResponseCriterion] = {}
    craw_all = rraw.get("criteria")
    if not isinstance(craw_all, dict) or not craw_all:
        problems.append("response.criteria: required mapping of criterion id -> {label, column}")
        craw_all = {}
    seen: dict[str, str] = {}
    for cid, craw in craw_all.items():
        where = f"response.criteria.{cid}"
        if not isinstance(craw, dict):
            problems.append(f"{where}: must be a mapping with 'label' and 'column'")
            continue
        column = craw.get("column")
        if not isinstance(column, str) or not column:
            problems.append(f"{where}.column: required column name is missing")
            continue
        if column in used_columns:
            problems.append(f"{where}.column: column '{column}' is already used by a variable, the arm, the id "
                            f"or an endpoint")
        if column in seen:
            problems.append(f"{where}.column: column '{column}' is also used by criterion '{seen[column]}'")
        seen[column] = str(cid)
        criteria[str(cid)] = ResponseCriterion(str(cid), str(craw.get("label", cid)), column)
    return ResponseSpec(categories, subsets["objective"], subsets["control"], criteria, test)


def _parse_adverse_events(araw: Any, used_columns: set[str], problems: list[str]) -> AdverseEventSpec | None:
    """Parse the optional ``adverse_events`` section, appending every problem to ``problems``."""
    if not araw:
        return None
    if not isinstance(araw, dict):
        problems.append("adverse_events: must be a mapping with at least 'format' and 'terms'")
        return None
    fmt = str(araw.get("format", "wide"))
    if fmt not in AE_FORMATS:
        problems.append(f"adverse_events.format: '{fmt}' is not one of {list(AE_FORMATS)}")
    prefix = araw.get("column_prefix", "ae_")
    if not isinstance(prefix, str):
        problems.append(f"adverse_events.column_prefix: must be text, got {prefix!r}")
        prefix = "ae_"
    file = araw.get("file")
    if fmt == "long":
        if not isinstance(file, str) or not file:
            problems.append("adverse_events.file: required for format 'long' (a CSV/Excel file with columns "
                            "patient id, term, grade)")
            file = None
    elif file is not None and not isinstance(file, str):
        problems.append(f"adverse_events.file: must be a file name, got {file!r}")
        file = None
    test = _check_policy(araw.get("test", "fisher_if_expected_lt5"), "adverse_events.test", problems)
    severe = araw.get("severe_grades", [3, 4])
    if (not isinstance(severe, list) or not severe
            or not all(isinstance(g, int) and not isinstance(g, bool) and 1 <= g <= 5 for g in severe)):
        problems.append(f"adverse_events.severe_grades: must be a non-empty list of grades 1-5, got {severe!r}")
        severe = [3, 4]
    elif sorted(set(severe)) != list(range(min(severe), max(severe) + 1)):
        problems.append(f"adverse_events.severe_grades: must be consecutive grades, got {severe!r}")
    terms_raw = araw.get("terms")
    if isinstance(terms_raw, list):
        terms_raw = {str(t): str(t) for t in terms_raw}
    if not isinstance(terms_raw, dict) or not terms_raw:
        problems.append("adverse_events.terms: required mapping of term code -> label, in the paper's order")
        terms_raw = {}
    terms = {str(k): str(v) for k, v in terms_raw.items()}
    if "overall" in terms:
        problems.append("adverse_events.terms: 'overall' is reserved for 'any adverse event'")
    if fmt == "wide":
        for t in terms:
            if prefix + t in used_columns:
                problems.append(f"adverse_events.terms.{t}: column '{prefix + t}' is already used elsewhere in the spec")
    return AdverseEventSpec(terms=terms, format=fmt, column_prefix=prefix, file=file, test=test,
                            severe_grades=tuple(int(g) for g in severe))


def _parse_subgroups(graw: Any, variables: dict[str, Variable], survival: SurvivalSpec | None,
                     problems: list[str]) -> SubgroupSpec | None:
    """Parse the optional ``subgroups`` section (needs ``survival`` for its endpoints)."""
    if not graw:
        return None
    if not isinstance(graw, dict):
        problems.append("subgroups: must be a mapping with 'endpoints' and 'variables'")
        return None
    endpoints = tuple(str(x) for x in graw.get("endpoints") or ())
    names = tuple(str(x) for x in graw.get("variables") or ())
    known = survival.endpoints if survival else {}
    for e in endpoints:
        if e not in known:
            problems.append(f"subgroups.endpoints: '{e}' is not an endpoint of the survival section")
    for v in names:
        if v not in variables:
            problems.append(f"subgroups.variables: '{v}' is not declared under variables")
        elif variables[v].type == "continuous" and variables[v].cut is None:
            problems.append(f"subgroups.variables: '{v}' is continuous without a 'cut'; subgroups need categories")
    if not endpoints or not names:
        problems.append("subgroups: needs at least one endpoint and one variable")
    return SubgroupSpec(endpoints, names)
