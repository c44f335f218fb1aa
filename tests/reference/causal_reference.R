# R reference for the "confounding" engines: weighted / clustered / stratified Cox (helpers.stats.cox),
# propensity-score weights (helpers.stats.weights), balance statistics (helpers.stats.balance), weighted
# Kaplan-Meier (helpers.stats.survival), the SAS-PSMATCH-like matching options (helpers.stats.matching)
# and the matched-set bootstrap (helpers.stats.bootstrap).
#
# Run from the repository root:  Rscript tests/reference/causal_reference.R   (make r-reference)
# Needs: r-base-core, r-cran-survival, r-cran-matchit, r-cran-jsonlite.
# Writes tests/reference/r_values/causal.json and tests/reference/data/rotterdam.csv.
#
# Data: survival::rotterdam (2982 breast-cancer patients; chemotherapy `chemo` 1 vs 0 is used as an
# observational treatment, recurrence-free time `rtime`/`recur` as the outcome), MatchIt::lalonde
# (tests/reference/data/lalonde.csv, written by matchit_reference.R) and survival::lung
# (tests/reference/data/lung.csv).
#
# WeightIt and cobalt are not installed: the weights and the balance statistics below are written out
# as formulas (the ones those packages document), next to MatchIt's own internal balance routine
# (MatchIt:::bal1var, which summary.matchit uses) where MatchIt computes the same statistic.
# Real numbers are written as sprintf("%.17g") strings (exact round trip into a Python float).
suppressPackageStartupMessages({library(survival); library(MatchIt); library(jsonlite)})
num <- function(x) ifelse(is.na(x), NA_character_, sprintf("%.17g", x))
nums <- function(x) I(unname(num(as.numeric(x))))   # I(): stays a JSON array even of length 1
S <- 2^30   # the MatchIt 4.5.1 integer-abs() workaround of matchit_reference.R (MatchIt#163)

# ------------------------------------------------------------------------------------------ data
rot <- survival::rotterdam
write.csv(rot, "tests/reference/data/rotterdam.csv", row.names = FALSE)
rot <- read.csv("tests/reference/data/rotterdam.csv")     # what Python reads: bit-identical inputs
rot$size <- factor(rot$size, levels = c("<=20", "20-50", ">50"))
lal <- read.csv("tests/reference/data/lalonde.csv")
lung <- read.csv("tests/reference/data/lung.csv")
lung$dead <- as.numeric(lung$status == 2)
lung$female <- as.numeric(lung$sex == 2)
lung$w <- 0.25 + (seq_len(nrow(lung)) %% 7) / 3          # as sensitivity_reference.R
lung$cl <- (seq_len(nrow(lung)) - 1) %/% 4

# ------------------------------------------------------------------- 1. propensity-score weights
ps_model <- glm(chemo ~ age + meno + size + grade + nodes + pgr + er + hormon, data = rot, family = binomial())
ps <- unname(fitted(ps_model))
tr <- rot$chemo
p1 <- mean(tr)
w_ate <- ifelse(tr == 1, 1 / ps, 1 / (1 - ps))
w_ate_stab <- ifelse(tr == 1, p1 / ps, (1 - p1) / (1 - ps))
w_att <- ifelse(tr == 1, 1, ps / (1 - ps))
w_atc <- ifelse(tr == 1, (1 - ps) / ps, 1)
w_ato <- ifelse(tr == 1, 1 - ps, ps)                      # overlap weights (Li, Morgan & Zaslavsky 2018)
trim_a <- 0.1
kept <- ps >= trim_a & ps <= 1 - trim_a                   # Crump-style rule: keep a <= ps <= 1 - a
p1k <- mean(tr[kept])
w_ate_trim <- ifelse(kept, ifelse(tr == 1, 1 / ps, 1 / (1 - ps)), 0)
w_ate_stab_trim <- ifelse(kept, ifelse(tr == 1, p1k / ps, (1 - p1k) / (1 - ps)), 0)
ess <- function(w) sum(w)^2 / sum(w^2)
ess_arm <- function(w) list(treated = num(ess(w[tr == 1 & w > 0])), control = num(ess(w[tr == 0 & w > 0])))
weights_out <- list(
  ps = nums(ps), n_kept_trim = sum(kept), trim_a = trim_a,
  ate = nums(w_ate), ate_stabilized = nums(w_ate_stab), att = nums(w_att), atc = nums(w_atc), ato = nums(w_ato),
  ate_trim = nums(w_ate_trim), ate_stabilized_trim = nums(w_ate_stab_trim),
  ess = list(ate = ess_arm(w_ate), ate_stabilized = ess_arm(w_ate_stab), att = ess_arm(w_att), atc = ess_arm(w_atc),
             ato = ess_arm(w_ato), ate_trim = ess_arm(w_ate_trim)))

# -------------------------------------------------------- 2. weighted / clustered / stratified coxph
cox_out <- function(id, f, data_id, note) {
  s <- summary(f)
  cf <- s$coefficients
  naive <- if (is.null(f$naive.var)) f$var else f$naive.var
  ci <- s$conf.int
  list(id = id, data = data_id, call = paste(deparse(f$call), collapse = " "), note = note,
       terms = rownames(cf), coef = nums(coef(f)), se = nums(sqrt(diag(naive))),
       robust_se = if (is.null(f$naive.var)) NULL else nums(sqrt(diag(f$var))),
       p_value = nums(cf[, "Pr(>|z|)"]), lower = nums(ci[, "lower .95"]), upper = nums(ci[, "upper .95"]),
       loglik = nums(f$loglik), score = num(f$score), wald = num(unname(f$wald.test)),
       robust_score = if (is.null(f$rscore)) NULL else num(as.numeric(f$rscore)),
       lr_p = num(s$logtest[["pvalue"]]), wald_p = num(s$waldtest[["pvalue"]]), score_p = num(s$sctest[["pvalue"]]),
       n = f$n, nevent = f$nevent, iter = f$iter,
       concordance = if (is.null(f$weights)) num(unname(f$concordance["concordance"])) else NULL)
}
rot$w_ate <- w_ate
rot$w_ato <- w_ato
rot$w_int <- 1 + (seq_len(nrow(rot)) %% 3)               # integer case weights 1, 2, 3
rot$cl <- (seq_len(nrow(rot)) - 1) %/% 5                  # clusters of 5 consecutive rows
cox <- list()
add <- function(...) cox[[length(cox) + 1]] <<- cox_out(...)
add("rot_ate_efron_robust", coxph(Surv(rtime, recur) ~ chemo, data = rot, weights = w_ate, robust = TRUE, ties = "efron"),
    "rotterdam", "IPW (ATE) weights, robust sandwich, one cluster per row")
add("rot_ate_breslow_robust", coxph(Surv(rtime, recur) ~ chemo, data = rot, weights = w_ate, robust = TRUE, ties = "breslow"),
    "rotterdam", "as above, Breslow ties")
add("rot_ate_efron_default", coxph(Surv(rtime, recur) ~ chemo, data = rot, weights = w_ate, ties = "efron"),
    "rotterdam", "IPW weights, robust not given: survival 3.5-3 turns it on for non-integer weights (has.rwt)")
add("rot_ate_efron_naive", coxph(Surv(rtime, recur) ~ chemo, data = rot, weights = w_ate, robust = FALSE, ties = "efron"),
    "rotterdam", "IPW weights, robust = FALSE: model-based variance only")
add("rot_multi_ato_robust", coxph(Surv(rtime, recur) ~ chemo + age + nodes + hormon + size, data = rot, weights = w_ato,
                                   robust = TRUE, ties = "efron"),
    "rotterdam", "overlap weights; continuous covariates are centred/scaled with the weights")
add("rot_strata_grade", coxph(Surv(rtime, recur) ~ chemo + age + strata(grade), data = rot, ties = "efron"),
    "rotterdam", "stratified, unweighted")
add("rot_strata_grade_breslow", coxph(Surv(rtime, recur) ~ chemo + age + strata(grade), data = rot, ties = "breslow"),
    "rotterdam", "stratified, unweighted, Breslow")
add("rot_strata_ate_cluster", coxph(Surv(rtime, recur) ~ chemo + strata(grade), data = rot, weights = w_ate, cluster = cl,
                                     ties = "efron"),
    "rotterdam", "stratified, weighted, clustered")
add("rot_int_weights", coxph(Surv(dtime, death) ~ chemo + age, data = rot, weights = w_int, ties = "efron"),
    "rotterdam", "integer case weights = replicated rows")
add("rot_cluster_unweighted", coxph(Surv(dtime, death) ~ chemo + nodes, data = rot, cluster = cl, ties = "breslow"),
    "rotterdam", "unweighted, clustered, Breslow")
add("lung_weights_cluster", coxph(Surv(time, dead) ~ female + age, data = lung, weights = w, cluster = cl, ties = "efron"),
    "lung", "non-integer weights, clusters of 4")

# ------------------------------------------------------------------- 3. weighted Kaplan-Meier
# survfit() with weights: survival 3.5-3's survfitKM sets robust = TRUE (infinitesimal-jackknife SE, one
# cluster per row) when any weight is not an integer (has.rwt <- any(weights != floor(weights))); with
# integer weights, or robust = FALSE, it keeps Greenwood's formula on the weighted counts.
km_out <- function(id, fit, note, times = NULL) {
  s <- if (is.null(times)) summary(fit, censored = TRUE) else summary(fit, times = times, extend = TRUE)
  list(id = id, note = note, logse = fit$logse, strata = as.character(s$strata),
       time = nums(s$time), n_risk = nums(s$n.risk), n_event = nums(s$n.event), surv = nums(s$surv),
       std_err = nums(s$std.err), lower = nums(s$lower), upper = nums(s$upper),
       median = nums(summary(fit)$table[, "median"]), median_lower = nums(summary(fit)$table[, "0.95LCL"]),
       median_upper = nums(summary(fit)$table[, "0.95UCL"]))
}
lung_km <- list()
lung_km[[1]] <- km_out("lung_nonint", survfit(Surv(time, dead) ~ female, data = lung, weights = w),
                       "non-integer weights: robust IJ SE by default")
lung_km[[2]] <- km_out("lung_nonint_greenwood", survfit(Surv(time, dead) ~ female, data = lung, weights = w, robust = FALSE),
                       "non-integer weights, robust = FALSE: Greenwood on weighted counts")
lung$w_int <- 1 + (seq_len(nrow(lung)) %% 3)
lung_km[[3]] <- km_out("lung_int", survfit(Surv(time, dead) ~ female, data = lung, weights = w_int),
                       "integer weights: Greenwood on weighted counts by default")
lung_km[[4]] <- km_out("lung_int_robust", survfit(Surv(time, dead) ~ female, data = lung, weights = w_int, robust = TRUE),
                       "integer weights, robust = TRUE")
lung_km[[5]] <- km_out("lung_loglog", survfit(Surv(time, dead) ~ female, data = lung, weights = w, conf.type = "log-log"),
                       "non-integer weights, log-log band")
grid <- c(0, 180, 365, 730, 1095, 1460, 1825, 2555, 3650, 5000)
rot_km <- list(km_out("rot_ate", survfit(Surv(rtime, recur) ~ chemo, data = rot, weights = w_ate),
                      "IPW weights (non-integer): robust IJ SE", times = grid))

# --------------------------------------------------------------------------- 4. balance (lalonde)
# cobalt's formulas (bal.tab), written out: continuous SD = sqrt(weighted variance with the
# reliability-weights correction sum w (x - m)^2 / (sum w - sum w^2 / sum w)); binary SD = sqrt(p (1 - p)).
# SMD denominator from the UNWEIGHTED groups: pooled sqrt((s1^2 + s0^2) / 2) (ATE) or s1 (ATT).
# Binary variables: raw difference in proportions by default (binary = "raw"), or standardized ("std").
# Variance ratio (treated / control) for continuous variables only. KS = max |F1 - F0| over the
# weighted eCDFs (within-group normalised weights); eCDF mean (MatchIt's "eCDF Mean") = the mean of
# |F1 - F0| over the distinct values. For a binary variable both are |p1 - p0|.
lal$black <- as.numeric(lal$race == "black"); lal$hispan <- as.numeric(lal$race == "hispan")
lal$white <- as.numeric(lal$race == "white")
covs <- c("age", "educ", "black", "hispan", "white", "married", "nodegree", "re74", "re75")
lps_model <- glm(treat ~ age + educ + race + married + nodegree + re74 + re75, data = lal, family = binomial())
lps <- unname(fitted(lps_model))
lt <- lal$treat
wmean <- function(x, w) sum(w * x) / sum(w)
wvar <- function(x, w, bin) {
  m <- wmean(x, w)
  if (bin) m * (1 - m) else sum(w * (x - m)^2) / (sum(w) - sum(w^2) / sum(w))
}
ecdf_stats <- function(x, t, w) {
  w1 <- ifelse(t == 1, w / sum(w[t == 1]), 0); w0 <- ifelse(t == 0, w / sum(w[t == 0]), 0)
  o <- order(x); xs <- x[o]
  diffs <- abs(cumsum(w1[o]) - cumsum(w0[o]))[c(diff(xs) != 0, TRUE)]
  c(mean = mean(diffs), max = max(diffs))
}
balance_rows <- function(w, estimand, binary) {
  lapply(covs, function(v) {
    x <- lal[[v]]; bin <- all(x %in% c(0, 1))
    one <- rep(1, length(x))
    m1 <- wmean(x[lt == 1], w[lt == 1]); m0 <- wmean(x[lt == 0], w[lt == 0])
    m1u <- mean(x[lt == 1]); m0u <- mean(x[lt == 0])
    v1u <- wvar(x[lt == 1], one[lt == 1], bin); v0u <- wvar(x[lt == 0], one[lt == 0], bin)
    v1 <- wvar(x[lt == 1], w[lt == 1], bin); v0 <- wvar(x[lt == 0], w[lt == 0], bin)
    denom <- if (estimand == "ATE") sqrt((v1u + v0u) / 2) else sqrt(v1u)
    std <- !bin || binary == "std"
    e_un <- if (bin) c(mean = abs(m1u - m0u), max = abs(m1u - m0u)) else ecdf_stats(x, lt, one)
    e_adj <- if (bin) c(mean = abs(m1 - m0), max = abs(m1 - m0)) else ecdf_stats(x, lt, w)
    list(variable = v, type = if (bin) "binary" else "continuous",
         mean_treated_un = num(m1u), mean_control_un = num(m0u), sd_treated_un = num(sqrt(v1u)), sd_control_un = num(sqrt(v0u)),
         mean_treated_adj = num(m1), mean_control_adj = num(m0), sd_treated_adj = num(sqrt(v1)), sd_control_adj = num(sqrt(v0)),
         diff_un = num(if (std) (m1u - m0u) / denom else m1u - m0u),
         diff_adj = num(if (std) (m1 - m0) / denom else m1 - m0),
         var_ratio_un = if (bin) NULL else num(v1u / v0u), var_ratio_adj = if (bin) NULL else num(v1 / v0),
         ks_un = num(e_un[["max"]]), ks_adj = num(e_adj[["max"]]),
         ecdf_mean_un = num(e_un[["mean"]]), ecdf_mean_adj = num(e_adj[["mean"]]))
  })
}
# MatchIt's own routine for the same statistics (standardize = TRUE: binary variables standardized too)
matchit_rows <- function(w, s.d.denom) {
  lapply(covs, function(v) {
    b <- MatchIt:::bal1var(lal[[v]], lt, ww = w, s.weights = rep(1, nrow(lal)), s.d.denom = s.d.denom,
                           standardize = TRUE, compute.pair.dist = FALSE)
    c(list(variable = v), as.list(setNames(num(unname(b[1:6])), c("mean_treated", "mean_control", "smd",
                                                              "var_ratio", "ecdf_mean", "ecdf_max"))))
  })
}
lw_att <- ifelse(lt == 1, 1, lps / (1 - lps))
lw_ate <- ifelse(lt == 1, 1 / lps, 1 / (1 - lps))
m_lal <- matchit(treat ~ age, data = lal, distance = lps * S, caliper = 0.1, std.caliper = TRUE, m.order = "largest")
lw_match <- unname(m_lal$weights)
balance <- list(
  ps = nums(lps), covariates = covs,
  weights = list(att = nums(lw_att), ate = nums(lw_ate), matching = nums(lw_match)),
  cases = list(
    list(id = "att_raw", weights = "att", estimand = "ATT", binary = "raw", rows = balance_rows(lw_att, "ATT", "raw")),
    list(id = "att_std", weights = "att", estimand = "ATT", binary = "std", rows = balance_rows(lw_att, "ATT", "std")),
    list(id = "ate_raw", weights = "ate", estimand = "ATE", binary = "raw", rows = balance_rows(lw_ate, "ATE", "raw")),
    list(id = "ate_std", weights = "ate", estimand = "ATE", binary = "std", rows = balance_rows(lw_ate, "ATE", "std")),
    list(id = "matching_raw", weights = "matching", estimand = "ATT", binary = "raw",
         rows = balance_rows(lw_match, "ATT", "raw"))),
  matchit = list(
    list(id = "att_treated", weights = "att", s_d_denom = "treated", rows = matchit_rows(lw_att, "treated")),
    list(id = "ate_pooled", weights = "ate", s_d_denom = "pooled", rows = matchit_rows(lw_ate, "pooled")),
    list(id = "matching_treated", weights = "matching", s_d_denom = "treated", rows = matchit_rows(lw_match, "treated")),
    list(id = "unweighted_pooled", weights = NULL, s_d_denom = "pooled", rows = matchit_rows(NULL, "pooled"))))
# summary(m) of the matching, the documented entry point (ATT: the treated group's SD)
sm <- summary(m_lal, addlvariables = lal[covs], un = TRUE)
pick <- function(tab) lapply(covs, function(v) list(variable = v, smd = num(tab[v, "Std. Mean Diff."]),
                                                    var_ratio = num(tab[v, "Var. Ratio"]), ecdf_mean = num(tab[v, "eCDF Mean"]),
                                                    ecdf_max = num(tab[v, "eCDF Max"])))
balance$matchit_summary <- list(all = pick(sm$sum.all), matched = pick(sm$sum.matched))

# ------------------------------------------------------------ 5. matching: SAS-PSMATCH-like options
# MatchIt offers two of the three switches: distance = "glm" with link = "linear.logit" (match on the
# logit of the score) and discard = "both" (common support: drop units outside the overlap of the two
# groups' score ranges). The caliper's SD is always sd(distance[!discarded]) in MatchIt; the pooled SD
# sqrt((s1^2 + s0^2) / 2) of SAS PSMATCH is passed as an absolute caliper (std.caliper = FALSE).
match_out <- function(id, m, d, note, width) {
  mm <- m$match.matrix
  tr_ids <- rownames(mm)
  pairs <- lapply(seq_len(nrow(mm)), function(i) if (is.na(mm[i, 1])) NULL else c(d$id[as.integer(tr_ids[i])], d$id[as.integer(mm[i, 1])]))
  pairs <- do.call(rbind, pairs[!vapply(pairs, is.null, logical(1))])
  nn <- summary(m)$nn
  list(id = id, note = note, caliper_width = num(width), discarded = d$id[m$discarded],
       treated_id = pairs[, 1], control_id = pairs[, 2],
       subclass = as.integer(as.character(m$subclass[match(pairs[, 1], d$id)])),
       weights = nums(m$weights), n_matched_treated = nrow(pairs),
       nn = list(rows = rownames(nn), control = nums(nn[, "Control"]), treated = nums(nn[, "Treated"])))
}
match_cases <- list()
lal_lp <- qlogis(lps)
literal <- matchit(treat ~ age + educ + race + married + nodegree + re74 + re75, data = lal, distance = "glm",
                   link = "linear.logit", discard = "both")
stopifnot(isTRUE(all.equal(unname(literal$distance), lal_lp, tolerance = 1e-12)))
pooled_sd <- function(x, t) sqrt((var(x[t == 1]) + var(x[t == 0])) / 2)
run_match <- function(id, data, score, tt, logit, caliper_sd, discard, caliper, note) {
  dist <- if (logit) qlogis(score) else score
  m0 <- matchit(tt ~ 1, data = data.frame(tt = tt), distance = dist * S, discard = discard)  # who is discarded
  keep <- !m0$discarded
  sdv <- if (caliper_sd == "pooled") pooled_sd(dist[keep], tt[keep]) else sd(dist[keep])
  width <- caliper * sdv
  m <- matchit(tt ~ 1, data = data.frame(tt = tt), distance = dist * S, discard = discard, caliper = width * S,
               std.caliper = FALSE, m.order = "largest")
  match_out(id, m, data, note, width)
}
match_cases[[1]] <- run_match("lalonde_logit_discard_allsd", lal, lps, lt, TRUE, "all", "both", 0.1,
                              "MatchIt link = 'linear.logit', discard = 'both', caliper 0.1 SD (all units kept)")
match_cases[[2]] <- run_match("lalonde_sas", lal, lps, lt, TRUE, "pooled", "both", 0.1,
                              "SAS-like: logit distance, pooled-SD caliper 0.1, common support")
match_cases[[3]] <- run_match("lalonde_sas_025", lal, lps, lt, TRUE, "pooled", "both", 0.25,
                              "SAS-like with SAS's default caliper 0.25")
match_cases[[4]] <- run_match("lalonde_pooled_only", lal, lps, lt, FALSE, "pooled", "none", 0.1,
                              "probability scale, pooled-SD caliper, no discard")
match_cases[[5]] <- run_match("lalonde_discard_only", lal, lps, lt, FALSE, "all", "both", 0.1,
                              "probability scale, MatchIt's SD caliper, discard = 'both'")
match_cases[[6]] <- run_match("lalonde_logit_only", lal, lps, lt, TRUE, "all", "none", 0.2,
                              "logit distance only")
match_cases[[7]] <- run_match("lalonde_discard_control", lal, lps, lt, TRUE, "pooled", "control", 0.1,
                              "SAS's default region with a MATCH statement (REGION=TREATED, no extension) ~ discard = 'control'")
rot$id <- as.character(rot$pid)
match_cases[[8]] <- run_match("rotterdam_sas", rot, ps, tr, TRUE, "pooled", "both", 0.2,
                              "rotterdam chemo: SAS-like, caliper 0.2")
match_cases[[9]] <- run_match("rotterdam_matchit", rot, ps, tr, FALSE, "all", "none", 0.1,
                              "rotterdam chemo: MatchIt defaults, caliper 0.1")

# ------------------------------------------------- 6. matched data: stratified Cox, bootstrap of sets
mr <- matchit(chemo ~ age, data = rot, distance = ps * S, caliper = 0.1, std.caliper = TRUE, m.order = "largest")
md <- match.data(mr)
md$subclass <- as.integer(as.character(md$subclass))
add("matched_cluster", coxph(Surv(rtime, recur) ~ chemo, data = md, weights = weights, cluster = subclass, ties = "efron"),
    "rotterdam_matched", "MatchIt vignette: weights = weights, cluster = subclass")
add("matched_strata", coxph(Surv(rtime, recur) ~ chemo + strata(subclass), data = md, ties = "efron"),
    "rotterdam_matched", "one stratum per matched pair")
add("matched_strata_breslow", coxph(Surv(rtime, recur) ~ chemo + strata(subclass), data = md, ties = "breslow"),
    "rotterdam_matched", "one stratum per matched pair, Breslow")
matched <- list(pid = md$pid, subclass = md$subclass, weights = nums(md$weights))

set.seed(20240611)
n_sets <- length(unique(md$subclass))
sets <- sort(unique(md$subclass))
n_boot <- 60
draws <- matrix(0L, n_boot, n_sets)
boot_hr <- numeric(n_boot)
for (b in seq_len(n_boot)) {
  pick_sets <- sample(n_sets, n_sets, replace = TRUE)
  draws[b, ] <- pick_sets
  rows <- unlist(lapply(sets[pick_sets], function(s) which(md$subclass == s)))
  bd <- md[rows, ]
  boot_hr[b] <- exp(unname(coef(coxph(Surv(rtime, recur) ~ chemo, data = bd, weights = weights, ties = "efron"))))
}
f_full <- coxph(Surv(rtime, recur) ~ chemo, data = md, weights = weights, cluster = subclass, ties = "efron")
bootstrap <- list(n_sets = n_sets, sets = sets, n_boot = n_boot, seed = 20240611,
                  draws = lapply(seq_len(n_boot), function(b) draws[b, ]),   # 1-based positions in `sets`
                  hr = nums(boot_hr), hr_full = num(exp(unname(coef(f_full)))),
                  robust_se = num(sqrt(f_full$var[1, 1])),
                  percentile = nums(quantile(boot_hr, c(0.025, 0.975), type = 7)),
                  sd_log_hr = num(sd(log(boot_hr))))

out <- list(meta = list(r = R.version.string, survival = format(packageVersion("survival")),
                        MatchIt = format(packageVersion("MatchIt")),
                        note = "tests/reference/causal_reference.R; reals as sprintf('%.17g') strings"),
            weights = weights_out, cox = cox, km = list(lung = lung_km, rotterdam = rot_km), balance = balance,
            matching = match_cases, matched = matched, bootstrap = bootstrap)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = FALSE, null = "null"),
           "tests/reference/r_values/causal.json")
cat("written tests/reference/r_values/causal.json:", length(cox), "Cox models,", length(match_cases), "matchings,",
    n_boot, "bootstrap resamples\n")
