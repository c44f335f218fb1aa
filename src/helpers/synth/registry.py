"""Synthetic registries of any size with the columns of a seed study, for benchmarks and scale tests.

:func:`synthetic_registry` draws ``n`` patients that look like a study's (seed) patient table and pass
:func:`helpers.patients.load_patients` validation. It is a *scale* generator, not a reconstruction of a paper:
it keeps each arm's marginal distributions, not the correlations between baseline variables.

What is drawn, per patient
--------------------------
Arm
    With the seed cohort's arm frequencies.
Categorical variables
    Independently, with the seed cohort's level frequencies *within the patient's arm* (so the baseline
    imbalance between arms, which propensity matching removes, is kept). Half a patient is added to every
    declared level of every arm before normalising, so each level occurs in both arms at scale (a level the
    seed lacks in an arm gets a small probability instead of a structural zero).
Continuous variables
    Resampled from the seed values of the patient's arm with a kernel jitter (bandwidth: half of Silverman's
    rule, so the quartiles stay close to the seed's; ties between resampled values are broken):
    multiplicative (on the log scale) when every seed value is positive, additive otherwise; then clipped to
    the seed's observed range and the spec's ``range``, and rounded to whole numbers when the spec declares
    ``integer: true`` (to the variable's ``decimals`` otherwise).
Survival endpoints
    Exponential latent times with the seed arm's event rate (events / person-time), so the arm effect is the
    seed's ratio of rates; one administrative censoring time per patient, uniform between 0 and the seed's
    longest follow-up, shared by all endpoints. The follow-up endpoint of the spec (OS) is the terminal one:
    every other top-level endpoint ends at the latest at the terminal event (PFS <= OS). Endpoints that are
    ``part_of`` another (IH-PFS, EH-PFS of PFS) share the parent's time; which of them have an event when the
    parent has one is resampled from the seed arm's combinations among parent events. Times are continuous
    (float64, not rounded), so there are no tied times within an endpoint.
Best overall response
    The tuple of all criteria (e.g. RECIST 1.1 and mRECIST) resampled from the seed arm's tuples, which keeps
    the response rates and the agreement between criteria.
Adverse events (wide format)
    Each term's worst grade independently from the seed arm's grade frequencies for that term.

Deterministic: the same ``spec``, seed table, ``n`` and ``seed`` give the same table (numpy ``default_rng``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from helpers.study.patients import load_patients, response_columns, validate_patients, wide_ae_columns
from helpers.study.spec import StudySpec
from helpers.synth.survival import first_event_types

__all__ = ["synthetic_registry", "write_registry", "validate_registry"]

#: jitter bandwidth as a fraction of Silverman's rule of thumb
JITTER = 0.5
#: pseudo-count added to every categorical level of every arm before normalising the seed frequencies
LEVEL_PSEUDOCOUNT = 0.5


def _probabilities(values: pd.Series, levels: list, pseudo: float = 0.0) -> np.ndarray:
    counts = values.astype(object).value_counts().reindex(levels, fill_value=0).to_numpy(float) + pseudo
    if counts.sum() <= 0:
        counts = np.ones(len(levels))
    return counts / counts.sum()


def _draw_levels(rng, levels: list, p: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(levels, dtype=object)[rng.choice(len(levels), size=size, p=p)]


def _bandwidth(x: np.ndarray) -> float:
    """``JITTER`` times Silverman's rule of thumb (R ``bw.nrd0``)."""
    if len(x) < 2:
        return 0.0
    sd = float(np.std(x, ddof=1))
    iqr = float(np.subtract(*np.percentile(x, [75, 25]))) / 1.34
    spread = min(sd, iqr) if iqr > 0 else sd
    return JITTER * 0.9 * spread * len(x) ** -0.2 if spread > 0 else 0.0


def _draw_continuous(rng, seed_values: np.ndarray, var, size: int) -> np.ndarray:
    seed_values = seed_values[~np.isnan(seed_values)]
    picked = seed_values[rng.integers(0, len(seed_values), size)]
    noise = rng.standard_normal(size)
    if (seed_values > 0).all():
        values = np.exp(np.log(picked) + _bandwidth(np.log(seed_values)) * noise)
    else:
        values = picked + _bandwidth(seed_values) * noise
    lo, hi = float(seed_values.min()), float(seed_values.max())
    spec_lo, spec_hi = var.valid_range
    lo = lo if spec_lo is None else max(lo, spec_lo)
    hi = hi if spec_hi is None else min(hi, spec_hi)
    values = np.clip(values, lo, hi)
    if var.integer:
        return np.clip(np.round(values), np.ceil(lo), np.floor(hi)).astype(np.int64)
    decimals = var.decimals if var.decimals is not None else 2
    return np.clip(np.round(values, decimals), lo, hi)


def _rate(time: np.ndarray, event: np.ndarray) -> float:
    """Exponential event rate (events / person-time); a small positive rate when there are no events."""
    person_time = float(np.sum(time))
    events = float(np.sum(event))
    return max(events, 0.5) / max(person_time, 1e-9)


def synthetic_registry(spec: StudySpec, n: int, seed: int = 0, seed_data: pd.DataFrame | None = None,
                       id_prefix: str = "REG") -> pd.DataFrame:
    """``n`` synthetic patients with the columns of ``spec``'s patient table (raw values, one row each).

    ``seed_data``: the seed cohort (default: the study's own table, :func:`load_patients`). The result has a
    plain RangeIndex and the spec's id column first, like a patients.csv; write it with :func:`write_registry`
    or check it with :func:`helpers.patients.validate_patients`. See the module docstring for the model.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of patients, got {n}")
    seed_df = seed_data if seed_data is not None else load_patients(spec)
    rng = np.random.default_rng(seed)
    arm_col = spec.arm.column
    codes = list(spec.arm.codes)
    seed_arm = seed_df[arm_col].astype(object)
    arm = _draw_levels(rng, codes, _probabilities(seed_arm, codes), n)
    by_arm = {code: np.flatnonzero(arm == code) for code in codes}
    seed_by_arm = {code: seed_df[(seed_arm == code).to_numpy()] for code in codes}
    width = len(str(n))
    out: dict[str, np.ndarray] = {
        spec.id_column: np.char.add(f"{id_prefix}-", np.char.zfill(np.arange(1, n + 1).astype(str), width)),
        arm_col: arm,
    }

    for name, var in spec.variables.items():
        if var.type == "categorical":
            levels = list(var.levels)
            col = np.empty(n, dtype=object)
            for code, rows in by_arm.items():
                p = _probabilities(seed_by_arm[code][name], levels, LEVEL_PSEUDOCOUNT)
                col[rows] = _draw_levels(rng, levels, p, len(rows))
        else:
            col = np.zeros(n, dtype=np.int64 if var.integer else float)
            for code, rows in by_arm.items():
                src = seed_by_arm[code][name].to_numpy(float)
                if np.isnan(src).all():
                    src = seed_df[name].to_numpy(float)
                col[rows] = _draw_continuous(rng, src, var, len(rows))
        out[name] = col

    if spec.survival is not None:
        out.update(_draw_survival(rng, spec, seed_by_arm, by_arm, n))
        # A competing-risks type column follows from the drawn event columns (same rule as the seed generator).
        for cr in spec.survival.competing_risks.values():
            out[cr.type_column] = np.asarray(first_event_types(spec, cr, out), dtype=object)

    if spec.response is not None:
        columns = response_columns(spec)
        for c in columns:
            out[c] = np.empty(n, dtype=object)
        for code, rows in by_arm.items():
            tuples = seed_by_arm[code][columns].astype(object).dropna()
            if tuples.empty:
                tuples = seed_df[columns].astype(object).dropna()
            picked = tuples.to_numpy()[rng.integers(0, len(tuples), len(rows))]
            for j, c in enumerate(columns):
                out[c][rows] = picked[:, j]

    for column in wide_ae_columns(spec):
        col = np.zeros(n, dtype=np.int64)
        for code, rows in by_arm.items():
            p = _probabilities(seed_by_arm[code][column], list(range(6)))
            col[rows] = rng.choice(6, size=len(rows), p=p)
        out[column] = col
    endpoint_columns = ([c for ep in spec.survival.endpoints.values() for c in (ep.time, ep.event)]
                        + [cr.type_column for cr in spec.survival.competing_risks.values()]
                        if spec.survival is not None else [])
    order = [spec.id_column, arm_col, *spec.variables, *endpoint_columns, *response_columns(spec),
             *wide_ae_columns(spec)]
    return pd.DataFrame(out)[order]


def _draw_survival(rng, spec: StudySpec, seed_by_arm: dict, by_arm: dict, n: int) -> dict[str, np.ndarray]:
    surv = spec.survival
    endpoints = surv.endpoints
    top = [e for e in endpoints.values() if e.part_of is None]
    terminal = endpoints.get(surv.followup_endpoint) if surv.followup_endpoint else None
    all_seed = pd.concat(seed_by_arm.values())
    max_follow = max(float(all_seed[e.time].max()) for e in top)
    censor = rng.uniform(0.0, max_follow, n)
    latent: dict[str, np.ndarray] = {}
    for ep in top:
        t = np.empty(n)
        for code, rows in by_arm.items():
            s = seed_by_arm[code]
            t[rows] = rng.exponential(1.0 / _rate(s[ep.time].to_numpy(float), s[ep.event].to_numpy(float)),
                                      len(rows))
        latent[ep.name] = t
    if terminal is not None and terminal.part_of is None:
        for name in latent:
            if name != terminal.name:
                latent[name] = np.minimum(latent[name], latent[terminal.name])
    out: dict[str, np.ndarray] = {}
    for ep in top:
        out[ep.time] = np.minimum(latent[ep.name], censor)
        out[ep.event] = (latent[ep.name] <= censor).astype(np.int64)
    children = [e for e in endpoints.values() if e.part_of is not None]
    for parent in {e.part_of for e in children}:
        kids = [e for e in children if e.part_of == parent]
        p_ep = endpoints[parent]
        events = [k.event for k in kids]
        for k in kids:
            out[k.time] = out[p_ep.time].copy()
            out[k.event] = np.zeros(n, dtype=np.int64)
        for code, rows in by_arm.items():
            s = seed_by_arm[code]
            combos = s.loc[s[p_ep.event] == 1, events].to_numpy(float)
            if len(combos) == 0:
                combos = all_seed.loc[all_seed[p_ep.event] == 1, events].to_numpy(float)
            if len(combos) == 0:
                continue
            with_event = rows[out[p_ep.event][rows] == 1]
            picked = combos[rng.integers(0, len(combos), len(with_event))].astype(np.int64)
            for j, k in enumerate(kids):
                out[k.event][with_event] = picked[:, j]
    return out


def write_registry(df: pd.DataFrame, path: Path | str) -> Path:
    """Write a registry from :func:`synthetic_registry` as a patients CSV (float times at full precision)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


def validate_registry(spec: StudySpec, df: pd.DataFrame) -> pd.DataFrame:
    """Validate ``df`` in memory exactly as :func:`load_patients` validates a file; returns the typed table."""
    return validate_patients(spec, df, source=f"<synthetic registry of {len(df)} patients>")
