"""Synthetic registries (helpers.synth.registry): shape, validation, determinism, preserved frequencies; and KM
figures that stay legible at registry size (a bounded number of censoring marks)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers.report import figures
from helpers.stats import survival  # noqa: E402
from helpers.study.patients import DataValidationError, load_patients, validate_patients  # noqa: E402
from helpers.synth.registry import synthetic_registry, validate_registry, write_registry  # noqa: E402
from helpers.study.spec import load_spec  # noqa: E402


@pytest.fixture(scope="module")
def spec():
    return load_spec("erhcc_hait_mp")


@pytest.fixture(scope="module")
def seed(spec):
    return load_patients(spec)


@pytest.fixture(scope="module")
def big(spec, seed):
    return synthetic_registry(spec, 20_000, seed=7, seed_data=seed)


def test_shape_and_columns_match_the_seed_table(spec, big):
    seed_columns = list(pd.read_csv(spec.patients_file, nrows=0).columns)
    assert list(big.columns) == seed_columns
    assert len(big) == 20_000
    assert big[spec.id_column].is_unique


def test_registry_passes_validation_in_memory_and_from_csv(spec, tmp_path):
    df = synthetic_registry(spec, 500, seed=3)
    typed = validate_registry(spec, df)
    assert len(typed) == 500
    loaded = load_patients(spec, write_registry(df, tmp_path / "reg.csv"))
    pd.testing.assert_frame_equal(typed, loaded)


def test_loaded_table_holds_no_raw_text_cells(spec, big, tmp_path):
    """The typed table must not keep the file's text cells alive (a view of the id column once kept the
    whole block of ~60 strings per patient: 1 GiB at 10^6 patients). Live Python objects after loading:
    about one per patient (the ids)."""
    import gc
    import sys

    csv = write_registry(big, tmp_path / "reg.csv")
    gc.collect()
    before = sys.getallocatedblocks()
    loaded = load_patients(spec, csv)
    gc.collect()
    live = sys.getallocatedblocks() - before
    assert len(loaded) == len(big)
    assert live < 3 * len(big), f"{live} Python objects alive for {len(big)} patients"


def test_in_memory_validation_still_reports_problems(spec):
    df = synthetic_registry(spec, 50, seed=3)
    df.loc[4, "age"] = 12  # below the spec's range [18, 100]
    df.loc[7, "sex"] = "other"
    with pytest.raises(DataValidationError) as info:
        validate_patients(spec, df)
    text = str(info.value)
    assert "row 6, column 'age'" in text and "row 9, column 'sex'" in text


def test_deterministic_for_a_seed(spec, seed):
    a = synthetic_registry(spec, 2000, seed=11, seed_data=seed)
    b = synthetic_registry(spec, 2000, seed=11, seed_data=seed)
    c = synthetic_registry(spec, 2000, seed=12, seed_data=seed)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_categorical_frequencies_roughly_preserved(spec, seed, big):
    arm_seed = seed[spec.arm.column].astype(str).value_counts(normalize=True)
    arm_big = big[spec.arm.column].value_counts(normalize=True)
    assert (arm_big - arm_seed).abs().max() < 0.02
    for name, var in spec.variables.items():
        if var.type != "categorical":
            continue
        f_seed = seed[name].astype(str).value_counts(normalize=True).reindex(list(var.levels), fill_value=0)
        f_big = big[name].value_counts(normalize=True).reindex(list(var.levels), fill_value=0)
        assert (f_big - f_seed).abs().max() < 0.05, name
        assert (f_big > 0).all(), f"{name}: every declared level occurs"


def test_continuous_values_respect_range_integer_and_distribution(spec, seed, big):
    for name, var in spec.variables.items():
        if var.type != "continuous":
            continue
        x = big[name].to_numpy(float)
        lo, hi = var.valid_range
        assert lo is None or x.min() >= lo
        assert hi is None or x.max() <= hi
        assert x.min() >= seed[name].min() and x.max() <= seed[name].max()
        q_seed, q_big = np.quantile(seed[name], [0.25, 0.5, 0.75]), np.quantile(x, [0.25, 0.5, 0.75])
        spread = q_seed[2] - q_seed[0]
        assert np.all(np.abs(q_big - q_seed) <= 0.35 * spread + 1e-9), name
        if var.integer:
            assert np.all(x == np.round(x)), name


def test_survival_times_untied_with_arm_effect_and_nested_endpoints(spec, seed, big):
    surv = spec.survival
    for ep in surv.endpoints.values():
        if ep.part_of is None:
            t = big[ep.time].to_numpy(float)
            assert len(np.unique(t)) == len(t), f"{ep.short}: tied times"
    assert (big["pfs_months"] <= big["os_months"]).all()
    for ep in surv.endpoints.values():
        if ep.part_of is not None:
            parent = surv.endpoints[ep.part_of]
            assert (big[ep.time] == big[parent.time]).all()
            assert (big.loc[big[ep.event] == 1, parent.event] == 1).all()
    # the arm effect of the seed: event rates per arm keep their order
    for name in ("pfs", "os"):
        ep = surv.endpoints[name]
        rate = {}
        for code in spec.arm.codes:
            sub = big[big[spec.arm.column] == code]
            rate[code] = sub[ep.event].sum() / sub[ep.time].sum()
        s = seed.assign(arm=seed[spec.arm.column].astype(str))
        seed_rate = {c: s.loc[s.arm == c, ep.event].sum() / s.loc[s.arm == c, ep.time].sum() for c in spec.arm.codes}
        ref, exp = spec.arm.codes
        assert (rate[exp] < rate[ref]) == (seed_rate[exp] < seed_rate[ref])


def test_response_and_adverse_events_consistent_with_spec(spec, seed, big):
    for crit in spec.response.criteria.values():
        assert set(big[crit.column]) <= set(spec.response.categories)
        orr_seed = seed[crit.column].isin(spec.response.objective).mean()
        assert abs(big[crit.column].isin(spec.response.objective).mean() - orr_seed) < 0.05
    for term in spec.adverse_events.terms:
        col = spec.adverse_events.column(term)
        assert big[col].between(0, 5).all()
        assert set(big[col]) <= set(seed[col])  # no grade the seed arm does not have (e.g. no grade-5 deaths)
        assert abs((big[col] > 0).mean() - (seed[col] > 0).mean()) < 0.06


def test_rejects_empty_registry(spec):
    with pytest.raises(ValueError, match="positive"):
        synthetic_registry(spec, 0)


def test_censor_marks_kept_below_the_bound_and_all_kept_for_small_cohorts():
    rng = np.random.default_rng(0)
    small = survival.kaplan_meier(rng.exponential(10, 80), rng.integers(0, 2, 80))
    t, _ = figures.censor_marks(small.table, 40)
    assert len(t) == int((small.table["n_censor"] > 0).sum())
    n = 100_000
    km = survival.kaplan_meier(rng.exponential(10, n), rng.integers(0, 2, n))
    t, s = figures.censor_marks(km.table, float(km.table["time"].max()))
    assert 0 < len(t) <= figures.MAX_CENSOR_MARKS
    assert np.all(np.diff(t) > 0)
    # each kept mark lies on the curve
    lookup = km.table.set_index("time")["surv"]
    np.testing.assert_array_equal(lookup.loc[t].to_numpy(), s)


def test_km_curves_of_large_cohorts_are_drawn_through_the_points_that_make_the_picture():
    rng = np.random.default_rng(1)
    n = 100_000
    km = survival.kaplan_meier(rng.exponential(10, n), rng.integers(0, 2, n))
    x, y = np.r_[0.0, km.time], np.r_[1.0, km.surv]
    hi = np.nan_to_num(np.r_[1.0, km.upper], nan=1.0)
    right = float(x[-1]) * 0.8  # points right of the axis count as one more column
    keep = figures.curve_points(x, [y, hi], right)
    assert len(keep) <= 4 * (figures.CURVE_COLUMNS + 1) < len(x)
    assert np.all(np.diff(keep) > 0)
    # every column keeps its first and last point and each curve's lowest and highest value
    column = np.minimum((x / right * figures.CURVE_COLUMNS).astype(np.int64), figures.CURVE_COLUMNS)
    for c in np.unique(column):
        idx = np.flatnonzero(column == c)
        kept = keep[(keep >= idx[0]) & (keep <= idx[-1])]
        assert kept[0] == idx[0] and kept[-1] == idx[-1]
        for curve in (y, hi):
            assert curve[kept].min() == curve[idx].min() and curve[kept].max() == curve[idx].max()
    # a study cohort's curve is drawn point for point
    small = np.arange(4 * figures.CURVE_COLUMNS)
    np.testing.assert_array_equal(figures.curve_points(x[small], [y[small]], right), small)


def test_km_figure_of_100k_patients_draws_a_bounded_number_of_markers(spec):
    df = synthetic_registry(spec, 100_000, seed=5)
    data = validate_registry(spec, df)
    arm = data[spec.arm.column].astype(str)
    kms = {c: survival.kaplan_meier(data.loc[arm == c, "os_months"].to_numpy(float),
                                    data.loc[arm == c, "os_event"].to_numpy(float)) for c in spec.arm.codes}
    censored = sum(int(km.table["n_censor"].gt(0).sum()) for km in kms.values())
    assert censored > 10_000  # without thinning this many marks would be drawn
    fig = figures.km_figure([dict(title="OS", kms=kms, ylabel="OS probability", annotation="")], spec,
                            [0, 6, 12, 18, 24], "months")
    marks = sum(len(line.get_xdata()) for ax in fig.axes for line in ax.get_lines() if line.get_marker() == "|")
    steps = [len(line.get_xdata()) for ax in fig.axes for line in ax.get_lines() if line.get_marker() != "|"]
    bands = [len(c.get_paths()[0].vertices) for ax in fig.axes for c in ax.collections]
    # numbers at risk of ~50,000 per arm printed in thousands, so neighbouring ticks do not run together
    risk = [t.get_text() for t in fig.axes[1].texts if t.get_text() != "Number at risk"]
    plt.close(fig)
    assert risk and all(len(r) <= 4 for r in risk), risk
    assert any(r.endswith("k") for r in risk)
    assert 0 < marks <= len(spec.arm.codes) * figures.MAX_CENSOR_MARKS
    # curves and CI bands through a few points per column of the axis, not one per patient
    assert len(steps) == len(bands) == len(spec.arm.codes)
    assert max(steps) <= 4 * (figures.CURVE_COLUMNS + 1) and max(bands) <= 6 * 4 * (figures.CURVE_COLUMNS + 1)


@pytest.mark.parametrize("n,label", [(0, "0"), (87, "87"), (9_999, "9999"), (10_000, "10k"), (12_499, "12k"),
                                     (99_949, "100k"), (512_499, "512k"), (999_499, "999k"), (999_500, "1.0M"),
                                     (1_049_000, "1.0M"), (12_345_678, "12.3M")])
def test_numbers_at_risk_are_exact_below_ten_thousand_then_abbreviated(n, label):
    assert figures.at_risk_label(n) == label


def test_long_arm_names_do_not_run_into_the_numbers_at_risk_of_the_panel_to_their_left(spec):
    import copy

    long_spec = copy.deepcopy(spec)
    ref, exp = long_spec.arm.codes
    long_spec.arm.labels.update({ref: "First-line treatment", exp: "Treatment after failure"})
    data = validate_registry(spec, synthetic_registry(spec, 400, seed=2))
    arm = data[spec.arm.column].astype(str)
    kms = {c: survival.kaplan_meier(data.loc[arm == c, "os_months"].to_numpy(float),
                                    data.loc[arm == c, "os_event"].to_numpy(float)) for c in spec.arm.codes}
    panels = [dict(title=t, kms=kms, ylabel="OS probability", annotation="") for t in ("A", "B")]
    fig = figures.km_figure(panels, long_spec, [0, 6, 12, 18, 24, 30, 36], "months")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    left_risk, right_risk = fig.axes[1], fig.axes[3]
    counts = [t.get_window_extent(renderer) for t in left_risk.texts if t.get_text() != "Number at risk"]
    names = [t.get_window_extent(renderer) for t in right_risk.get_yticklabels()]
    plt.close(fig)
    assert counts and names
    assert max(b.x1 for b in counts) < min(b.x0 for b in names)
