# Reference values for src/helpers/stats/imputation.py, computed with R's mice (3.15.0) and survival.
#
# Run from anywhere:  Rscript tests/reference/mice_reference.R      (about 3 minutes: part 6 runs mice 20 times)
# Needs: r-base-core, r-cran-mice (with its imports broom, dplyr and nnet), r-cran-survival, r-cran-jsonlite.
# Writes tests/reference/r_values/mice.json, tests/reference/data/pbc_mice.csv (the incomplete data) and
# tests/reference/data/pbc_mice_completed.csv (R's m = 5 completed data sets, complete(imp, "long")).
#
# Data: survival::pbc, the 312 randomised patients (rows 1-312). They have real missing values in chol (28),
# trig (30), platelet (4) and copper (2), all continuous. So that logreg and polyreg are exercised too, MCAR
# holes are punched with a fixed seed: 30 in hepato (0/1, imputed by logreg) and 25 in stage (1-4, treated as
# an unordered factor, imputed by polyreg). Derived columns, built the same way in tests/test_imputation.py:
#   event   = status == 2 (death; transplant counts as censored)
#   logbili = log(bili)
#   na      = mice::nelsonaalen(d, time, event)   (White & Royston 2009)
#   edema, stage, hepato as factors (levels 0/0.5/1, 1-4, 0/1)
# Imputation model: columns in the order of DATA_COLUMNS below, visited left to right; every column predicts
# every other except time (the outcome enters as event and na); mice's default methods (pmm for numbers,
# logreg for the two-level factor, polyreg for the four-level factor); maxit = 5.
# Analysis model: coxph(Surv(time, event) ~ age + albumin + logbili + edema + chol + copper + platelet + trig
#   + stage + hepato), pooled with pool() and summary(pool(fit), conf.int = TRUE).
#
# Parts of the JSON:
#   1. nelsonaalen: mice::nelsonaalen on pbc (312), on lung with time in months (heavily tied), on a hand example
#   2. matchindex: mice:::matchindex on the example of its help page, k = 1 (deterministic), and the donors it
#      draws for k = 5 over 4000 repetitions (which donors can be drawn, and how often)
#   3. components on completed data set 1 of part 5: the design mice builds, remove.lindep, estimice (pmm's
#      regression), augment + glm.fit (logreg), nnet::multinom (polyreg), for one variable each
#   4. edit.setup / remove.lindep on designed cases (a constant column, a collinear column)
#   5. deterministic pooling: mice(m = 5, seed = 2024); the completed data are written to CSV, read back, a Cox
#      model is fitted on each, and pool() is run with mice's own dfcom (coxph: nevent - p), dfcom = Inf and 50
#   6. Monte Carlo: mice(m = 20, seed = s) for s = 1..20; per seed the pooled estimate, SE, fmi, ubar and b

suppressPackageStartupMessages({
  library(survival)
  library(mice)
  library(jsonlite)
})

here <- function() {  # the folder of this script (Rscript --file=...), else the working directory
  f <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
}
source(file.path(here(), "reference_dirs.R"))  # out_dir, data_dir

# ---- data ----------------------------------------------------------------------------------------
raw <- survival::pbc[1:312, c("id", "time", "status", "age", "albumin", "bili", "chol", "copper", "platelet",
                              "trig", "edema", "stage", "hepato")]
set.seed(20240531)
raw$hepato[sample(312, 30)] <- NA
raw$stage[sample(312, 25)] <- NA
write.csv(raw, file.path(data_dir, "pbc_mice.csv"), row.names = FALSE)
raw <- read.csv(file.path(data_dir, "pbc_mice.csv"))

DATA_COLUMNS <- c("time", "event", "na", "age", "albumin", "logbili", "edema", "chol", "copper", "platelet",
                  "trig", "stage", "hepato")
prepare <- function(raw) {
  d <- raw
  d$event <- as.integer(d$status == 2)
  d$logbili <- log(d$bili)
  d$na <- nelsonaalen(d, time, event)
  d$edema <- factor(d$edema, levels = c(0, 0.5, 1))
  d$stage <- factor(d$stage, levels = 1:4)
  d$hepato <- factor(d$hepato, levels = 0:1)
  d[, DATA_COLUMNS]
}
dat <- prepare(raw)
pred <- make.predictorMatrix(dat)
pred[, "time"] <- 0
COX <- Surv(time, event) ~ age + albumin + logbili + edema + chol + copper + platelet + trig + stage + hepato

# ---- 1. Nelson-Aalen -----------------------------------------------------------------------------
lung <- survival::lung
lung$months <- ceiling(lung$time / 30)
lung$dead <- as.integer(lung$status == 2)
hand <- data.frame(t = c(1, 1, 1, 2, 2, 3, 4, 4), s = c(1, 1, 0, 1, 1, 0, 1, 0))
nelson <- list(
  pbc = list(time = I(dat$time), event = I(dat$event), hazard = I(nelsonaalen(dat, time, event))),
  lung_months = list(time = I(lung$months), event = I(lung$dead), hazard = I(nelsonaalen(lung, months, dead))),
  hand = list(time = I(hand$t), event = I(hand$s), hazard = I(nelsonaalen(hand, t, s))))

# ---- 2. matchindex -------------------------------------------------------------------------------
md <- c(-5, 5, 0, 10, 12)
mt <- c(-6, -4, 0, 2, 4, -2, 6)
set.seed(1)
k1 <- mice:::matchindex(md, mt, 1L)
md5 <- c(-5, 5, 0, 10, 12, 3, 3, 7, -1, 20, 0.5)
mt5 <- c(-6, 0, 2, 4, 6, 25, 3)
set.seed(2)
reps <- replicate(4000, mice:::matchindex(md5, mt5, 5L))
freq <- lapply(seq_along(mt5), function(i) {
  tab <- table(factor(reps[i, ], levels = seq_along(md5)))
  as.numeric(tab) / ncol(reps)
})
matchindex_out <- list(k1 = list(d = I(md), t = I(mt), idx = I(k1)),
                       k5 = list(d = I(md5), t = I(mt5), reps = ncol(reps), freq = freq))

# ---- 5 (first part). mice with m = 5: the completed data sets -------------------------------------
imp5 <- mice(dat, m = 5, maxit = 5, seed = 2024, predictorMatrix = pred, printFlag = FALSE)
long <- complete(imp5, "long")
write.csv(long, file.path(data_dir, "pbc_mice_completed.csv"), row.names = FALSE)
long <- read.csv(file.path(data_dir, "pbc_mice_completed.csv"))

# ---- 3. components on completed data set 1 -------------------------------------------------------
comp1 <- long[long$.imp == 1, DATA_COLUMNS]
comp1$edema <- factor(comp1$edema, levels = c(0, 0.5, 1))
comp1$stage <- factor(comp1$stage, levels = 1:4)
comp1$hepato <- factor(comp1$hepato, levels = 0:1)
rownames(comp1) <- NULL
design_for <- function(j) {
  # as mice:::sampler.univ builds it: the predictors in data-column order, model.matrix, intercept dropped
  vars <- colnames(dat)[pred[j, ] != 0]
  f <- reformulate(setdiff(vars, j), response = j)
  x <- mice:::obtain.design(comp1, f)
  x[, -1L, drop = FALSE]
}
# remove.lindep, called outside mice(), logs what it drops through mice's updateLog, which looks for these two
# objects up the frames (removed again before mice() runs, in part 4)
state <- list(it = 0, im = 0, dep = "", meth = "", log = FALSE)
loggedEvents <- NULL
mat_rows <- function(x) lapply(seq_len(nrow(x)), function(i) unname(x[i, ]))
components <- list()
# pmm for chol: the regression .norm.draw starts from
x <- design_for("chol"); ry <- !is.na(dat$chol); y <- comp1$chol
keep <- mice:::remove.lindep(x, y, ry)
est <- mice:::estimice(cbind(1, x[ry, keep, drop = FALSE]), y[ry])
components$chol <- list(columns = I(colnames(x)), keep = I(unname(keep)), coef = I(unname(drop(est$c))),
                        v = mat_rows(est$v), df = est$df, rss = sum(est$r^2))
# logreg for hepato: augment, then glm.fit(quasibinomial) with the augmentation weights
x <- design_for("hepato"); ry <- !is.na(dat$hepato); wy <- !ry; y <- comp1$hepato
keep <- mice:::remove.lindep(x, y, ry)
x <- x[, keep, drop = FALSE]
aug <- mice:::augment(y, ry, x, wy)
xa <- cbind(1, as.matrix(aug$x))
g <- glm.fit(x = xa[aug$ry, , drop = FALSE], y = aug$y[aug$ry], family = quasibinomial(link = logit),
             weights = aug$w[aug$ry])
gs <- summary.glm(g)
components$hepato <- list(columns = I(colnames(x)), keep = I(unname(keep)),
                          aug_x = mat_rows(as.matrix(aug$x)[-seq_len(nrow(x)), , drop = FALSE]),
                          aug_y = I(as.integer(aug$y[-seq_len(nrow(x))]) - 1L),
                          aug_w = I(aug$w[-seq_len(nrow(x))]),
                          coef = I(unname(coef(g))), cov_unscaled = mat_rows(gs$cov.unscaled),
                          iter = g$iter)
# polyreg for stage: augment, then nnet::multinom as mice.impute.polyreg calls it (maxit = 100), and to convergence
x <- design_for("stage"); ry <- !is.na(dat$stage); wy <- !ry; y <- comp1$stage
keep <- mice:::remove.lindep(x, y, ry)
x <- x[, keep, drop = FALSE]
aug <- mice:::augment(y, ry, x, wy)
xy <- cbind.data.frame(y = aug$y, x = aug$x)
fit100 <- nnet::multinom(formula(xy), data = xy[aug$ry, , drop = FALSE], weights = aug$w[aug$ry], maxit = 100,
                         trace = FALSE, MaxNWts = 1500)
fit_conv <- nnet::multinom(formula(xy), data = xy[aug$ry, , drop = FALSE], weights = aug$w[aug$ry], maxit = 10000,
                           trace = FALSE, MaxNWts = 1500, reltol = 1e-14, abstol = 0)
post100 <- predict(fit100, xy[aug$wy, , drop = FALSE], type = "probs")
post_conv <- predict(fit_conv, xy[aug$wy, , drop = FALSE], type = "probs")
components$stage <- list(columns = I(colnames(x)), keep = I(unname(keep)), levels = I(levels(aug$y)),
                         n_aug = sum(aug$ry) - sum(ry),
                         post_maxit100 = mat_rows(post100), post_converged = mat_rows(post_conv),
                         convergence_maxit100 = fit100$convergence, deviance_maxit100 = fit100$deviance,
                         deviance_converged = fit_conv$deviance)

# ---- 4. edit.setup and remove.lindep on designed cases -------------------------------------------
set.seed(3)
n <- 60
z <- data.frame(a = rnorm(n), b = rnorm(n), const = 1, c = NA_real_)
z$c <- 2 * z$a + 1          # exactly collinear with a
z$a[sample(n, 5)] <- NA
z$b[sample(n, 8)] <- NA
z$c[sample(n, 10)] <- NA
xl <- cbind(u = rnorm(n), v = rnorm(n), w = 1e-3 * rnorm(n))
xl <- cbind(xl, s = xl[, "u"] + xl[, "v"] + 1e-7 * rnorm(n))
yl <- rnorm(n) + xl[, "u"]
ryl <- rep(c(TRUE, TRUE, FALSE), length.out = n)
lindep_out <- list(x = mat_rows(xl), y = I(yl), ry = I(ryl), keep = I(unname(mice:::remove.lindep(xl, yl, ryl))),
                   keep_y_copy = I(unname(mice:::remove.lindep(cbind(xl, yy = yl), yl, ryl))))
# the objects updateLog looks for must not shadow mice's own when mice() runs
rm(state, loggedEvents)
ini <- suppressWarnings(mice(z, maxit = 0, printFlag = FALSE))
setup_out <- list(data = lapply(z, function(v) I(v)), method = as.list(ini$method),
                  predictor_matrix = mat_rows(unname(ini$predictorMatrix)),
                  logged_meth = I(as.character(ini$loggedEvents$meth)),
                  logged_out = I(as.character(ini$loggedEvents$out)))

# ---- 5. deterministic pooling ----------------------------------------------------------------------
fits <- lapply(1:5, function(i) {
  d <- long[long$.imp == i, ]
  d$edema <- factor(d$edema, levels = c(0, 0.5, 1))
  d$stage <- factor(d$stage, levels = 1:4)
  d$hepato <- factor(d$hepato, levels = 0:1)
  coxph(COX, data = d)
})
mira <- as.mira(fits)
pool_summary <- function(dfcom) {
  p <- if (is.null(dfcom)) pool(mira) else pool(mira, dfcom = dfcom)
  s <- summary(p, conf.int = TRUE)
  pl <- p$pooled
  list(dfcom_given = if (is.null(dfcom)) "default" else dfcom,
       terms = I(as.character(s$term)), estimate = I(s$estimate), std_error = I(s$std.error),
       statistic = I(s$statistic), df = I(s$df), p_value = I(s$p.value),
       lower = I(s[["2.5 %"]]), upper = I(s[["97.5 %"]]),
       riv = I(pl$riv), lambda = I(pl$lambda), fmi = I(pl$fmi), ubar = I(pl$ubar), b = I(pl$b), t = I(pl$t),
       dfcom = pl$dfcom[1])
}
pooled_default <- pool_summary(NULL)
pool90 <- summary(pool(mira), conf.int = TRUE, conf.level = 0.90)
deterministic <- list(
  seed = 2024, m = 5, maxit = 5,
  per_imputation = lapply(fits, function(f) list(coef = I(unname(coef(f))), se = I(unname(sqrt(diag(vcov(f))))),
                                                   var = mat_rows(unname(vcov(f))), nevent = f$nevent, n = f$n)),
  pooled = pooled_default, pooled_dfcom_inf = pool_summary(Inf), pooled_dfcom_50 = pool_summary(50),
  conf90 = list(lower = I(pool90[["5 %"]]), upper = I(pool90[["95 %"]])),
  method = as.list(imp5$method), logged_events = if (is.null(imp5$loggedEvents)) list() else nrow(imp5$loggedEvents))

# ---- 6. Monte Carlo over seeds ---------------------------------------------------------------------
SEEDS <- 1:20
M_MC <- 20
t0 <- Sys.time()
mc <- lapply(SEEDS, function(s) {
  imp <- mice(dat, m = M_MC, maxit = 5, seed = s, predictorMatrix = pred, printFlag = FALSE)
  fit <- with(imp, coxph(Surv(time, event) ~ age + albumin + logbili + edema + chol + copper + platelet + trig +
                           stage + hepato))
  p <- pool(fit)
  list(seed = s, estimate = I(p$pooled$estimate), std_error = I(sqrt(p$pooled$t)), fmi = I(p$pooled$fmi),
       ubar = I(p$pooled$ubar), b = I(p$pooled$b))
})
mc_seconds <- as.numeric(difftime(Sys.time(), t0, units = "secs"))
stack <- function(key) do.call(rbind, lapply(mc, `[[`, key))
monte_carlo <- list(
  seeds = I(SEEDS), m = M_MC, maxit = 5, terms = I(pooled_default$terms),
  seconds_per_run = mc_seconds / length(SEEDS),
  estimate_mean = I(colMeans(stack("estimate"))), estimate_sd = I(apply(stack("estimate"), 2, sd)),
  std_error_mean = I(colMeans(stack("std_error"))), std_error_sd = I(apply(stack("std_error"), 2, sd)),
  fmi_mean = I(colMeans(stack("fmi"))), fmi_sd = I(apply(stack("fmi"), 2, sd)),
  b_mean = I(colMeans(stack("b"))), ubar_mean = I(colMeans(stack("ubar"))),
  per_seed = lapply(mc, function(r) list(estimate = r$estimate, std_error = r$std_error)))

out <- list(
  meta = list(r = R.version.string, mice = format(packageVersion("mice")),
              survival = format(packageVersion("survival")), nnet = format(packageVersion("nnet")),
              broom = format(packageVersion("broom")),
              note = "see tests/reference/mice_reference.R"),
  data_columns = I(DATA_COLUMNS),
  predictor_matrix = list(rows = I(rownames(pred)), matrix = mat_rows(unname(pred))),
  nelsonaalen = nelson, matchindex = matchindex_out, components = components,
  setup = setup_out, remove_lindep = lindep_out, deterministic = deterministic, monte_carlo = monte_carlo)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           file.path(out_dir, "mice.json"))
cat("written", file.path(out_dir, "mice.json"), sprintf("(Monte Carlo: %.1f s per mice run)\n",
                                                          mc_seconds / length(SEEDS)))
