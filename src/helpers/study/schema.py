"""The format of ``study.yaml``, defined once: pydantic models of every key at every level.

The models say which keys exist, which are required, their types, allowed values and defaults, and carry
the description of each key. From this one definition come

* the structural check of every spec (:func:`check_structure`): an unknown key is refused with the nearest
  valid one ("did you mean `synthetic`?"), a missing required key is named, a wrong type or value says what
  is expected; every message names the key path and the line of ``study.yaml``;
* the JSON Schema ``data/studies/study.schema.json`` (:func:`json_schema`; ``make schema`` writes it, a test
  keeps it in sync), which editors with the YAML language server use to complete and check ``study.yaml``
  (each spec's first line points to it: ``# yaml-language-server: $schema=../study.schema.json``);
* the key reference of ``book/spec_format.md`` (:func:`reference_markdown`; a test keeps it in sync).

Cross-references (a Table 1 variable that is not declared, an endpoint that does not exist) are checked after
the structure, in :mod:`helpers.study.spec`.
"""
from __future__ import annotations

import copy
import datetime
import difflib
import json
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from helpers.stats.hypothesis_tests import CATEGORICAL_POLICIES, CONTINUOUS_POLICIES

SCHEMA_ID = "https://github.com/hcc-cohort-book/schema/study.schema.json"

Scalar = Union[str, int, float]
#: Layouts of the survival chapter's Kaplan-Meier figures: numbers at risk under the curves, as the papers
#: print them, or the KMunicate layout (Morris et al., BMJ Open 2019): CI bands and, per arm, the numbers at
#: risk, censored and with an event.
KM_LAYOUTS = ("standard", "kmunicate")
CategoricalPolicy = Literal[CATEGORICAL_POLICIES]  # type: ignore[valid-type]
ContinuousPolicy = Literal[CONTINUOUS_POLICIES]  # type: ignore[valid-type]


class _Strict(BaseModel):
    """Every model refuses keys it does not define (``extra="forbid"``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _no_yaml_booleans(value: Any, what: str) -> Any:
    """YAML 1.1 reads unquoted yes/no/on/off/true/false as booleans: a level code must be quoted text."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {value!r} was read as a boolean: YAML reads unquoted yes/no/on/off/true/false "
                         f"that way; write the code in quotes, e.g. \"{'yes' if value else 'no'}\"")
    return value


def _codes_not_booleans(value: Any, what: str) -> Any:
    """``{code: label}`` (or a list of codes) of arms or levels, with no code or label read as a boolean."""
    if isinstance(value, dict):
        for k, v in value.items():
            _no_yaml_booleans(k, f"{what} code")
            _no_yaml_booleans(v, f"{what} label")
    elif isinstance(value, list):
        for v in value:
            _no_yaml_booleans(v, f"{what} code")
    return value


class Citation(_Strict):
    """The paper a study reproduces, as a reference list prints it."""

    title: str = Field(description="Title of the paper.")
    journal: str = Field(description="Journal (abbreviated as in PubMed), or 'unpublished'.")
    year: int = Field(ge=1900, le=2100, description="Year of publication.")
    authors: str | None = Field(None, description="Authors as the paper lists them; null when the source "
                                                  "text does not give them.")
    volume: str | None = Field(None, description="Volume (and issue), e.g. '14'.")
    pages: str | None = Field(None, description="Pages or article number, e.g. '1495321'.")
    doi: str | None = Field(None, pattern=r"^10\.\d{4,9}/\S+$", description="DOI, e.g. 10.3389/fonc.2024.1495321.")
    url: str | None = Field(None, description="Web address of the paper.")
    note: str | None = Field(None, description="Anything a reader should know about the reference (e.g. where "
                                               "the DOI was found).")


class Design(_Strict):
    """How the study assigned the treatments: every sentence of the book about design comes from here."""

    type: Literal["randomised", "observational"] = Field(
        description="randomised: the arms were assigned at random (a trial); observational: the treatment was "
                    "chosen in care, so the arms may differ in prognosis (confounding).")
    timing: Literal["retrospective", "prospective"] = Field(
        description="retrospective: data collected from records after the fact; prospective: collected as "
                    "patients were followed.")
    setting: str | None = Field(None, description="Where and when, e.g. 'Sun Yat-sen University Cancer Center, "
                                                  "2020-2024'.")
    time_zero: str | None = Field(None, description="When follow-up starts for every patient (the reporting "
                                                    "checklist states it).")
    immortal_time: str | None = Field(None, description="Any period in which one arm's patients could not have the "
                                                        "event by the way the arms are defined (immortal time or "
                                                        "selection before time zero), in words; 'none' when there "
                                                        "is none.")


class DataSection(_Strict):
    """Where the patient table is and how its file is written."""

    patients: str = Field(description="The patient table (CSV or Excel), relative to the study folder.")
    id_column: str = Field(description="The column of patient ids: unique and never missing.")
    source: str = Field("", description="Where the data come from (shown on every page for real data).")
    delimiter: Literal[",", ";", "\t", "|"] = Field(",", description="CSV field separator; ';' for the CSV "
                                                                      "that Excel writes in many European locales.")
    decimal: Literal[".", ","] = Field(".", description="Decimal mark of numbers in a CSV file.")
    encoding: str = Field("utf-8", description="Text encoding of a CSV file, e.g. utf-8 (a BOM is fine) or "
                                               "latin-1 (cp1252).")
    date_format: str | None = Field(
        None, description="How the date cells of endpoints declared from dates are written: iso (2025-01-31), "
                          "day_first (31/01/2025, 31.01.2025 or 31-01-2025), month_first (01/31/2025), or a format "
                          "such as \"%d.%m.%Y\" or \"%d-%b-%Y\" (codes %d %m %b %B %Y). Without it only "
                          "YYYY-MM-DD dates (and Excel date cells) are read: a date such as 03/05/2025 is refused "
                          "rather than guessed.")
    cutoff_date: datetime.date | None = Field(
        None, description="The data cut-off (written YYYY-MM-DD, e.g. 2025-01-31): endpoints declared from dates "
                          "are censored at it (an event after it counts as none, follow-up ends at it); a start "
                          "date after it is an error.")

    @field_validator("cutoff_date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        """A date of the spec is written YYYY-MM-DD (YAML reads it as a date); a number is not read as a time
        stamp, nor 31/01/2025 guessed."""
        import re

        if value is None or (isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:
                return datetime.date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a date of the calendar (written YYYY-MM-DD)") from None
        raise ValueError(f"must be a date written YYYY-MM-DD (e.g. 2025-01-31), got {_shown(value)}")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}: use e.g. utf-8, latin-1 or cp1252") from None
        return value


class ArmSection(_Strict):
    """The treatment arms: exactly two."""

    column: str = Field(description="The column holding each patient's arm code.")
    reference: Scalar = Field(description="The comparator arm (its code); hazard ratios and differences are "
                                          "experimental vs reference.")
    levels: dict[Scalar, Scalar] = Field(description="Arm code in the data: label in the book (exactly two). Codes "
                                                     "are compared as the text in the cell: `1: Observation` "
                                                     "matches a cell 1.")

    @field_validator("levels", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        return _codes_not_booleans(value, "arm")

    @field_validator("reference", mode="before")
    @classmethod
    def _reference(cls, value: Any) -> Any:
        return _no_yaml_booleans(value, "reference arm code")


class CutSection(_Strict):
    """Cut-points that turn a continuous variable into ordered categories, as R's ``cut()``."""

    breaks: list[float] = Field(min_length=1, description="Strictly increasing cut-points.")
    levels: list[Scalar] = Field(description="Codes of the categories, one more than breaks, lowest first.")
    right: bool = Field(True, description="true: intervals (a, b] (R's default); false: [a, b).")


class VariableSection(_Strict):
    """One column of the patient table that the analyses use."""

    label: str = Field(description="How the book names the variable.")
    type: Literal["categorical", "continuous"] = Field(description="categorical: values are level codes; "
                                                                   "continuous: numbers.")
    levels: dict[Scalar, Scalar] | list[Scalar] | None = Field(
        None, description="Categorical: code: label in display order, the first is the reference level in models "
                          "(a list of codes when labels equal codes). Codes are the raw values as exported, "
                          "compared as the text in the cell: `{1: male, 2: female}` matches cells 1 and 2 (not 01 "
                          "or 1.0). For a cut continuous variable: labels of the cut levels.")
    unit: str | None = Field(None, description="Unit shown in tables and on axes, e.g. years, ng/mL.")
    decimals: int = Field(2, ge=0, le=10, description="Decimals shown for medians and means.")
    range: list[int | float | None] | None = Field(None, min_length=2, max_length=2,
                                             description="[min, max] allowed values; null for no bound.")
    cut: CutSection | None = Field(None, description="Continuous only: categories for models and subgroups.")
    summarise_as: Literal["categorical", "continuous"] | None = Field(
        None, description="For a cut variable: whether Table 1 and matching use the categories (default) or the "
                          "value.")
    missing_allowed: bool = Field(False, description="false: an empty cell, NA or '.' is an error; true: missing "
                                                     "values are counted and shown, and models use complete cases.")
    integer: bool = Field(False, description="Continuous only: values must be whole numbers (enables GRIM checks "
                                             "of published means).")
    missing_codes: list[Scalar] = Field(
        default_factory=list, description="Codes that mean 'unknown' in this column as exported (e.g. [9, 99, "
                                          "unknown]): such a cell is a missing value, counted as missing on the "
                                          "pages (needs missing_allowed: true). Compared as the text in the cell.")

    @field_validator("levels", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        return _codes_not_booleans(value, "level")

    @field_validator("missing_codes", mode="before")
    @classmethod
    def _missing_codes(cls, value: Any) -> Any:
        if isinstance(value, list):
            for v in value:
                _no_yaml_booleans(v, "missing code")
        return value


class Table1Section(_Strict):
    """Table 1: the baseline characteristics by arm."""

    title: str = Field("Baseline characteristics", description="Caption of Table 1.")
    variables: list[str] = Field(min_length=1, description="Rows of Table 1, in order (declared variables).")
    continuous_summary: Literal["median_iqr", "mean_sd"] = Field("median_iqr", description="Summary of continuous "
                                                                                          "variables.")
    categorical_test: CategoricalPolicy = Field("chisq_yates", description="Test for categorical variables.")
    continuous_test: ContinuousPolicy = Field("mann_whitney", description="Test for continuous variables.")
    notes: str = Field("", description="A note printed under Table 1.")


class MatchingSection(_Strict):
    """Propensity-score matching, with R MatchIt's semantics."""

    covariates: list[str] = Field(min_length=1, description="Variables of the propensity model (logistic "
                                                            "regression of the arm).")
    ratio: int = Field(1, ge=1, description="Controls per treated patient (1 for 1:1).")
    caliper: float | None = Field(0.1, gt=0, description="Caliper in SDs of the propensity score; null for none.")
    replace: bool = Field(False, description="Match with replacement.")
    order: Literal["largest", "smallest", "data"] = Field("largest", description="Order in which treated patients "
                                                                                 "are matched (by score).")
    convention: Literal["matchit", "sas_psmatch"] = Field(
        "matchit", description="matchit: R MatchIt's defaults; sas_psmatch: as SAS PSMATCH (the three switches below "
                               "set to logit, pooled and both).")
    distance: Literal["probability", "logit"] | None = Field(
        None, description="The distance matched on: the propensity score (MatchIt) or its logit (SAS).")
    caliper_sd: Literal["all", "pooled"] | None = Field(
        None, description="The SD the caliper is measured in: of all patients' distances (MatchIt) or the pooled "
                          "SD of the arms, sqrt((s1^2 + s0^2)/2) (SAS).")
    discard: Literal["none", "both", "control", "treated"] | None = Field(
        None, description="Restrict matching to the common support: none (MatchIt), both (SAS REGION=CS).")


class WeightingSection(_Strict):
    """Propensity-score weighting, as an alternative to matching (the book's addition to the paper)."""

    covariates: list[str] | None = Field(None, description="Variables of the propensity model (default: the "
                                                           "matching covariates).")
    estimands: list[Literal["ATE", "ATT", "ATO"]] = Field(
        ["ATE", "ATT", "ATO"], min_length=1,
        description="ATE: inverse probability weights (all patients); ATT: the treated patients' population; "
                    "ATO: overlap weights (Li, Morgan & Zaslavsky 2018).")
    stabilize: bool = Field(True, description="ATE weights stabilized by the arm proportions.")
    trim: float | None = Field(None, gt=0, lt=0.5, description="Drop patients whose score lies outside [trim, 1 - "
                                                               "trim] (Crump-style); null for none.")


class MissingSection(_Strict):
    """How the models handle missing covariates: complete cases (R's default), or multiple imputation."""

    method: Literal["complete_case", "mice"] = Field(
        "complete_case", description="complete_case: every model uses the patients with all its variables (R's "
                                     "na.omit); mice: the Cox models are also fitted in m imputed data sets and "
                                     "pooled by Rubin's rules (the complete-case results stay on the page).")
    m: int = Field(20, ge=2, le=200, description="Number of imputed data sets.")
    maxit: int = Field(5, ge=1, le=100, description="Iterations of the chained equations.")
    seed: int = Field(20241201, description="Seed of the imputation (the same seed gives the same data sets).")


class FlowStep(_Strict):
    """One step of the published patient flow."""

    step: str = Field(description="Step id, e.g. screened, excluded, included.")
    n: int = Field(ge=0, description="Number of patients.")
    label: str | None = Field(None, description="What the step is, as the paper's flow chart says.")


class EndpointSection(_Strict):
    """A time-to-event endpoint: a time column (>= 0) and a 0/1 event column, or the dates they come from."""

    label: str = Field(description="E.g. Progression-free survival.")
    short: str = Field(description="E.g. PFS.")
    time: str | None = Field(None, description="Durations: column of times, in survival.time_unit (with event; "
                                               "or declare the endpoint from dates: start, events, last_seen).")
    event: str | None = Field(None, description="Durations: column of event indicators: 1 event, 0 censored.")
    start: str | None = Field(None, description="Dates: column of the date of time 0 (treatment start, "
                                                "randomisation); the loader derives <id>_time and <id>_event.")
    events: list[str] | None = Field(None, min_length=1,
                                     description="Dates: columns of event dates; the first date present is the "
                                                 "event (PFS: [date_progression, date_death]); an empty cell: no "
                                                 "such event.")
    last_seen: str | None = Field(None, description="Dates: column of the date of last follow-up; a patient "
                                                    "without an event is censored there (no event may come after "
                                                    "it).")
    part_of: str | None = Field(None, description="A composite endpoint this one refines (intrahepatic PFS is "
                                                  "part of PFS): its events must be the parent's events.")


class CauseSection(_Strict):
    """One cause of a competing-risks analysis: the event types it counts."""

    label: str = Field(description="E.g. Intrahepatic progression.")
    types: list[Scalar] = Field(min_length=1, description="The event types (codes of the type column) that are "
                                                          "this cause; every other type competes with it.")
    endpoint: str | None = Field(None, description="The endpoint whose Kaplan-Meier curve the paper shows for this "
                                                   "cause (its events must be exactly this cause's), for 1 - KM "
                                                   "beside the cumulative incidence and the cause-specific HR.")


class CompetingRisksSection(_Strict):
    """A time to the first of several event types, and the types that compete."""

    label: str = Field(description="E.g. First progression or death.")
    endpoint: str = Field(description="The endpoint of the time to the first event of any type and its 0/1 "
                                      "indicator (e.g. pfs).")
    type: str = Field(description="The column holding each patient's first event type (or the censored code).")
    censored: Scalar = Field(description="The code of the type column for a censored patient.")
    types: dict[Scalar, Scalar] = Field(min_length=2, description="Event type code: label.")
    causes: dict[str, CauseSection] = Field(min_length=1, description="Cause id: the types it counts.")


class CoxSection(_Strict):
    """The paper's Cox analysis: a univariable screen, then a multivariable model."""

    endpoints: list[str] = Field(default_factory=list, description="Endpoints with the screen and the model.")
    candidates: list[str] = Field(default_factory=list, description="Variables screened (the arm always is).")
    reference_levels: dict[str, Scalar] = Field(default_factory=dict,
                                                description="Reference level per variable when not the first.")
    entry_p: float = Field(0.1, gt=0, le=1, description="Univariable p below which a variable enters the "
                                                        "multivariable model.")
    entry_rule: Literal["any_term", "global_wald"] = Field("any_term", description="any_term: any dummy of the "
                                                                                    "variable; global_wald: the "
                                                                                    "variable's joint Wald test.")
    ph_cut: float | None = Field(None, gt=0, description="Where a term fails the proportional-hazards test, its "
                                                         "hazard ratio is shown before and after this time (default: "
                                                         "the endpoint's median event time).")


class RmstSection(_Strict):
    """Restricted mean survival time."""

    endpoints: list[str] = Field(default_factory=list, description="Endpoints with an RMST analysis.")
    tau: Literal["floor_min_max", "min_max"] | float = Field(
        "floor_min_max", description="floor_min_max: the smallest of the arms' largest observed times, rounded "
                                     "down; min_max: not rounded; or a number of time units.")

    @field_validator("tau")
    @classmethod
    def _positive(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
            raise ValueError(f"tau must be a positive number of time units, got {value}")
        return value


class SurvivalSection(_Strict):
    """Time-to-event endpoints and the conventions of the survival chapter."""

    endpoints: dict[str, EndpointSection] = Field(min_length=1, description="Endpoint id: its columns.")
    time_unit: str = Field("months", description="Unit of every time column, at-risk time, landmark and τ. Time "
                                                 "columns are not converted; with endpoints declared from dates it "
                                                 "must be days, weeks (days / 7), months (days / 30.4375) or years "
                                                 "(days / 365.25).")
    conf_type: Literal["log", "log-log", "plain"] = Field("log", description="Pointwise Kaplan-Meier CI (R's "
                                                                             "default: log).")
    at_risk_times: list[float] = Field(default_factory=list, description="Times of the numbers at risk under "
                                                                         "the curves.")
    landmarks: list[float] = Field(default_factory=list, description="Times of landmark survival comparisons.")
    followup_endpoint: str | None = Field(None, description="Endpoint of the reverse Kaplan-Meier follow-up "
                                                            "(default: the first).")
    cox: CoxSection = Field(default_factory=CoxSection, description="The univariable screen and multivariable "
                                                                    "model.")
    rmst: RmstSection = Field(default_factory=RmstSection, description="Restricted mean survival time.")
    competing_risks: dict[str, CompetingRisksSection] = Field(
        default_factory=dict, description="Competing-risks analyses (optional): id -> the first-event time, the "
                                          "type column and the causes.")
    hr_decimals: int = Field(2, ge=1, le=4, description="Decimals of hazard ratios and their CIs in the tables and "
                                                        "text, as the paper prints them (seed 004: 3).")
    km_median_lines: bool = Field(False, description="Draw dotted lines to each arm's median on the Kaplan-Meier "
                                                     "figures (where the paper's figures have them).")
    km_layout: Literal[KM_LAYOUTS] = Field(  # type: ignore[valid-type]
        "standard", description="Layout of the survival chapter's Kaplan-Meier figures: standard (numbers at risk "
                                "under the curves, censored patients marked +), or kmunicate (Morris et al., BMJ "
                                "Open 2019: CI bands, and per arm the numbers at risk, censored and with an event, "
                                "cumulative, under the curves).")

    @field_validator("at_risk_times", "landmarks")
    @classmethod
    def _non_negative(cls, value: list[float]) -> list[float]:
        bad = [x for x in value if x < 0]
        if bad:
            raise ValueError(f"times must be >= 0, got {bad}")
        return value


class CriterionSection(_Strict):
    """One response assessment (e.g. RECIST 1.1)."""

    label: str = Field(description="E.g. RECIST 1.1.")
    column: str = Field(description="Column of each patient's best overall response.")


class ResponseSection(_Strict):
    """Best overall response."""

    categories: list[Scalar] = Field(min_length=2, description="Response codes, best first (e.g. CR, PR, SD, PD).")
    objective: list[Scalar] = Field(min_length=1, description="Codes counted in the objective response rate.")
    control: list[Scalar] = Field(min_length=1, description="Codes counted in the disease control rate.")
    test: CategoricalPolicy = Field("fisher_if_expected_lt5", description="Test of the rates between arms.")
    criteria: dict[str, CriterionSection] = Field(min_length=1, description="Criterion id: its column.")


class AdverseEventsSection(_Strict):
    """Adverse events by term and grade (CTCAE)."""

    terms: dict[str, str] | list[str] = Field(description="Term code: label, in the order the table lists them.")
    format: Literal["wide", "long"] = Field("wide", description="wide: one grade column <column_prefix><term> per "
                                                                "term (0 = none); long: a separate file.")
    column_prefix: str = Field("ae_", description="Prefix of the wide grade columns.")
    file: str | None = Field(None, description="Long format: file with columns <id column>, term, grade.")
    test: CategoricalPolicy = Field("fisher_if_expected_lt5", description="Test between arms.")
    severe_grades: list[int] = Field([3, 4], min_length=1, description="Grades of the severe column "
                                                                       "(consecutive).")


class SubgroupsSection(_Strict):
    """Forest plots of the treatment hazard ratio within subgroups."""

    endpoints: list[str] = Field(min_length=1, description="Endpoints of the forest plots.")
    variables: list[str] = Field(min_length=1, description="Baseline variables (categorical, or continuous with a "
                                                           "cut).")


class StudyFile(_Strict):
    """The file `data/studies/<study_id>/study.yaml`."""

    study_id: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", description="Must equal the folder name.")
    title: str = Field(description="Title of the study as the book shows it.")
    short_title: str | None = Field(None, description="A short title for page titles and tabs.")
    paper: str = Field("", description="One-line description of the paper (the full reference goes in "
                                       "citation).")
    citation: Citation | None = Field(None, description="The paper's reference; shown on every page of the study.")
    seed_file: str = Field("", description="The paper's text this study was transcribed from, if any.")
    synthetic: bool = Field(description="true: the patient table is synthetic (every page says so); false: real "
                                        "patient data. Required: the pages' data notice depends on it.")
    design: Design = Field(description="How the treatments were assigned. Required: every sentence about design "
                                       "comes from it.")
    notes: str = Field("", description="Free notes.")
    data: DataSection = Field(description="The patient table and how its file is written.")
    arm: ArmSection = Field(description="The two treatment arms.")
    variables: dict[str, VariableSection] = Field(min_length=1, description="Every column the analyses use, by "
                                                                            "column name.")
    table1: Table1Section = Field(description="Table 1: baseline characteristics by arm.")
    matching: MatchingSection | None = Field(None, description="Propensity-score matching (optional).")
    weighting: WeightingSection | None = Field(None, description="Propensity-score weighting (optional; the "
                                                                 "book's addition to the paper's analyses).")
    flow: list[FlowStep] = Field(default_factory=list, description="The published patient flow (optional).")
    survival: SurvivalSection | None = Field(None, description="Time-to-event endpoints (optional).")
    response: ResponseSection | None = Field(None, description="Best overall response (optional).")
    adverse_events: AdverseEventsSection | None = Field(None, description="Adverse events (optional).")
    subgroups: SubgroupsSection | None = Field(None, description="Subgroup forest plots (optional).")
    missing: MissingSection = Field(default_factory=MissingSection, description="How models handle missing "
                                                                                "covariates (default: complete "
                                                                                "cases).")
    paper_numbers: dict[str, str] = Field(
        default_factory=dict,
        description="Which of the paper's tables and figures each display of the book reproduces, by display key "
                    "(e.g. `table1: Table 1`, `km.primary: Figure 2`, `forest.pfs: Figure 4A`); the other "
                    "displays are numbered as the book's own (Table S1, ...). The keys are listed on the spec "
                    "format page.")

    @field_validator("paper_numbers")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for key, label in value.items():
            if not re.fullmatch(r"(Table|Figure) S?\d+[A-Z]?", label):
                raise ValueError(f"paper_numbers.{key}: '{label}' is not a table or figure number such as 'Table 2', "
                                 "'Figure 4A' or 'Table S3'")
        seen = {}
        for key, label in value.items():
            if label in seen:
                raise ValueError(f"paper_numbers: '{label}' is given to both {seen[label]} and {key}")
            seen[label] = key
        return value


# ------------------------------------------------------------------------------------------- the checker
def _inner_model(annotation: Any):
    """What a field holds: a model, ``("mapping", Model)`` for ``dict[str, Model]``, ``("list", Model)`` for
    ``list[Model]`` (``Model | None`` unwrapped), or None for plain values."""
    import types
    import typing

    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return next((inner for inner in map(_inner_model, args) if inner is not None), None)
    if origin in (dict, list) and args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
        return ("mapping" if origin is dict else "list", args[-1])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def allowed_keys(loc: tuple) -> list[str]:
    """The valid keys of the mapping at key path ``loc``; user-chosen names (a variable id, a list index)
    along the path are stepped over."""
    model: Any = StudyFile
    for part in loc:
        if isinstance(model, tuple):  # ("mapping" | "list", Model): this part is a user's name or an index
            model = model[1]
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or str(part) not in model.model_fields:
            return []
        model = _inner_model(model.model_fields[str(part)].annotation)
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def nearest(name: str, choices: list[str]) -> str | None:
    """The valid name closest to ``name`` (difflib), or None when nothing is close."""
    found = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, choices: list[str]) -> str:
    """' (did you mean `x`?)' or a list of the valid names when none is close."""
    close = nearest(name, choices)
    if close:
        return f" (did you mean `{close}`?)"
    return f" (valid: {', '.join(f'`{c}`' for c in choices)})" if choices else ""


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: dict) -> tuple[tuple, str]:
    """(key path, message) of one pydantic error, in the book's words."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("str", "int", "float", "bool")
                                                 or "[" in str(p) or str(p).startswith(("literal", "function"))))
    kind = err["type"]
    if kind == "extra_forbidden":
        key = loc[-1]
        return loc, f"unknown key `{key}`{did_you_mean(str(key), allowed_keys(loc[:-1]))}"
    if kind == "missing":
        return loc, "required key is missing"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        value = err.get("input")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
        close = nearest(str(value), choices)
        return loc, f"'{value}' is not one of {choices}" + (f" (did you mean `{close}`?)" if close else "")
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(err.get("ctx", {}).values()), "")
        limit = f"{limit:g}" if isinstance(limit, float) else limit
        return loc, f"must be {bounds[kind]} {limit}, got {_shown(err.get('input'))}"
    if kind == "too_short":
        return loc, f"needs at least {err.get('ctx', {}).get('min_length')} item(s), got {_shown(err.get('input'))}"
    if kind == "too_long":
        return loc, f"allows at most {err.get('ctx', {}).get('max_length')} item(s), got {_shown(err.get('input'))}"
    if kind == "string_pattern_mismatch":
        return loc, f"{_shown(err.get('input'))} does not have the expected form ({err.get('ctx', {}).get('pattern')})"
    if kind in ("model_type", "dict_type"):
        return loc, f"must be a mapping of key: value pairs, got {_shown(err.get('input'))}"
    if kind == "list_type":
        return loc, f"must be a list (e.g. [a, b]), got {_shown(err.get('input'))}"
    if kind in ("string_type",):
        return loc, f"must be text, got {_shown(err.get('input'))}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return loc, f"must be a whole number, got {_shown(err.get('input'))}"
    if kind in ("float_type", "float_parsing"):
        return loc, f"must be a number, got {_shown(err.get('input'))}"
    if kind in ("bool_type", "bool_parsing"):
        return loc, f"must be true or false, got {_shown(err.get('input'))}"
    if kind.startswith("date_"):
        return loc, f"must be a date written YYYY-MM-DD (e.g. 2025-01-31), got {_shown(err.get('input'))}"
    msg = err["msg"].removeprefix("Value error, ")
    return loc, msg


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dedupe_union(errors: list[dict]) -> list[dict]:
    """A value that fits no member of a union gets one error per member; keep the most specific one."""
    by_loc: dict[tuple, list[dict]] = {}
    for e in errors:
        base = tuple(p for p in e["loc"] if not (isinstance(p, str) and ("[" in p or p in ("str", "int", "float",
                                                                                               "bool"))))
        by_loc.setdefault(base, []).append(e)
    out = []
    for group in by_loc.values():
        if len(group) > 1 and any(e["type"] == "literal_error" for e in group):
            group = [next(e for e in group if e["type"] == "literal_error")]
        elif len(group) > 1:
            group = group[:1]
        out.extend(group)
    return out


def check_structure(raw: dict) -> tuple[StudyFile | None, list[tuple[tuple, str]], set[tuple]]:
    """Validate ``raw`` (the parsed YAML) against :class:`StudyFile`.

    Returns the model, the problems as ``(key path, message)``, and the entries left out for being at fault.
    With problems, the model still holds every top-level section that is valid on its own, or can be made
    valid by leaving out its faulty optional keys or faulty entries (one variable, one endpoint), so that the
    cross-references are checked too and every problem is reported at once. A section that cannot be made
    valid is missing from the model; the left-out entries (e.g. ``("variables", "age")``) let the caller
    avoid reporting a faulty variable a second time as "not declared".
    """
    try:
        return StudyFile.model_validate(raw), [], set()
    except ValidationError as exc:
        problems = [_message(e) for e in _dedupe_union(exc.errors())]
    values, left_out = {}, set()
    for name, field in StudyFile.model_fields.items():
        if name not in raw:
            continue
        section = copy.deepcopy(raw[name])
        faulty = [loc[1:] for loc, _ in problems if loc and loc[0] == name and len(loc) > 1]
        attempts = [[], [f[:-1] + (f[-1],) for f in faulty], [f[:1] for f in faulty]]  # as is, keys, entries
        for drop in attempts:
            for loc in drop:
                parent = _container(section, loc[:-1])
                if isinstance(parent, dict):
                    parent.pop(loc[-1], None)
            try:
                values[name] = TypeAdapter(field.annotation).validate_python(section)
                if drop is attempts[2]:
                    left_out |= {(name, *loc) for loc in drop}
                break
            except ValidationError:
                continue
    return StudyFile.model_construct(**values), problems, left_out


def _container(data: Any, loc: tuple) -> Any:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


def json_schema() -> dict:
    """The JSON Schema of ``study.yaml`` (draft 2020-12), as written to ``data/studies/study.schema.json``."""
    schema = StudyFile.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# -------------------------------------------------------------------------------------- the key reference
_SECTIONS = [
    ("", StudyFile), ("citation", Citation), ("design", Design), ("data", DataSection), ("arm", ArmSection),
    ("variables.<name>", VariableSection), ("variables.<name>.cut", CutSection), ("table1", Table1Section),
    ("matching", MatchingSection), ("weighting", WeightingSection), ("missing", MissingSection), ("flow[]", FlowStep), ("survival", SurvivalSection),
    ("survival.endpoints.<id>", EndpointSection), ("survival.cox", CoxSection), ("survival.rmst", RmstSection),
    ("survival.competing_risks.<id>", CompetingRisksSection),
    ("survival.competing_risks.<id>.causes.<id>", CauseSection),
    ("response", ResponseSection), ("response.criteria.<id>", CriterionSection),
    ("adverse_events", AdverseEventsSection), ("subgroups", SubgroupsSection),
]


def _type_text(field) -> str:
    import types
    import typing

    ann = field.annotation

    def name(a) -> str:
        origin, args = typing.get_origin(a), typing.get_args(a)
        if a is type(None):
            return "null"
        if origin is Literal:
            return " \\| ".join(f"`{x}`" for x in args)
        if origin in (Union, types.UnionType):
            return " or ".join(name(x) for x in args)
        if origin is dict:
            return "mapping"
        if origin is list:
            return "list"
        if isinstance(a, type) and issubclass(a, BaseModel):
            return "mapping"
        return {str: "text", int: "whole number", float: "number", bool: "true/false"}.get(a, str(a))

    return name(ann)


def reference_markdown() -> str:
    """Every key of every section: type, required or its default, and meaning (the spec format's reference)."""
    lines = ["<!-- generated from src/helpers/study/schema.py by `make schema`; do not edit by hand -->", ""]
    for path, model in _SECTIONS:
        lines += [f"**`{path or 'top level'}`**: {(model.__doc__ or '').strip().splitlines()[0]}", "",
                  "| key | type | required / default | meaning |", "|---|---|---|---|"]
        for key, field in model.model_fields.items():
            if field.is_required():
                req = "**required**"
            else:
                default = field.get_default(call_default_factory=True)
                if isinstance(default, BaseModel):
                    req = "its keys' defaults"
                else:
                    req = "—" if default is None else f"`{json.dumps(default, ensure_ascii=False)}`"
            desc = (field.description or "").replace("|", "\\|")
            lines.append(f"| `{key}` | {_type_text(field)} | {req} | {desc} |")
        lines.append("")
    return "\n".join(lines)


REFERENCE_START = "<!-- key reference: start -->"
REFERENCE_END = "<!-- key reference: end -->"


def write_generated(root) -> list[str]:
    """Write the JSON Schema and the key reference of ``book/spec_format.md`` (``make schema``); return what
    changed."""
    from pathlib import Path

    root = Path(root)
    changed = []
    target = root / "data" / "studies" / "study.schema.json"
    if not target.exists() or target.read_text(encoding="utf-8") != json_schema_text():
        target.write_text(json_schema_text(), encoding="utf-8")
        changed.append(str(target.relative_to(root)))
    page = root / "book" / "spec_format.md"
    text = page.read_text(encoding="utf-8")
    head, _, rest = text.partition(REFERENCE_START)
    _, _, tail = rest.partition(REFERENCE_END)
    new = f"{head}{REFERENCE_START}\n{reference_markdown()}\n{REFERENCE_END}{tail}"
    if new != text:
        page.write_text(new, encoding="utf-8")
        changed.append(str(page.relative_to(root)))
    return changed


if __name__ == "__main__":
    from helpers.paths import ROOT

    for name in write_generated(ROOT) or ["nothing (already in sync)"]:
        print(f"wrote {name}")
