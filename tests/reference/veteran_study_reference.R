# R reference for the worked example study `veteran` (data/studies/veteran/patients.csv, written by
# data/studies/veteran/convert_veteran.R from survival::veteran): what the book's cohorts, survival and
# subgroups chapters compute for it.  Writes tests/reference/r_values/veteran_study.json.
# Run from the repository root (make r-reference).  Needs r-base-core, r-cran-survival, r-cran-jsonlite.
#
# Conventions as in the book: arm HR = test vs standard (Efron ties, Wald CI and p); log-rank = survdiff;
# medians from survfit (log CI); Karnofsky and age enter the Cox models through the spec's cut-points
# (karno >= 70 vs < 70, age >= 60 vs < 60, right-open like cut(right = FALSE)), diagtime as a number,
# cell type with squamous as reference; Table 1: chisq.test (no correction; all expected counts >= 5) for cell
# type, Yates-corrected chisq.test for prior therapy (2x2), kruskal.test (= asymptotic Mann-Whitney) for
# continuous variables; Table 1 counts, percentages and quartiles (quantile type 7); RMST up to tau = 365 days
# (survRM2's formulas).  data/studies/veteran/published.yaml, the example's published numbers "of our own
# making", holds these values as a paper would print them (tests/test_claims_data.py keeps the two in step).
suppressPackageStartupMessages({library(survival); library(jsonlite)})
d <- read.csv("data/studies/veteran/patients.csv", stringsAsFactors = FALSE)
d$test <- as.numeric(d$arm == "test")
d$celltype <- factor(d$celltype, levels = c("squamous", "smallcell", "adeno", "large"))
d$karno70 <- factor(ifelse(d$karno >= 70, ">=70", "<70"), levels = c("<70", ">=70"))
d$age60 <- factor(ifelse(d$age >= 60, ">=60", "<60"), levels = c("<60", ">=60"))
d$prior <- factor(d$prior, levels = c("no", "yes"))
S <- Surv(d$os_days, d$os_event)

coef_rows <- function(fit) {
  s <- summary(fit)
  lapply(seq_len(nrow(s$coefficients)), function(i) list(
    term = rownames(s$coefficients)[i], hr = unname(s$conf.int[i, 1]), lower = unname(s$conf.int[i, 3]),
    upper = unname(s$conf.int[i, 4]), p_value = unname(s$coefficients[i, 5])))
}

lr <- survdiff(S ~ arm, data = d)
arm_fit <- coxph(S ~ test, data = d)
km <- survfit(S ~ arm, data = d)
med <- summary(km)$table
medians <- lapply(rownames(med), function(r) list(arm = sub("arm=", "", r), n = unname(med[r, "records"]),
                  events = unname(med[r, "events"]), median = unname(med[r, "median"]),
                  lower = unname(med[r, "0.95LCL"]), upper = unname(med[r, "0.95UCL"])))

uni <- list(
  arm = coef_rows(arm_fit),
  celltype = coef_rows(coxph(S ~ celltype, data = d)),
  karno = coef_rows(coxph(S ~ karno70, data = d)),
  age = coef_rows(coxph(S ~ age60, data = d)),
  diagtime = coef_rows(coxph(S ~ diagtime, data = d)),
  prior = coef_rows(coxph(S ~ prior, data = d))
)
# entry p < 0.1 on any term of the univariable model (spec: survival.cox.entry_p, entry_rule any_term)
entry <- names(uni)[vapply(uni, function(rows) any(vapply(rows, `[[`, 0, "p_value") < 0.1), logical(1))]
multi_vars <- c(arm = "test", celltype = "celltype", karno = "karno70", age = "age60", diagtime = "diagtime",
                prior = "prior")[entry]
multi <- coxph(as.formula(paste("S ~", paste(multi_vars, collapse = " + "))), data = d)

# proportional-hazards check of the multivariable model (cox.zph, km transform, one test per variable) and,
# for the variables it rejects, the model with every coefficient split at the median event time (survSplit)
zph <- cox.zph(multi)
zph_rows <- lapply(rownames(zph$table), function(r) list(term = r, chisq = unname(zph$table[r, "chisq"]),
                   df = unname(zph$table[r, "df"]), p_value = unname(zph$table[r, "p"])))
cut <- median(d$os_days[d$os_event == 1])
# the model's own dummy columns (treatment contrasts), so that a factor:strata() term keeps its reference level
mm <- as.data.frame(model.matrix(multi))
names(mm) <- make.names(names(mm))
sp <- survSplit(Surv(os_days, os_event) ~ ., data = cbind(d[c("os_days", "os_event")], mm), cut = cut,
                episode = "tgroup")
pw <- coxph(as.formula(paste("Surv(tstart, os_days, os_event) ~ (", paste(names(mm), collapse = " + "),
                             "):strata(tgroup)")), data = sp)
pw_events <- as.list(tapply(sp$os_event, sp$tgroup, sum))

sub_rows <- list()
for (v in c("celltype", "karno70", "age60", "prior")) {
  x <- d[[v]]
  p_int <- anova(coxph(S ~ test + x, data = d), coxph(S ~ test * x, data = d))[["Pr(>|Chi|)"]][2]
  for (lev in levels(x)) {
    ok <- x == lev
    s <- summary(coxph(Surv(os_days, os_event) ~ test, data = d[ok, ]))
    sub_rows[[length(sub_rows) + 1]] <- list(variable = v, level = lev, hr = unname(s$conf.int[1, 1]),
      lower = unname(s$conf.int[1, 3]), upper = unname(s$conf.int[1, 4]), p_value = unname(s$coefficients[1, 5]),
      p_interaction = p_int)
  }
}

table1 <- list(
  celltype = chisq.test(table(d$celltype, d$arm), correct = FALSE)$p.value,
  prior = chisq.test(table(d$prior, d$arm))$p.value,
  karno = kruskal.test(karno ~ factor(arm), data = d)$p.value,
  age = kruskal.test(age ~ factor(arm), data = d)$p.value,
  diagtime = kruskal.test(diagtime ~ factor(arm), data = d)$p.value
)

# RMST up to the spec's tau (survival.rmst.tau = 365 days), per arm and test - standard: survRM2::rmst1 / rmst2
# formulas on survfit() output (survRM2 is not packaged for Debian; the same code as survival_cox_reference.R)
rmst1 <- function(time, status, tau) {
  ft <- survfit(Surv(time, status) ~ 1)
  idx <- ft$time <= tau
  wk.time <- sort(c(ft$time[idx], tau))
  areas <- diff(c(0, wk.time)) * c(1, ft$surv[idx])
  wk.var <- ifelse((ft$n.risk[idx] - ft$n.event[idx]) == 0, 0,
                   ft$n.event[idx] / (ft$n.risk[idx] * (ft$n.risk[idx] - ft$n.event[idx])))
  wk.var <- c(wk.var, 0)
  v <- sum(cumsum(rev(areas[-1]))^2 * rev(wk.var)[-1])
  list(rmst = sum(areas), se = sqrt(v), lower = sum(areas) - qnorm(0.975) * sqrt(v),
       upper = sum(areas) + qnorm(0.975) * sqrt(v))
}
tau <- 365
r_std <- rmst1(d$os_days[d$test == 0], d$os_event[d$test == 0], tau)
r_tst <- rmst1(d$os_days[d$test == 1], d$os_event[d$test == 1], tau)
r_diff <- r_tst$rmst - r_std$rmst
r_se <- sqrt(r_std$se^2 + r_tst$se^2)
rmst_out <- list(tau = tau, standard = r_std, test = r_tst,
                 difference = list(estimate = r_diff, se = r_se, lower = r_diff - qnorm(0.975) * r_se,
                                   upper = r_diff + qnorm(0.975) * r_se,
                                   p_value = 2 * pnorm(-abs(r_diff / r_se))))

# Table 1 numbers by arm: counts and column percentages of cell type and prior therapy (table()), and median
# and quartiles of the continuous variables (quantile(), R's default type 7)
counts <- list()
for (v in c("celltype", "prior")) {
  tab <- table(d[[v]], d$arm)
  counts[[v]] <- lapply(rownames(tab), function(lev) list(level = lev,
    standard = list(n = unname(tab[lev, "standard"]), pct = unname(100 * tab[lev, "standard"] / sum(tab[, "standard"]))),
    test = list(n = unname(tab[lev, "test"]), pct = unname(100 * tab[lev, "test"] / sum(tab[, "test"])))))
}
quartiles <- list()
for (v in c("karno", "age", "diagtime")) {
  quartiles[[v]] <- lapply(c(standard = "standard", test = "test"), function(a) {
    q <- quantile(d[[v]][d$arm == a], c(0.25, 0.5, 0.75))
    list(q1 = unname(q[1]), median = unname(q[2]), q3 = unname(q[3]))
  })
}

out <- list(
  R_version = R.version.string, survival = format(packageVersion("survival")),
  generated_by = "tests/reference/veteran_study_reference.R",
  n = nrow(d), events = sum(d$os_event),
  logrank = list(chisq = unname(lr$chisq), p_value = unname(1 - pchisq(lr$chisq, 1))),
  arm_hr = coef_rows(arm_fit)[[1]],
  medians = medians,
  cox_univariate = uni,
  cox_selected = as.list(entry),
  cox_multivariable = coef_rows(multi),
  cox_zph = zph_rows,
  piecewise = list(cut = cut, coefficients = coef_rows(pw), events = unname(pw_events)),
  subgroups = sub_rows,
  table1_p = table1,
  table1_counts = counts,
  table1_quartiles = quartiles,
  rmst = rmst_out
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/r_values/veteran_study.json")
cat(sprintf("written tests/reference/r_values/veteran_study.json: log-rank p = %.6g, HR (test vs standard) = %.6g\n",
            out$logrank$p_value, out$arm_hr$hr))
