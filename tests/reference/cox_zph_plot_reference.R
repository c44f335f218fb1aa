# Reference values for the proportional-hazards diagnostics at the end of src/helpers/stats/cox.py:
# cox.zph(fit, transform, terms = FALSE)$y / $x / $time / $var, the smooth and band that plot.cox.zph draws,
# and piecewise hazard ratios from a survSplit fit. survival 3.5-3 on survival::pbc.
#
# Run from anywhere:  Rscript tests/reference/cox_zph_plot_reference.R
# Needs: r-base-core, r-cran-survival, r-cran-jsonlite. Writes tests/reference/r_values/cox_zph_plot.json;
# reads tests/reference/data/pbc.csv (written by competing_reference.R; exported here if missing).
#
# Data, derived the same way in tests/test_cox_zph_plot.py:
#   pbc (418 patients), death = status == 2 (a transplant is censored), lbili = log(bili),
#   edema05 = edema == 0.5, edema1 = edema == 1; months = ceiling(time / 30.4375) (heavily tied).
# The plot data are captured from plot.cox.zph itself: lines.default is traced while the plot is drawn on a
# null device; per term plot.cox.zph draws the smooth, then the upper and the lower band, at 40 grid points.

suppressPackageStartupMessages({
  library(survival)
  library(jsonlite)
})

here <- function() {  # the folder of this script (Rscript --file=...), else the working directory
  f <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
}
source(file.path(here(), "reference_dirs.R"))  # out_dir, data_dir
pbc_file <- file.path(data_dir, "pbc.csv")
if (!file.exists(pbc_file)) write.csv(survival::pbc, pbc_file, row.names = FALSE)

d <- read.csv(pbc_file)
d$death <- as.integer(d$status == 2)
d$lbili <- log(d$bili)
d$edema05 <- as.integer(d$edema == 0.5)
d$edema1 <- as.integer(d$edema == 1)
d$months <- ceiling(d$time / 30.4375)

captured <- list()
invisible(trace("lines.default", quote(captured[[length(captured) + 1L]] <<- list(x = x, y = as.vector(y))),
                where = asNamespace("graphics"), print = FALSE))

plot_data <- function(z, term_index, df = 4) {
  captured <<- list()
  grDevices::pdf(NULL)
  plot(z[term_index], df = df)
  grDevices::dev.off()
  if (length(captured) != 3) stop("expected three lines (smooth, upper, lower)")
  list(x_drawn = I(captured[[1]]$x), beta = I(captured[[1]]$y), upper = I(captured[[2]]$y), lower = I(captured[[3]]$y))
}

zph_cases <- list()
add_zph <- function(id, formula, transform, ties = "efron", df = 4) {
  fit <- coxph(formula, data = d, ties = ties)
  z <- cox.zph(fit, transform = transform, terms = FALSE)
  terms <- colnames(z$y)
  plots <- lapply(seq_along(terms), function(i) plot_data(z, i, df = df))
  # the time axis of the plot: plot.cox.zph maps transformed times back with approx over the distinct x
  xx <- z$x
  keep <- !duplicated(xx)
  # plot.cox.zph draws the log transform against exp(grid), the others against the grid itself
  drawn <- plots[[1]]$x
  grid_time <- if (transform %in% c("identity", "log")) drawn else approx(xx[keep], z$time[keep], drawn)$y
  zph_cases[[length(zph_cases) + 1L]] <<- list(
    id = id, formula = paste(deparse(formula, width.cutoff = 500), collapse = " "), transform = transform,
    ties = ties, df = df, coef = I(unname(coef(fit))), terms = I(terms), time = I(unname(z$time)),
    x = I(unname(z$x)), y = lapply(seq_along(terms), function(i) I(unname(z$y[, i]))),
    var = lapply(seq_along(terms), function(i) I(unname(z$var[i, ]))),
    table = list(rows = I(rownames(z$table)), chisq = I(unname(z$table[, "chisq"])),
                 p = I(unname(z$table[, "p"]))),
    plot = plots, grid_time = I(grid_time))
}

f_multi <- Surv(time, death) ~ age + lbili + albumin + edema05 + edema1
add_zph("multi_km", f_multi, "km")
add_zph("multi_identity", f_multi, "identity")
add_zph("multi_rank", f_multi, "rank")
add_zph("multi_log", f_multi, "log")
add_zph("multi_km_df3", f_multi, "km", df = 3)
add_zph("months_km", Surv(months, death) ~ age + lbili + albumin, "km")                 # tied event times
add_zph("months_breslow", Surv(months, death) ~ age + lbili + albumin, "km", ties = "breslow")
add_zph("uni_edema1_km", Surv(time, death) ~ edema1, "km")
d$age2 <- 2 * d$age
add_zph("collinear_km", Surv(time, death) ~ age + lbili + age2, "km")     # age2: NA coefficient, left out

# Too few events for the spline: plot.cox.zph warns "spline fit is singular" and skips the term
small <- d[c(which(d$death == 1)[1:3], which(d$death == 0)[1:20]), ]
zs <- cox.zph(coxph(Surv(time, death) ~ age, data = small), terms = FALSE)
captured <- list()
small_warnings <- character(0)
grDevices::pdf(NULL)
withCallingHandlers(plot(zs), warning = function(w) {
  small_warnings <<- c(small_warnings, conditionMessage(w)); invokeRestart("muffleWarning") })
invisible(grDevices::dev.off())
singular <- list(rows = "the first 3 deaths and the first 20 censored patients of pbc, in that order",
                 y = I(unname(zs$y[, 1])), warnings = I(small_warnings), lines_drawn = length(captured))

# ------------------------------------------------------------------ piecewise HR (survSplit)
pw_cases <- list()
add_pw <- function(id, time_col, covs, cuts) {
  dd <- d
  dd$tt <- dd[[time_col]]
  sp <- survSplit(Surv(tt, death) ~ ., data = dd, cut = cuts, episode = "tgroup")
  rhs <- if (length(covs) == 1) paste0(covs, ":strata(tgroup)") else
    paste0("(", paste(covs, collapse = " + "), "):strata(tgroup)")
  fit <- coxph(as.formula(paste("Surv(tstart, tt, death) ~", rhs)), data = sp)
  s <- summary(fit)
  pw_cases[[length(pw_cases) + 1L]] <<- list(
    id = id, time = time_col, covariates = I(covs), cuts = I(cuts), terms = I(names(coef(fit))),
    coef = I(unname(coef(fit))), se = I(unname(sqrt(diag(fit$var)))),
    lower = I(unname(s$conf.int[, "lower .95"])), upper = I(unname(s$conf.int[, "upper .95"])),
    p = I(unname(s$coefficients[, "Pr(>|z|)"])), loglik = unname(fit$loglik), nevent = fit$nevent,
    rows_per_group = I(unname(as.vector(table(sp$tgroup)))))
}
add_pw("age_1500", "time", c("age"), 1500)
add_pw("multi_1500", "time", c("age", "lbili", "albumin", "edema1"), 1500)
add_pw("multi_two_cuts", "time", c("age", "lbili", "albumin"), c(1000, 2500))
add_pw("months_cut_at_event_time", "months", c("age", "lbili"), 36)          # events tied at the cut time

out <- list(versions = list(R = R.version.string, survival = format(packageVersion("survival"))),
            zph = zph_cases, singular_spline = singular, piecewise = pw_cases)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE),
           file.path(out_dir, "cox_zph_plot.json"))
cat("written", file.path(out_dir, "cox_zph_plot.json"), "\n")
