# R reference for helpers.sensitivity (the matching-sensitivity chapter).
#
# Run from the repository root:  Rscript tests/reference/sensitivity_reference.R   (make r-reference)
# Needs: r-base-core, r-cran-survival, r-cran-matchit, r-cran-jsonlite.
# Writes tests/reference/r_values/sensitivity.json.
#
# 1. lung (survival's data, tests/reference/data/lung.csv): weighted Cox models with a 0/1 covariate,
#    non-integer case weights and clusters, Efron ties (the data have tied death times):
#      coxph(Surv(time, dead) ~ female, weights = w, cluster = cl, ties = "efron")
#    coef, model-based SE (sqrt(fit$naive.var)) and robust SE (sqrt(fit$var)); also without cluster
#    (robust = TRUE: each row its own cluster) and without weights.
# 2. The committed synthetic seed-000 cohort: MatchIt nearest-neighbour matching 1:1 on the spec's
#    covariates for several calipers, with and without replacement, then
#      coxph(Surv(t, e) ~ arm, data = match.data(m), weights = weights, cluster = subclass)   (no replacement)
#      coxph(Surv(t, e) ~ arm, data = match.data(m), weights = weights, robust = TRUE)       (with replacement)
#    as MatchIt's "Estimating effects after matching" vignette does. Matched n and events per arm, HR,
#    model-based and robust CIs.
#    The installed MatchIt (4.5.1) computes gaps with the integer abs() (MatchIt issue #163), so the
#    distance is the propensity score (R glm) times 2^30, exactly as tests/reference/matchit_reference.R
#    explains; ratio > 1 is not run here because of the installed version's second bug (see that script).
suppressPackageStartupMessages({library(survival); library(MatchIt); library(jsonlite)})
num <- function(x) ifelse(is.na(x), NA_character_, sprintf("%.17g", x))

# ------------------------------------------------------------------------------------------ 1. lung
lung <- read.csv("tests/reference/data/lung.csv")
lung$dead <- as.numeric(lung$status == 2)
lung$female <- as.numeric(lung$sex == 2)
lung$w <- 0.25 + (seq_len(nrow(lung)) %% 7) / 3          # non-integer weights 0.25 .. 2.25
lung$cl <- (seq_len(nrow(lung)) - 1) %/% 4               # clusters of 4 consecutive rows
lung_models <- list()
fit_one <- function(id, f) {
  list(id = id, coef = num(unname(coef(f))), se = num(sqrt(unname(diag(if (is.null(f$naive.var)) f$var else f$naive.var)))),
       robust_se = num(sqrt(unname(diag(f$var)))), loglik = num(f$loglik[2]))
}
lung_models[[1]] <- fit_one("weights_cluster", coxph(Surv(time, dead) ~ female, data = lung, weights = w, cluster = cl, ties = "efron"))
lung_models[[2]] <- fit_one("weights_robust", coxph(Surv(time, dead) ~ female, data = lung, weights = w, robust = TRUE, ties = "efron"))
lung_models[[3]] <- fit_one("unweighted_cluster", coxph(Surv(time, dead) ~ female, data = lung, cluster = cl, ties = "efron"))

# ------------------------------------------------------------------------------------- 2. seed 000
d <- read.csv("data/studies/erhcc_hait_mp/patients.csv", stringsAsFactors = FALSE)
d$arm01 <- as.numeric(d$arm == "HAIT-M-P")
d$afp_cat <- ifelse(d$afp <= 400, "<=400", ">400")
d$tumor_size_cat <- ifelse(d$tumor_size <= 5, "<=5", ">5")
ps <- fitted(glm(arm01 ~ age + sex + afp_cat + cirrhosis + child_pugh + tumor_number + tumor_size_cat + pvtt + hait_type,
                 data = d, family = binomial()))
S <- 2^30
settings <- list(list(caliper = 0.1, replace = FALSE), list(caliper = 0.2, replace = FALSE),
                 list(caliper = NA, replace = FALSE), list(caliper = 0.1, replace = TRUE),
                 list(caliper = 0.05, replace = TRUE), list(caliper = NA, replace = TRUE))
seed_rows <- list()
for (s in settings) {
  args <- list(arm01 ~ age, data = d, method = "nearest", distance = ps * S, ratio = 1, replace = s$replace,
               m.order = "largest")
  if (!is.na(s$caliper)) { args$caliper <- s$caliper; args$std.caliper <- TRUE }
  m <- suppressWarnings(do.call(matchit, args))
  md <- match.data(m)
  for (ep in c("pfs", "os")) {
    md$tt <- md[[paste0(ep, "_months")]]; md$ee <- md[[paste0(ep, "_event")]]
    f <- if (s$replace) coxph(Surv(tt, ee) ~ arm01, data = md, weights = weights, robust = TRUE, ties = "efron")
         else coxph(Surv(tt, ee) ~ arm01, data = md, weights = weights, cluster = subclass, ties = "efron")
    b <- unname(coef(f)); se <- sqrt(unname(f$naive.var[1, 1])); rse <- sqrt(unname(f$var[1, 1]))
    z <- qnorm(0.975)
    seed_rows[[length(seed_rows) + 1]] <- list(
      caliper = if (is.na(s$caliper)) NULL else s$caliper, replace = s$replace, ratio = 1, endpoint = ep,
      n_treated = sum(md$arm01 == 1), n_control = sum(md$arm01 == 0),
      events_treated = sum(md$ee[md$arm01 == 1]), events_control = sum(md$ee[md$arm01 == 0]),
      weights_all_one = all(abs(md$weights - 1) < 1e-12),
      hr = num(exp(b)), lower = num(exp(b - z * se)), upper = num(exp(b + z * se)),
      robust_lower = num(exp(b - z * rse)), robust_upper = num(exp(b + z * rse)))
  }
}

out <- list(meta = list(r = R.version.string, survival = format(packageVersion("survival")),
                        MatchIt = format(packageVersion("MatchIt")),
                        note = "see tests/reference/sensitivity_reference.R; reals as sprintf('%.17g') strings"),
            lung = lung_models, seed000 = seed_rows)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null"),
           "tests/reference/r_values/sensitivity.json")
cat("written tests/reference/r_values/sensitivity.json:", length(lung_models), "lung models,",
    length(seed_rows), "seed-000 rows\n")
