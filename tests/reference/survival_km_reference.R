# Reference values for src/helpers/stats/survival.py (Kaplan-Meier, log-rank, landmark, follow-up).
#
# Run from anywhere:  Rscript tests/reference/survival_km_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite, r-cran-prodlim (Debian package names).
# Writes tests/reference/r_values/survival_km.json and exports the R data sets it uses to
# tests/reference/data/<name>.csv, so that Python reads exactly the data R used.
#
# What is recorded, per case:
#   km        survfit(Surv(time, event) ~ 1) for conf.type "log" (default), "log-log", "plain":
#             the full table (every distinct time, as summary(fit, censored = TRUE)),
#             print.survfit's median and CI (summary(fit)$table), quantile.survfit(probs),
#             summary(fit, times = ..., extend = TRUE).
#   logrank   survdiff(Surv(time, event) ~ group): obs, exp, var, chisq, df, p.
#   landmark  S_a(t) - S_b(t) from summary(fit, times = t): naive z on S and the
#             log(-log S) z of Klein et al. (2007), computed here from R's summary values.
#   followup  prodlim::prodlim(Hist(time, status) ~ 1, reverse = TRUE): the table and
#             quantile(); also survfit(Surv(time, 1 - status) ~ 1) quartiles, to document the
#             difference in tie handling.
# Every real number is written as a "%.17g" string (round-trips exactly to a Python float);
# NA and NaN are written as null, +-Inf as "Inf"/"-Inf".

suppressPackageStartupMessages({
  library(jsonlite)
  library(survival)
  library(prodlim)
})

here <- function() {  # the folder of this script (Rscript --file=...), else the working directory
  f <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
}
source(file.path(here(), "reference_dirs.R"))  # out_dir, data_dir

num <- function(x) {
  x <- as.numeric(x)
  ifelse(is.na(x), NA_character_, sprintf("%.17g", x))
}

# ---- data sets shipped with survival ---------------------------------------------------------------
datasets <- list(
  lung = survival::lung[, c("inst", "time", "status", "age", "sex", "ph.ecog")],
  veteran = survival::veteran,
  aml = survival::aml,
  ovarian = survival::ovarian
)
datasets$veteran$celltype <- as.character(datasets$veteran$celltype)
datasets$aml$x <- as.character(datasets$aml$x)
for (nm in names(datasets)) {
  write.csv(datasets[[nm]], file.path(data_dir, paste0(nm, ".csv")), row.names = FALSE)
}

# A data source is either a shipped data set (with the column names and the status code that means
# "event") or inline vectors that are written into the JSON.
ds <- function(dataset, time, status, event_value, subset_col = NULL, subset_value = NULL) {
  d <- datasets[[dataset]]
  if (!is.null(subset_col)) d <- d[!is.na(d[[subset_col]]) & d[[subset_col]] == subset_value, ]
  list(source = list(dataset = dataset, time = time, status = status, event_value = event_value,
                     subset_col = subset_col, subset_value = subset_value),
       time = d[[time]], event = as.integer(d[[status]] == event_value), frame = d)
}
inline <- function(time, event, group = NULL) {
  src <- list(time = num(time), event = as.integer(event))
  if (!is.null(group)) src$group <- as.character(group)
  list(source = src, time = time, event = as.integer(event), group = group)
}

set.seed(20240501)
n_rand <- 400
rand <- list(time = round(rexp(n_rand, 0.1), 1), event = rbinom(n_rand, 1, 0.7),
             group = sample(c("A", "B", "C"), n_rand, replace = TRUE))

km_sources <- list(
  lung = ds("lung", "time", "status", 2),
  lung_male = ds("lung", "time", "status", 2, "sex", 1),
  lung_female = ds("lung", "time", "status", 2, "sex", 2),
  veteran = ds("veteran", "time", "status", 1),
  veteran_trt1 = ds("veteran", "time", "status", 1, "trt", 1),
  veteran_trt2 = ds("veteran", "time", "status", 1, "trt", 2),
  aml_maintained = ds("aml", "time", "status", 1, "x", "Maintained"),
  aml_nonmaintained = ds("aml", "time", "status", 1, "x", "Nonmaintained"),
  ovarian = ds("ovarian", "futime", "fustat", 1),
  ovarian_rx1 = ds("ovarian", "futime", "fustat", 1, "rx", 1),
  # edge cases
  ties = inline(c(1, 2, 2, 2, 3, 4, 4, 5, 6, 6), c(1, 1, 0, 0, 0, 1, 0, 1, 0, 0)),
  ties_last_event = inline(c(1, 2, 2, 3, 3, 3), c(0, 1, 0, 1, 1, 0)),
  plateau_half = inline(c(1, 2, 3, 4), c(1, 1, 1, 1)),
  plateau_half_at_end = inline(c(1, 2, 3, 4), c(1, 1, 0, 0)),
  plateau_half_censored_inside = inline(c(1, 2, 2.5, 3, 5, 6), c(1, 1, 0, 0, 1, 0)),
  never_half = inline(1:10, c(1, 0, 0, 1, 0, 0, 0, 0, 0, 0)),
  no_events = inline(c(3, 5, 5, 8), c(0, 0, 0, 0)),
  all_events_same_time = inline(c(4, 4, 4), c(1, 1, 1)),
  single_event = inline(7, 1),
  single_censored = inline(7, 0),
  zero_time = inline(c(0, 0, 1, 2, 3), c(1, 0, 1, 0, 1)),
  drop_to_zero = inline(c(2, 3, 5, 5, 8), c(0, 1, 1, 0, 1)),
  # the log upper band rises again (0.84 at t = 5, 0.88 at t = 9): quantile.survfit looks the band up
  # by value, so its 10% quantile upper limit is 9, not the first crossing (5)
  nonmonotone_upper = inline(c(9, 13, 5, 1, 2, 5, 2, 2, 5), c(1, 1, 1, 1, 1, 0, 1, 1, 1)),
  random = inline(rand$time, rand$event),
  random_A = inline(rand$time[rand$group == "A"], rand$event[rand$group == "A"])
)

summary_times <- function(time) {
  ut <- sort(unique(time))
  mids <- if (length(ut) > 1) head(ut, -1) + diff(ut) / 2 else numeric(0)
  tt <- sort(unique(c(0, min(ut) / 2, ut, mids, max(ut) + 1)))
  if (length(tt) > 40) tt <- sort(unique(c(0, ut[round(seq(1, length(ut), length.out = 12))],
                                            mids[round(seq(1, length(mids), length.out = 12))],
                                            max(ut), max(ut) * 1.5)))
  tt
}

probs <- c(0.1, 0.25, 0.5, 0.75, 0.9)
km_records <- list()
for (id in names(km_sources)) {
  s <- km_sources[[id]]
  rec <- list(id = id, source = s$source, n = length(s$time), max_time = num(max(s$time)))
  for (ct in c("log", "log-log", "plain")) {
    fit <- survfit(Surv(s$time, s$event) ~ 1, conf.type = ct)
    r <- list()
    if (ct == "log") {
      r$time <- num(fit$time); r$n_risk <- fit$n.risk; r$n_event <- fit$n.event
      r$n_censor <- fit$n.censor; r$surv <- num(fit$surv); r$std_err <- num(fit$std.err)
    }
    r$lower <- num(fit$lower); r$upper <- num(fit$upper)
    tab <- summary(fit)$table
    r$print_median <- num(tab[c("median", "0.95LCL", "0.95UCL")])
    q <- quantile(fit, probs = probs)
    r$quantile <- list(probs = probs, quantile = num(q$quantile), lower = num(q$lower), upper = num(q$upper))
    tt <- summary_times(s$time)
    sm <- summary(fit, times = tt, extend = TRUE)
    r$summary_times <- list(times = num(tt), time = num(sm$time), surv = num(sm$surv),
                            std_err = num(sm$std.err), lower = num(sm$lower), upper = num(sm$upper),
                            n_risk = sm$n.risk, n_event = sm$n.event, n_censor = sm$n.censor)
    rec[[ct]] <- r
  }
  fit90 <- survfit(Surv(s$time, s$event) ~ 1, conf.int = 0.9)
  rec$log_90 <- list(lower = num(fit90$lower), upper = num(fit90$upper),
                     print_median = num(summary(fit90)$table[c("median", "0.9LCL", "0.9UCL")]))
  km_records[[length(km_records) + 1L]] <- rec
}

# ---- log-rank -------------------------------------------------------------------------------------
lr_case <- function(id, time, event, group, source) {
  g <- factor(group)
  sd <- survdiff(Surv(time, event) ~ g)
  list(id = id, source = source, levels = levels(g), obs = num(sd$obs), exp = num(sd$exp),
       var = lapply(seq_len(nrow(sd$var)), function(i) num(sd$var[i, ])),
       chisq = num(sd$chisq), df = sum(sd$exp > 0) - 1, p_value = num(sd$pvalue))
}
lr_ds <- function(id, dataset, time, status, event_value, group) {
  d <- datasets[[dataset]]
  d <- d[!is.na(d[[group]]), ]
  lr_case(id, d[[time]], as.integer(d[[status]] == event_value), d[[group]],
          list(dataset = dataset, time = time, status = status, event_value = event_value, group = group))
}
lr_inline <- function(id, time, event, group) {
  lr_case(id, time, event, group, list(time = num(time), event = as.integer(event), group = as.character(group)))
}
lr_records <- list(
  lr_ds("lung_sex", "lung", "time", "status", 2, "sex"),
  lr_ds("lung_ecog", "lung", "time", "status", 2, "ph.ecog"),
  lr_ds("veteran_trt", "veteran", "time", "status", 1, "trt"),
  lr_ds("veteran_celltype", "veteran", "time", "status", 1, "celltype"),
  lr_ds("aml_x", "aml", "time", "status", 1, "x"),
  lr_ds("ovarian_rx", "ovarian", "futime", "fustat", 1, "rx"),
  lr_ds("ovarian_resid", "ovarian", "futime", "fustat", 1, "resid.ds"),
  lr_inline("random_3groups", rand$time, rand$event, rand$group),
  lr_inline("ties_2groups", c(1, 2, 2, 2, 3, 4, 4, 5, 6, 6), c(1, 1, 0, 1, 0, 1, 0, 1, 0, 1),
            c("a", "b", "a", "b", "a", "b", "a", "b", "a", "b")),
  lr_inline("group_without_expected", c(1, 2, 3, 4, 5, 0.5, 0.7), c(1, 1, 0, 1, 0, 0, 0),
            c("a", "a", "a", "b", "b", "c", "c")),
  lr_inline("group_without_events", c(1, 2, 3, 4, 5, 6, 7, 8), c(1, 1, 1, 0, 0, 0, 0, 0),
            c("a", "a", "a", "a", "b", "b", "b", "b"))
)

# ---- landmark comparisons -------------------------------------------------------------------------
lm_case <- function(id, a, b, t) {
  fa <- survfit(Surv(km_sources[[a]]$time, km_sources[[a]]$event) ~ 1)
  fb <- survfit(Surv(km_sources[[b]]$time, km_sources[[b]]$event) ~ 1)
  sa <- summary(fa, times = t, extend = TRUE)
  sb <- summary(fb, times = t, extend = TRUE)
  diff <- sa$surv - sb$surv
  se <- sqrt(sa$std.err^2 + sb$std.err^2)
  z <- diff / se
  # log(-log S): Var = sigma^2 / (log S)^2 with sigma^2 the Greenwood sum (= (std.err / S)^2)
  ga <- log(-log(sa$surv)); gb <- log(-log(sb$surv))
  va <- (sa$std.err / sa$surv)^2 / log(sa$surv)^2; vb <- (sb$std.err / sb$surv)^2 / log(sb$surv)^2
  zc <- (gb - ga) / sqrt(va + vb)
  list(id = id, a = a, b = b, t = num(t),
       surv_a = num(sa$surv), lower_a = num(sa$lower), upper_a = num(sa$upper), se_a = num(sa$std.err),
       surv_b = num(sb$surv), lower_b = num(sb$lower), upper_b = num(sb$upper), se_b = num(sb$std.err),
       difference = num(diff), se_difference = num(se), z = num(z), p_value = num(2 * pnorm(-abs(z))),
       z_cloglog = num(zc), p_cloglog = num(2 * pnorm(-abs(zc))))
}
lm_records <- list(
  lm_case("lung_sex_180", "lung_male", "lung_female", 180),
  lm_case("lung_sex_365", "lung_male", "lung_female", 365),
  lm_case("lung_sex_730", "lung_male", "lung_female", 730),
  lm_case("veteran_trt_90", "veteran_trt1", "veteran_trt2", 90),
  lm_case("veteran_trt_180", "veteran_trt1", "veteran_trt2", 180),
  lm_case("aml_12", "aml_maintained", "aml_nonmaintained", 12),
  lm_case("aml_24", "aml_maintained", "aml_nonmaintained", 24),
  lm_case("random_A_vs_all_10", "random_A", "random", 10)
)

# ---- reverse Kaplan-Meier follow-up ---------------------------------------------------------------
fu_records <- list()
for (id in c("lung", "veteran", "aml_maintained", "aml_nonmaintained", "ovarian", "ties",
             "ties_last_event", "plateau_half_at_end", "never_half", "no_events", "random", "drop_to_zero")) {
  s <- km_sources[[id]]
  d <- data.frame(time = s$time, status = s$event)
  f <- prodlim(Hist(time, status) ~ 1, data = d, reverse = TRUE)
  q <- quantile(f)$quantiles.survival
  flip <- survfit(Surv(time, 1 - status) ~ 1, data = d)
  fq <- quantile(flip, probs = c(0.25, 0.5, 0.75))
  fu_records[[length(fu_records) + 1L]] <- list(
    id = id, source = s$source, n = nrow(d),
    time = num(f$time), n_risk = f$n.risk, n_event = f$n.event, n_lost = f$n.lost,
    surv = num(f$surv), se_surv = num(f$se.surv), lower = num(f$lower), upper = num(f$upper),
    quantile = list(q = num(q$q), quantile = num(q$quantile), lower = num(q$lower), upper = num(q$upper)),
    survfit_flipped = list(probs = c(0.25, 0.5, 0.75), quantile = num(fq$quantile),
                           lower = num(fq$lower), upper = num(fq$upper)))
}

out <- list(
  R_version = R.version.string,
  packages = list(survival = format(packageVersion("survival")), prodlim = format(packageVersion("prodlim")),
                  jsonlite = format(packageVersion("jsonlite"))),
  generated_by = "tests/reference/survival_km_reference.R",
  km = km_records, logrank = lr_records, landmark = lm_records, followup = fu_records
)
path <- file.path(out_dir, "survival_km.json")
writeLines(toJSON(out, auto_unbox = TRUE, na = "null", null = "null", pretty = FALSE, digits = NA), path)
cat("written", path, "\n")
