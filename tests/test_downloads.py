"""The site publishes each study's unrounded analysis-results table (aggregates) and nothing else of data."""
from __future__ import annotations

import pytest

from helpers.build.downloads import RESULTS_COLUMNS, publish_results
from helpers.build.toc import BuildError

HEADER = ",".join(RESULTS_COLUMNS)


def test_each_study_gets_one_results_table_with_one_header(tmp_path):
    results = tmp_path / "results"
    (results / "s1").mkdir(parents=True)
    (results / "s1" / "cohorts.csv").write_text(f"{HEADER}\ns1,primary,cohorts,flow,patients,included,all,n,101\n")
    (results / "s1" / "survival_primary.csv").write_text(
        f"{HEADER}\ns1,primary,survival,km.os,,median,A,estimate,10.123456789\n")
    (results / "s1" / "matched_cohort.json").write_text('{"ids": ["P001"]}')  # not a results table: not published
    (results / "empty").mkdir()
    written = publish_results(tmp_path / "site", results)
    assert [p.name for p in written] == ["s1_results.csv"]
    assert written[0].read_text().splitlines() == [
        HEADER, "s1,primary,cohorts,flow,patients,included,all,n,101",
        "s1,primary,survival,km.os,,median,A,estimate,10.123456789"]  # unrounded
    assert sorted(p.name for p in (tmp_path / "site").rglob("*")) == ["downloads", "s1_results.csv"]


def test_a_table_with_other_columns_is_refused(tmp_path):
    (tmp_path / "results" / "s1").mkdir(parents=True)
    (tmp_path / "results" / "s1" / "patients.csv").write_text("patient_id,age\nP001,61\n")
    with pytest.raises(BuildError, match="not those of the analysis-results table"):
        publish_results(tmp_path / "site", tmp_path / "results")
