# Reference values for src/helpers/stats/cox.py and src/helpers/stats/rmst.py, computed with R's survival package.
#
# Run from anywhere:  Rscript tests/reference/survival_cox_reference.R
# Needs: r-base-core, r-cran-survival (>= 3.4 for pseudo()), r-cran-jsonlite.
# Optional: r-cran-geepack (a cross-check of the pseudo-value regression; skipped when absent).
# Writes tests/reference/r_values/survival_cox.json and tests/reference/r_values/rmst.json, and exports
# the data sets it uses to tests/reference/data/<name>.csv (only when that file does not exist yet:
# another reference script may write the same file, with the same write.csv(row.names = FALSE) call;
# lung goes to lung_full.csv, see below).
#
# Data: lung (as lung_full.csv), veteran and ovarian, shipped with survival.  Derived columns are built the same way in
# tests/test_cox.py and tests/test_rmst.py:
#   lung:    dead = status == 2; female = sex == 2; ecog3 = factor(pmin(ph.ecog, 2)) with levels
#            0, 1, 2+ (reference 0); months = ceiling(time / 30) (a heavily tied time scale)
#   veteran: celltype factor with R's levels (squamous, smallcell, adeno, large; reference squamous);
#            trt2 = trt == 2; prior10 = prior == 10
#   ovarian: rx2 = rx == 2; resid2 = resid.ds == 2; ecog2 = ecog.ps == 2
# RMST (survRM2::rmst1 / rmst2) is computed here with survRM2's formulas from survfit() output, since
# survRM2 is not packaged for Debian: RMST = integral of the KM curve from 0 to tau; its variance is the
# Greenwood plug-in sum over event times t_i <= tau of (area under the curve from t_i to tau)^2 *
# d_i / (Y_i (Y_i - d_i)).

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

here <- function() {  # the folder of this script (Rscript --file=...), else the working directory
  f <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
}
source(file.path(here(), "reference_dirs.R"))  # out_dir, data_dir

export <- function(df, name) {
  f <- file.path(data_dir, paste0(name, ".csv"))
  if (!file.exists(f)) write.csv(df, f, row.names = FALSE)
}
# lung is exported in full as lung_full.csv: survival_km_reference.R writes a lung.csv with only some
# of the columns (no ph.karno, wt.loss, meal.cal), which these models need.
export(survival::lung, "lung_full")
export(survival::veteran, "veteran")
export(survival::ovarian, "ovarian")

# Re-read the exported files, so that R sees exactly what the Python tests read.
lung <- read.csv(file.path(data_dir, "lung_full.csv"))
veteran <- read.csv(file.path(data_dir, "veteran.csv"))
ovarian <- read.csv(file.path(data_dir, "ovarian.csv"))

lung$dead <- as.integer(lung$status == 2)
lung$female <- as.integer(lung$sex == 2)
lung$ecog3 <- factor(ifelse(pmin(lung$ph.ecog, 2) == 2, "2+", as.character(lung$ph.ecog)),
                     levels = c("0", "1", "2+"))
lung$months <- ceiling(lung$time / 30)
veteran$celltype <- factor(veteran$celltype, levels = c("squamous", "smallcell", "adeno", "large"))
veteran$trt2 <- as.integer(veteran$trt == 2)
veteran$prior10 <- as.integer(veteran$prior == 10)
ovarian$rx2 <- as.integer(ovarian$rx == 2)
ovarian$resid2 <- as.integer(ovarian$resid.ds == 2)
ovarian$ecog2 <- as.integer(ovarian$ecog.ps == 2)

# Edge-case columns on lung: no events when flag == 1 (infinite HR); a constant; an exact collinearity.
lung$nodeath <- 0L
lung$nodeath[which(lung$dead == 0)[1:15]] <- 1L
lung$const <- 1
lung$age2 <- 2 * lung$age

datasets <- list(lung = lung, veteran = veteran, ovarian = ovarian)

capture_warnings <- function(expr) {
  ws <- character(0)
  val <- withCallingHandlers(expr, warning = function(w) {
    ws <<- c(ws, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = ws)
}

# ---- Cox models -----------------------------------------------------------------------------------
cox_models <- list()
zph_tables <- list()

add_cox <- function(id, data_name, formula, robust = FALSE, relevel_ecog = NULL, zph = list(), ties = "efron") {
  d <- datasets[[data_name]]
  if (!is.null(relevel_ecog)) d$ecog3 <- relevel(d$ecog3, ref = relevel_ecog)
  cw <- capture_warnings(coxph(formula, data = d, ties = ties, robust = robust, model = TRUE))
  fit <- cw$value
  s <- summary(fit)
  cf <- s$coefficients
  ci <- s$conf.int
  coef <- fit$coefficients
  se <- sqrt(diag(fit$var))
  rec <- list(
    id = id, data = data_name, formula = paste(deparse(formula, width.cutoff = 500), collapse = " "),
    robust = robust, ties = ties, reference_ecog3 = if (is.null(relevel_ecog)) "0" else relevel_ecog,
    terms = I(names(coef)), coef = I(unname(coef)), se = I(unname(se)),
    hr = I(unname(exp(coef))),
    lower = I(unname(ci[, "lower .95"])), upper = I(unname(ci[, "upper .95"])),
    z = I(unname(cf[, "z"])), p = I(unname(cf[, ncol(cf)])),
    n = fit$n, nevent = fit$nevent, loglik = unname(fit$loglik), iter = fit$iter,
    lr_test = unname(s$logtest), score_test = unname(s$sctest),
    # summary() rounds the Wald statistic for printing; keep the unrounded one from the fit
    wald_test = c(fit$wald.test, s$waldtest[["df"]],
                  pchisq(fit$wald.test, s$waldtest[["df"]], lower.tail = FALSE)),
    concordance = unname(fit$concordance[c("concordant", "discordant", "tied.x", "tied.y", "tied.xy",
                                            "concordance")]),
    warnings = I(cw$warnings)
  )
  if (robust) {
    rec$robust_se <- I(unname(sqrt(diag(fit$var))))
    rec$naive_se <- I(unname(sqrt(diag(fit$naive.var))))
    rec$robust_test <- unname(s$robscore)
  }
  cox_models[[length(cox_models) + 1L]] <<- rec
  for (z in zph) {
    zz <- cox.zph(fit, transform = z$transform, terms = z$terms)
    zph_tables[[length(zph_tables) + 1L]] <<- list(
      model = id, transform = z$transform, terms = z$terms,
      rows = I(rownames(zz$table)), chisq = I(unname(zz$table[, "chisq"])),
      df = I(unname(zz$table[, "df"])), p = I(unname(zz$table[, "p"])))
  }
}

zph_all <- list(list(transform = "km", terms = TRUE), list(transform = "identity", terms = TRUE),
                list(transform = "rank", terms = TRUE), list(transform = "log", terms = TRUE),
                list(transform = "km", terms = FALSE))

add_cox("lung_uni_female", "lung", Surv(time, dead) ~ female, zph = list(list(transform = "km", terms = TRUE)))
add_cox("lung_uni_age", "lung", Surv(time, dead) ~ age)
add_cox("lung_uni_ecog3", "lung", Surv(time, dead) ~ ecog3, zph = list(list(transform = "km", terms = TRUE)))
add_cox("lung_uni_wtloss", "lung", Surv(time, dead) ~ wt.loss)
add_cox("lung_multi", "lung", Surv(time, dead) ~ female + age + ecog3 + wt.loss, zph = zph_all)
add_cox("lung_multi_ref1", "lung", Surv(time, dead) ~ female + age + ecog3, relevel_ecog = "1",
        zph = list(list(transform = "km", terms = TRUE)))
add_cox("lung_months_ties", "lung", Surv(months, dead) ~ female + age + ecog3 + ph.karno,
        zph = list(list(transform = "km", terms = TRUE), list(transform = "identity", terms = FALSE)))
add_cox("lung_months_breslow", "lung", Surv(months, dead) ~ female + age + ecog3 + ph.karno, ties = "breslow",
        robust = TRUE, zph = list(list(transform = "km", terms = TRUE)))
add_cox("lung_robust", "lung", Surv(time, dead) ~ female + age + ecog3, robust = TRUE)
add_cox("lung_months_robust", "lung", Surv(months, dead) ~ female + age + ecog3, robust = TRUE)
add_cox("veteran_multi", "veteran", Surv(time, status) ~ trt2 + celltype + karno + age + prior10,
        zph = zph_all)
add_cox("ovarian_multi", "ovarian", Surv(futime, fustat) ~ rx2 + age + resid2 + ecog2,
        zph = list(list(transform = "km", terms = TRUE)))
# all-0/1 designs (cox.py sums these by covariate pattern): tied times with Efron and Breslow, and an
# arm-by-factor interaction as the subgroup chapter fits it
add_cox("lung_months_codes", "lung", Surv(months, dead) ~ female + ecog3,
        zph = list(list(transform = "km", terms = TRUE)))
add_cox("lung_months_codes_breslow", "lung", Surv(months, dead) ~ female + ecog3, ties = "breslow", robust = TRUE)
add_cox("veteran_trt_by_celltype", "veteran", Surv(time, status) ~ trt2 * celltype)
add_cox("lung_infinite", "lung", Surv(time, dead) ~ nodeath + age)
add_cox("lung_constant", "lung", Surv(time, dead) ~ age + const + female)
add_cox("lung_collinear", "lung", Surv(time, dead) ~ age + female + age2)

# Univariate screen then multivariable model (the Table 2 workflow), entry p < 0.1 on any term.
screen_vars <- list(female = "female", age = "age", ecog3 = "ecog3", wt.loss = "wt.loss",
                    ph.karno = "ph.karno", meal.cal = "meal.cal")
uni <- lapply(names(screen_vars), function(v) {
  f <- coxph(as.formula(paste("Surv(time, dead) ~", screen_vars[[v]])), data = lung)
  s <- summary(f)
  list(variable = v, terms = I(names(f$coefficients)), p = I(unname(s$coefficients[, "Pr(>|z|)"])),
       wald_p = unname(s$waldtest["pvalue"]), n = f$n)
})
selected <- vapply(uni, function(u) any(u$p < 0.1), logical(1))
sel_vars <- names(screen_vars)[selected]
mf <- coxph(as.formula(paste("Surv(time, dead) ~", paste(unlist(screen_vars[sel_vars]), collapse = " + "))),
            data = lung)
screen <- list(entry_p = 0.1, univariate = uni, selected = I(sel_vars),
               multivariate = list(terms = I(names(mf$coefficients)), coef = I(unname(mf$coefficients)),
                                   se = I(unname(sqrt(diag(mf$var)))),
                                   p = I(unname(summary(mf)$coefficients[, "Pr(>|z|)"])), n = mf$n))

cox_out <- list(
  meta = list(r = R.version.string, survival = format(packageVersion("survival")),
              note = "coxph(ties = 'efron'); summary(); cox.zph(); see survival_cox_reference.R"),
  models = cox_models, zph = zph_tables, screen = screen)
writeLines(toJSON(cox_out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           file.path(out_dir, "survival_cox.json"))

# ---- RMST -----------------------------------------------------------------------------------------
rmst1 <- function(time, status, tau, alpha = 0.05) {
  ft <- survfit(Surv(time, status) ~ 1)
  idx <- ft$time <= tau
  wk.time <- sort(c(ft$time[idx], tau))
  wk.surv <- ft$surv[idx]
  wk.n.risk <- ft$n.risk[idx]
  wk.n.event <- ft$n.event[idx]
  time.diff <- diff(c(0, wk.time))
  areas <- time.diff * c(1, wk.surv)
  rmst <- sum(areas)
  wk.var <- ifelse((wk.n.risk - wk.n.event) == 0, 0, wk.n.event / (wk.n.risk * (wk.n.risk - wk.n.event)))
  wk.var <- c(wk.var, 0)
  rmst.var <- sum(cumsum(rev(areas[-1]))^2 * rev(wk.var)[-1])
  se <- sqrt(rmst.var)
  q <- qnorm(1 - alpha / 2)
  # survfit's own restricted mean, as a cross-check of the integral
  tab <- summary(ft, rmean = tau)$table
  list(rmst = rmst, se = se, lower = rmst - q * se, upper = rmst + q * se, var = rmst.var,
       survfit_rmean = unname(tab["rmean"]), survfit_se_rmean = unname(tab["se(rmean)"]))
}

rmst2 <- function(time, status, arm, tau, alpha = 0.05) {
  w1 <- rmst1(time[arm == 1], status[arm == 1], tau, alpha)
  w0 <- rmst1(time[arm == 0], status[arm == 0], tau, alpha)
  q <- qnorm(1 - alpha / 2)
  d <- w1$rmst - w0$rmst
  dse <- sqrt(w1$var + w0$var)
  lr <- log(w1$rmst) - log(w0$rmst)
  lrse <- sqrt(w1$var / w1$rmst^2 + w0$var / w0$rmst^2)
  l1 <- tau - w1$rmst; l0 <- tau - w0$rmst
  ll <- log(l1) - log(l0)
  llse <- sqrt(w1$var / l1^2 + w0$var / l0^2)
  list(tau = tau, arm1 = w1, arm0 = w0,
       difference = list(est = d, se = dse, lower = d - q * dse, upper = d + q * dse,
                         p = 2 * pnorm(-abs(d) / dse)),
       ratio = list(est = exp(lr), lower = exp(lr - q * lrse), upper = exp(lr + q * lrse),
                    p = 2 * pnorm(-abs(lr) / lrse)),
       rmtl_ratio = list(est = exp(ll), lower = exp(ll - q * llse), upper = exp(ll + q * llse),
                         p = 2 * pnorm(-abs(ll) / llse)))
}

max_times <- function(time, arm) c(max(time[arm == 0]), max(time[arm == 1]))

comparisons <- list()
add_cmp <- function(id, data_name, time, status, arm, tau, tau_rule) {
  d <- datasets[[data_name]]
  r <- rmst2(d[[time]], d[[status]], d[[arm]], tau)
  r$id <- id; r$data <- data_name; r$time <- time; r$status <- status; r$arm <- arm
  r$tau_rule <- tau_rule
  r$max_time_arm0_arm1 <- max_times(d[[time]], d[[arm]])
  comparisons[[length(comparisons) + 1L]] <<- r
}
mt <- max_times(lung$time, lung$female)
add_cmp("lung_female_floor", "lung", "time", "dead", "female", floor(min(mt)), "floor_min_max")
add_cmp("lung_female_minmax", "lung", "time", "dead", "female", min(mt), "min_max")
add_cmp("lung_female_365", "lung", "time", "dead", "female", 365, "number")
add_cmp("lung_female_event_time", "lung", "time", "dead", "female", 310, "number")  # 310 is a death time
mt <- max_times(veteran$time, veteran$trt2)
add_cmp("veteran_trt_floor", "veteran", "time", "status", "trt2", floor(min(mt)), "floor_min_max")
add_cmp("veteran_trt_100", "veteran", "time", "status", "trt2", 100, "number")
lung$months_frac <- lung$time / 30.4375
datasets$lung <- lung
mt <- max_times(lung$months_frac, lung$female)
add_cmp("lung_female_months_floor", "lung", "months_frac", "dead", "female", floor(min(mt)), "floor_min_max")
add_cmp("lung_female_monthsties_12", "lung", "months", "dead", "female", 12, "number")

# Pseudo-values (infinitesimal jackknife), survival::pseudo(type = "rmst")
pseudos <- list()
# pseudo() re-evaluates the survfit call, so the data go into the call itself (do.call)
km_fit <- function(time, status) {
  do.call(survfit, list(formula = Surv(tt, ss) ~ 1, data = data.frame(tt = time, ss = status)))
}
add_pseudo <- function(id, data_name, time, status, tau) {
  d <- datasets[[data_name]]
  fit <- km_fit(d[[time]], d[[status]])
  pv <- pseudo(fit, times = tau, type = "rmst")
  pseudos[[length(pseudos) + 1L]] <<- list(id = id, data = data_name, time = time, status = status,
                                           tau = tau, values = I(as.vector(pv)))
}
add_pseudo("lung_365", "lung", "time", "dead", 365)
add_pseudo("lung_310_event_time", "lung", "time", "dead", 310)
add_pseudo("lung_beyond_last", "lung", "time", "dead", 1100)
add_pseudo("veteran_200", "veteran", "time", "status", 200)
add_pseudo("lung_months_12", "lung", "months", "dead", 12)
add_pseudo("ovarian_500", "ovarian", "futime", "fustat", 500)

# Pseudo-value regression: OLS of the pseudo-values on the design, HC0 sandwich SEs by hand
# ((X'X)^-1 X' diag(e^2) X (X'X)^-1), normal-theory CI and p.  Complete cases first, then pseudo-values
# on that analysis set.  geepack::geeglm (independence, identity link) is a cross-check when installed.
regressions <- list()
add_reg <- function(id, data_name, time, status, tau, rhs) {
  d <- datasets[[data_name]]
  vars <- all.vars(as.formula(paste("~", rhs)))
  d <- d[complete.cases(d[, c(time, status, vars)]), ]
  fit <- km_fit(d[[time]], d[[status]])
  d$pv <- as.vector(pseudo(fit, times = tau, type = "rmst"))
  m <- lm(as.formula(paste("pv ~", rhs)), data = d)
  X <- model.matrix(m)
  e <- residuals(m)
  bread <- solve(crossprod(X))
  V <- bread %*% crossprod(X * e) %*% bread
  b <- coef(m); se <- sqrt(diag(V)); z <- b / se
  rec <- list(id = id, data = data_name, time = time, status = status, tau = tau, rhs = rhs,
              n = nrow(d), terms = I(names(b)), estimate = I(unname(b)), se = I(unname(se)),
              lower = I(unname(b - qnorm(0.975) * se)), upper = I(unname(b + qnorm(0.975) * se)),
              p = I(unname(2 * pnorm(-abs(z)))))
  if (requireNamespace("geepack", quietly = TRUE)) {
    d$.id <- seq_len(nrow(d))
    g <- geepack::geeglm(as.formula(paste("pv ~", rhs)), data = d, id = .id, corstr = "independence")
    rec$geepack_se <- I(unname(sqrt(diag(g$geese$vbeta))))
  }
  regressions[[length(regressions) + 1L]] <<- rec
}
add_reg("lung_365", "lung", "time", "dead", 365, "female + age + ecog3")
add_reg("veteran_200", "veteran", "time", "status", 200, "trt2 + celltype + karno")

rmst_out <- list(
  meta = list(r = R.version.string, survival = format(packageVersion("survival")),
              geepack = if (requireNamespace("geepack", quietly = TRUE)) format(packageVersion("geepack")) else NULL,
              note = "survRM2 rmst1/rmst2 formulas on survfit(); survival::pseudo(type = 'rmst'); lm + HC0"),
  comparisons = comparisons, pseudo = pseudos, regressions = regressions)
writeLines(toJSON(rmst_out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           file.path(out_dir, "rmst.json"))
cat("written", file.path(out_dir, "survival_cox.json"), "and", file.path(out_dir, "rmst.json"), "\n")
