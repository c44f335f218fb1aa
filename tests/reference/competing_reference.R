# Reference values for src/helpers/stats/competing.py: cmprsk (cuminc, timepoints, crr) and survival's
# multi-state survfit and coxph, on survival::pbc (status 0 = censored, 1 = transplant, 2 = death).
#
# Run from anywhere:  Rscript tests/reference/competing_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-cmprsk, r-cran-jsonlite.
# Writes tests/reference/r_values/competing.json and exports tests/reference/data/pbc.csv (only when that
# file does not exist yet; tests/reference/cox_zph_plot_reference.R reads the same file).
#
# Data sets, derived the same way in tests/test_competing.py:
#   all:        pbc, 418 patients (groups: sex m/f, edema 0/0.5/1: no transplant among edema = 1)
#   trt:        pbc without the rows where trt is NA (the 312 randomised patients; groups trt 1/2)
#   trt_months: trt with time = ceiling(time / 30.4375): months, heavily tied, with events of both causes
#               and censorings at the same month
# Covariates: age, lbili = log(bili), albumin, trt2 = trt == 2, edema05 = edema == 0.5, edema1 = edema == 1,
#   female = sex == "f".
#   tiny:       11 hand-made patients (below), groups grp 1/2

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})

here <- function() {  # the folder of this script (Rscript --file=...), else the working directory
  f <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
}
source(file.path(here(), "reference_dirs.R"))  # out_dir, data_dir
pbc_file <- file.path(data_dir, "pbc.csv")
if (!file.exists(pbc_file)) write.csv(survival::pbc, pbc_file, row.names = FALSE)

pbc <- read.csv(pbc_file)
derive <- function(d) {
  d$lbili <- log(d$bili)
  d$trt2 <- as.integer(d$trt == 2)
  d$edema05 <- as.integer(d$edema == 0.5)
  d$edema1 <- as.integer(d$edema == 1)
  d$female <- as.integer(d$sex == "f")
  d$edemaf <- factor(d$edema)
  d
}
all <- derive(pbc)
trt <- all[!is.na(all$trt), ]
trt_months <- trt
trt_months$time <- ceiling(trt_months$time / 30.4375)
# tiny: a hand-made set with ties of both causes and a censoring at t = 2, and a last time (6) at which every
# patient still at risk in group 1 fails (S drops to 0)
tiny <- data.frame(time = c(1, 2, 2, 2, 3, 4, 4, 5, 5, 6, 6), status = c(1, 2, 0, 1, 1, 0, 2, 1, 2, 1, 1),
                   grp = c(1, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1))
datasets <- list(all = all, trt = trt, trt_months = trt_months, tiny = tiny)

times_for <- function(d) sort(unique(c(d$time, 0, max(d$time) + 1, quantile(d$time, c(0.25, 0.5, 0.75)))))

# ------------------------------------------------------------------ cuminc + timepoints + survfit
ci_cases <- list()
add_cuminc <- function(id, data_name, group = NULL, check_times = NULL) {
  d <- datasets[[data_name]]
  ci <- if (is.null(group)) cuminc(d$time, d$status) else cuminc(d$time, d$status, d[[group]])
  curves <- ci[names(ci) != "Tests"]
  tt <- if (is.null(check_times)) times_for(d) else check_times
  tp <- timepoints(ci, tt)
  rec <- list(id = id, data = data_name, group = if (is.null(group)) NA else group,
              curves = lapply(names(curves), function(nm) list(name = nm, time = I(curves[[nm]]$time),
                                                               est = I(curves[[nm]]$est),
                                                               var = I(curves[[nm]]$var))),
              timepoints = list(times = I(tt), rows = I(rownames(tp$est)),
                                est = lapply(seq_len(nrow(tp$est)), function(i) I(unname(tp$est[i, ]))),
                                var = lapply(seq_len(nrow(tp$var)), function(i) I(unname(tp$var[i, ])))))
  # tidycmprsk's interval on cuminc's variance (computed here with its formula; tidycmprsk is not in Debian)
  z <- qnorm((1 - 0.95) / 2)
  est <- tp$est; se <- sqrt(tp$var)
  low <- est^exp(z * se / (est * log(est)))
  high <- est^exp(-z * se / (est * log(est)))
  low[is.nan(low)] <- NA; high[is.nan(high)] <- NA
  rec$tidycmprsk_ci <- list(low = lapply(seq_len(nrow(low)), function(i) I(unname(low[i, ]))),
                            high = lapply(seq_len(nrow(high)), function(i) I(unname(high[i, ]))))
  if (!is.null(ci$Tests)) {
    rec$tests <- list(causes = I(rownames(ci$Tests)), stat = I(unname(ci$Tests[, "stat"])),
                      pv = I(unname(ci$Tests[, "pv"])), df = I(unname(ci$Tests[, "df"])))
  }
  # survfit multi-state: same estimate, IJ standard error; lower/upper for three conf.types
  fml <- if (is.null(group)) Surv(time, factor(status)) ~ 1 else as.formula(paste("Surv(time, factor(status)) ~", group))
  sf <- survfit(fml, data = d)
  strata <- if (is.null(sf$strata)) rep("all", length(sf$time)) else rep(names(sf$strata), sf$strata)
  rec$survfit <- list(states = I(sf$states), strata = I(strata), time = I(sf$time), n_risk = I(sf$n.risk[, 1]),
                      pstate = lapply(2:3, function(j) I(sf$pstate[, j])),
                      std_err = lapply(2:3, function(j) I(sf$std.err[, j])),
                      conf_type = sf$conf.type,
                      lower = lapply(2:3, function(j) I(sf$lower[, j])),
                      upper = lapply(2:3, function(j) I(sf$upper[, j])))
  for (ct in c("log-log", "plain")) {
    sf2 <- survfit(fml, data = d, conf.type = ct)
    rec$survfit[[paste0("lower_", ct)]] <- lapply(2:3, function(j) I(sf2$lower[, j]))
    rec$survfit[[paste0("upper_", ct)]] <- lapply(2:3, function(j) I(sf2$upper[, j]))
  }
  st <- summary(sf, times = tt[tt <= max(d$time)])
  sst <- if (is.null(st$strata)) rep("all", length(st$time)) else as.character(st$strata)
  rec$survfit_summary <- list(strata = I(sst), time = I(st$time), n_risk = I(st$n.risk[, 1]),
                              pstate = lapply(2:3, function(j) I(st$pstate[, j])),
                              std_err = lapply(2:3, function(j) I(st$std.err[, j])),
                              lower = lapply(2:3, function(j) I(st$lower[, j])),
                              upper = lapply(2:3, function(j) I(st$upper[, j])))
  ci_cases[[length(ci_cases) + 1L]] <<- rec
}

add_cuminc("trt", "trt", "trt")
add_cuminc("trt_months", "trt_months", "trt")
add_cuminc("all_edema", "all", "edema")          # three groups; no transplant among edema = 1
add_cuminc("all_sex", "all", "sex")
add_cuminc("all_single", "all")                  # one group: no test
add_cuminc("months_single", "trt_months")
add_cuminc("tiny", "tiny", "grp")

# Gray's test with strata and with rho = 1
gray_extra <- list()
g1 <- cuminc(trt$time, trt$status, trt$trt, strata = trt$sex)
gray_extra[[1]] <- list(id = "trt_by_trt_strata_sex", data = "trt", group = "trt", strata = "sex", rho = 0,
                        stat = I(unname(g1$Tests[, "stat"])), pv = I(unname(g1$Tests[, "pv"])))
g2 <- cuminc(all$time, all$status, all$edema, rho = 1)
gray_extra[[2]] <- list(id = "all_edema_rho1", data = "all", group = "edema", strata = NA, rho = 1,
                        stat = I(unname(g2$Tests[, "stat"])), pv = I(unname(g2$Tests[, "pv"])))
g3 <- cuminc(trt_months$time, trt_months$status, trt_months$edema)
gray_extra[[3]] <- list(id = "months_edema", data = "trt_months", group = "edema", strata = NA, rho = 0,
                        stat = I(unname(g3$Tests[, "stat"])), pv = I(unname(g3$Tests[, "pv"])))

# ------------------------------------------------------------------ crr (Fine-Gray)
crr_cases <- list()
add_crr <- function(id, data_name, covs, failcode, maxiter = 10) {
  d <- datasets[[data_name]]
  X <- as.matrix(d[, covs, drop = FALSE])
  f <- crr(d$time, d$status, X, failcode = failcode, cencode = 0, maxiter = maxiter)
  s <- summary(f)
  se <- sqrt(diag(f$var))
  crr_cases[[length(crr_cases) + 1L]] <<- list(
    id = id, data = data_name, covariates = I(covs), failcode = failcode, maxiter = maxiter,
    coef = I(unname(f$coef)), se = I(unname(se)), naive_se = I(unname(sqrt(diag(f$invinf)))),
    var = lapply(seq_len(nrow(f$var)), function(i) I(unname(f$var[i, ]))),
    shr = I(unname(s$conf.int[, 1])), lower = I(unname(s$conf.int[, 3])), upper = I(unname(s$conf.int[, 4])),
    z = I(unname(s$coef[, "z"])), p = I(unname(2 * (1 - pnorm(abs(f$coef) / se)))),
    loglik = f$loglik, loglik_null = f$loglik.null, logtest = unname(s$logtest[["test"]]),
    score = I(unname(f$score)), converged = f$converged, n = f$n, n_missing = f$n.missing,
    uftime = I(f$uftime), bfitj = I(f$bfitj))
}
add_crr("trt_death_multi", "trt", c("age", "lbili", "albumin", "trt2"), 2)
add_crr("trt_transplant_multi", "trt", c("age", "lbili", "albumin", "trt2"), 1)
add_crr("trt_death_trt", "trt", c("trt2"), 2)
add_crr("all_death_age", "all", c("age"), 2)
add_crr("all_death_dummies", "all", c("age", "lbili", "edema05", "edema1", "female"), 2)
add_crr("months_death_multi", "trt_months", c("age", "lbili", "albumin", "trt2"), 2)
add_crr("months_transplant_multi", "trt_months", c("age", "lbili", "trt2"), 1)
add_crr("all_transplant_age_maxiter1", "all", c("age"), 1, maxiter = 1)          # converged = FALSE
add_crr("all_transplant_edema1", "all", c("edema1"), 1)                          # no transplant with edema = 1
# crr with missing covariate values (chol is NA for 134 patients)
add_crr("all_death_chol", "all", c("age", "chol"), 2)
# a constant covariate: crr stops (singular information)
constant_error <- tryCatch({ crr(all$time, all$status, cbind(k = rep(1, nrow(all))), failcode = 1); "" },
                           error = function(e) conditionMessage(e))

# ------------------------------------------------------------------ cause-specific Cox
cs_cases <- list()
add_cs <- function(id, data_name, formula_rhs, cause) {
  d <- datasets[[data_name]]
  d$ev <- as.integer(d$status == cause)
  f <- coxph(as.formula(paste("Surv(time, status ==", cause, ") ~", formula_rhs)), data = d)
  s <- summary(f)
  cs_cases[[length(cs_cases) + 1L]] <<- list(
    id = id, data = data_name, cause = cause, terms = I(names(coef(f))), coef = I(unname(coef(f))),
    se = I(unname(sqrt(diag(f$var)))), hr = I(unname(exp(coef(f)))),
    lower = I(unname(s$conf.int[, "lower .95"])), upper = I(unname(s$conf.int[, "upper .95"])),
    p = I(unname(s$coefficients[, "Pr(>|z|)"])), nevent = f$nevent, n = f$n)
}
add_cs("trt_death", "trt", "age + lbili + albumin + trt2", 2)
add_cs("trt_transplant", "trt", "age + lbili + albumin + trt2", 1)
add_cs("months_death", "trt_months", "age + lbili + trt2", 2)

# ------------------------------------------------------------------ 1 - KM (competing events censored)
km_cases <- list()
add_km <- function(id, data_name, group, cause, times) {
  d <- datasets[[data_name]]
  f <- survfit(as.formula(paste("Surv(time, status ==", cause, ") ~", group)), data = d)
  s <- summary(f, times = times, extend = TRUE)
  ci <- cuminc(d$time, d$status, d[[group]])
  tp <- timepoints(ci, times)
  rows <- grep(paste0(" ", cause, "$"), rownames(tp$est))
  km_cases[[length(km_cases) + 1L]] <<- list(
    id = id, data = data_name, group = group, cause = cause, times = I(times),
    strata = I(as.character(s$strata)), time = I(s$time), one_minus_km = I(1 - s$surv),
    cif_rows = I(rownames(tp$est)[rows]),
    cif = lapply(rows, function(i) I(unname(tp$est[i, ]))))
}
add_km("trt_death", "trt", "trt", 2, c(365, 1000, 2000, 3000, 4000))
add_km("trt_transplant", "trt", "trt", 1, c(365, 1000, 2000, 3000, 4000))
add_km("edema_death", "all", "edema", 2, c(500, 1000, 2000, 3000))

out <- list(
  versions = list(R = R.version.string, survival = format(packageVersion("survival")),
                  cmprsk = format(packageVersion("cmprsk"))),
  cuminc = ci_cases, gray = gray_extra, crr = crr_cases, crr_constant_error = constant_error,
  cause_specific = cs_cases, km_vs_cif = km_cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE),
           file.path(out_dir, "competing.json"))
cat("written", file.path(out_dir, "competing.json"), "\n")
