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

from .paths import STUDIES_DIR

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
    notes: str = ""
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
        )
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
        notes=str(raw.get("notes", "")),
        raw=raw,
    )
