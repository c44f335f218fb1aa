# R reference for helpers.subgroups on the committed synthetic seed-000 cohort
# (data/studies/erhcc_hait_mp/patients.csv): per-level Cox HR of the arm (Efron, Wald CI and p) and the
# likelihood-ratio interaction test anova(coxph(~ arm * v), coxph(~ arm + v)).
# Writes tests/reference/r_values/subgroups.json.  Run from the repository root (make r-reference).
suppressPackageStartupMessages({library(survival); library(jsonlite)})
d <- read.csv("data/studies/erhcc_hait_mp/patients.csv", stringsAsFactors = FALSE)
d$arm01 <- as.numeric(d$arm == "HAIT-M-P")
d$age_cat <- ifelse(d$age >= 60, ">=60", "<60")
d$afp_cat <- ifelse(d$afp <= 400, "<=400", ">400")
d$tumor_size_cat <- ifelse(d$tumor_size <= 5, "<=5", ">5")
vars <- c(sex = "sex", age = "age_cat", hbsag = "hbsag", afp = "afp_cat", cirrhosis = "cirrhosis",
          tumor_size = "tumor_size_cat", pvtt = "pvtt", hait_type = "hait_type")
out <- list()
for (ep in c("pfs", "os")) {
  tt <- d[[paste0(ep, "_months")]]; ee <- d[[paste0(ep, "_event")]]; arm01 <- d$arm01
  for (v in names(vars)) {
    x <- d[[vars[[v]]]]
    reduced <- coxph(Surv(tt, ee) ~ arm01 + factor(x))
    full <- coxph(Surv(tt, ee) ~ arm01 * factor(x))
    a <- anova(reduced, full)
    p_int <- a[["Pr(>|Chi|)"]][2]
    for (lev in sort(unique(x))) {
      ok <- x == lev
      if (length(unique(d$arm01[ok])) < 2 || sum(ee[ok & d$arm01 == 1]) == 0 || sum(ee[ok & d$arm01 == 0]) == 0) next
      f <- coxph(Surv(tt[ok], ee[ok]) ~ arm01[ok])
      s <- summary(f)
      if (!is.finite(s$conf.int[1, 4]) || s$coefficients[1, 3] > 10) next
      out[[length(out) + 1]] <- list(endpoint = ep, variable = v, level = lev, hr = unname(s$conf.int[1, 1]),
                                     lower = unname(s$conf.int[1, 3]), upper = unname(s$conf.int[1, 4]),
                                     p_value = unname(s$coefficients[1, 5]), p_interaction = p_int)
    }
  }
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "tests/reference/r_values/subgroups.json")
cat("written tests/reference/r_values/subgroups.json:", length(out), "levels\n")
