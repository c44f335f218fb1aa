#!/usr/bin/env bash
# Re-derive every R reference value the tests compare against. R is NOT needed by the default test
# run: the outputs under tests/reference/r_values/ (and tests/reference/data/) are committed.
#
#   bash tests/reference/run_r_reference.sh        (or: make r-reference)
#
# Needs R with MatchIt, survival, prodlim, cmprsk, mice and jsonlite, e.g. on Debian/Ubuntu:
#   apt-get install -y r-base-core r-cran-survival r-cran-matchit r-cran-jsonlite r-cran-prodlim r-cran-cmprsk r-cran-mice
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v Rscript >/dev/null 2>&1; then
  echo "Rscript not found. Install R: apt-get install -y r-base-core r-cran-survival r-cran-matchit r-cran-jsonlite r-cran-prodlim r-cran-cmprsk r-cran-mice" >&2
  exit 1
fi

missing="$(Rscript -e 'p <- c("MatchIt", "survival", "jsonlite", "prodlim", "cmprsk", "mice"); cat(p[!vapply(p, requireNamespace, logical(1), quietly = TRUE)])')"
if [ -n "$missing" ]; then
  echo "Missing R packages: $missing (Debian: r-cran-matchit r-cran-survival r-cran-jsonlite r-cran-prodlim r-cran-cmprsk r-cran-mice)" >&2
  exit 1
fi

Rscript -e 'cat(R.version.string, "| MatchIt", format(packageVersion("MatchIt")), "| survival", format(packageVersion("survival")), "| cmprsk", format(packageVersion("cmprsk")), "\n")'

echo "== MatchIt reference (tests/reference/matchit_reference.R)"
Rscript "$here/matchit_reference.R"

echo "== hypothesis-test reference (tests/reference/hypothesis_tests_reference.R)"
Rscript "$here/hypothesis_tests_reference.R" > /dev/null
echo "written $here/r_values/hypothesis_tests.json"

echo "== Kaplan-Meier / log-rank / landmark / follow-up reference (tests/reference/survival_km_reference.R; needs prodlim: r-cran-prodlim)"
Rscript "$here/survival_km_reference.R"

echo "== Cox / cox.zph / RMST / pseudo-value reference (tests/reference/survival_cox_reference.R; geepack optional)"
Rscript "$here/survival_cox_reference.R"

echo "== subgroup Cox models on the committed synthetic seed-000 cohort (tests/reference/subgroups_reference.R)"
(cd "$here/../.." && Rscript tests/reference/subgroups_reference.R)

echo "== matching sensitivity: weighted/clustered coxph on lung, MatchIt + coxph on the seed-000 cohort (tests/reference/sensitivity_reference.R)"
(cd "$here/../.." && Rscript tests/reference/sensitivity_reference.R)

echo "== confounding engines: weighted/clustered/stratified coxph, PS weights, balance, weighted survfit, SAS-like matching, bootstrap (tests/reference/causal_reference.R)"
(cd "$here/../.." && Rscript tests/reference/causal_reference.R)

echo "== the worked example study veteran as the book analyses it (tests/reference/veteran_study_reference.R)"
(cd "$here/../.." && Rscript tests/reference/veteran_study_reference.R)

echo "== the worked example study colon: times derived from its dates with as.Date/difftime, and its survival chapter (tests/reference/colon_dates_reference.R)"
(cd "$here/../.." && Rscript tests/reference/colon_dates_reference.R)

echo "== competing risks: cuminc, timepoints, Gray's test, crr, multi-state survfit, cause-specific coxph on pbc (tests/reference/competing_reference.R; needs cmprsk: r-cran-cmprsk)"
Rscript "$here/competing_reference.R"

echo "== cox.zph residuals (terms = FALSE), plot.cox.zph smooth and band, survSplit piecewise HRs on pbc (tests/reference/cox_zph_plot_reference.R)"
Rscript "$here/cox_zph_plot_reference.R"

echo "== multiple imputation: mice on survival::pbc, pool(), and 20 re-seeded runs (tests/reference/mice_reference.R; about 2 minutes)"
Rscript "$here/mice_reference.R"

echo "Done. Outputs:"
ls -l "$here/r_values" "$here/data"
