# R side of benchmarks/bench_survival.py: times the same analyses with survival on the same CSV.
# Prints one JSON line of seconds per analysis (median elapsed time of three calls, data loading excluded).
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
# median elapsed time of three calls of f, as the Python side (the first call also pays for fresh memory)
el <- function(f) median(vapply(1:3, function(i) unname(system.time(f())["elapsed"]), numeric(1)))
tau <- floor(min(max(d$time[d$arm == 0]), max(d$time[d$arm == 1])))
rmst_diff <- function() {
  # survRM2's rmst1 formulas from survfit (survRM2 is not packaged for Debian)
  one <- function(ok) {
    f <- survfit(Surv(time, status) ~ 1, data = d[ok, ])
    tt <- c(0, f$time[f$time <= tau], tau); ss <- c(1, f$surv[f$time <= tau])
    area <- diff(tt) * ss
    rm <- sum(area)
    ev <- f$n.event[f$time <= tau]; nr <- f$n.risk[f$time <= tau]
    tail_area <- rev(cumsum(rev(area)))[-1]
    v <- sum(ifelse(nr - ev > 0, tail_area^2 * ev / (nr * (nr - ev)), 0))
    c(rm, v)
  }
  a <- one(d$arm == 1); b <- one(d$arm == 0)
  z <- (a[1] - b[1]) / sqrt(a[2] + b[2]); 2 * pnorm(-abs(z))
}
out <- c(
  kaplan_meier = el(function() {f <- survfit(Surv(time, status) ~ 1, data = d); quantile(f, 0.5)}),
  logrank = el(function() survdiff(Surv(time, status) ~ arm, data = d)),
  cox_10_covariates = el(function() coxph(Surv(time, status) ~ arm + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9,
                                          data = d)),
  rmst_difference = el(rmst_diff),
  rmst_pseudo_values = el(function() pseudo(survfit(Surv(time, status) ~ 1, data = d), times = tau, type = "rmst"))
)
cat(paste0("{", paste0('"', names(out), '": ', format(out, scientific = FALSE), collapse = ", "), "}\n"))
