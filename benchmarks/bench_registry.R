# R side of benchmarks/bench_registry.py: the same analysis steps of study erhcc_hait_mp with survival and
# MatchIt on the same CSV.  Usage: Rscript bench_registry.R registry.csv skip1,skip2|none
# Prints one JSON line: {step: {"seconds": elapsed, "max_mb": R heap peak (gc max used) during the step}}.
suppressPackageStartupMessages({library(survival); library(MatchIt)})
args <- commandArgs(trailingOnly = TRUE)
path <- args[1]
skip <- if (length(args) > 1) strsplit(args[2], ",")[[1]] else character(0)
st <- new.env()
out <- list()
run <- function(key, expr) {
  if (key %in% skip) return(invisible())
  invisible(gc(reset = TRUE))
  t <- system.time(eval.parent(substitute(expr)))["elapsed"]
  g <- gc()
  out[[key]] <<- list(seconds = unname(t), max_mb = sum(g[, ncol(g)]))
  message(sprintf("  R %s: %.2f s", key, t))
}
arm_ref <- "HAIT"; arm_exp <- "HAIT-M-P"
cats <- list(sex = c("male", "female"), hbsag = c("negative", "positive"), anti_hcv = c("negative", "positive"),
             cirrhosis = c("absent", "present"), child_pugh = c("A", "B"), tumor_number = c("single", "multiple"),
             pvtt = c("absent", "present"), hait_type = c("HAIC", "TACE", "TACE-HAIC"))
cuts <- list(age = list(60, c("<60", ">=60"), FALSE), alt = list(40, c("<=40", ">40"), TRUE),
             ast = list(40, c("<=40", ">40"), TRUE), alb = list(35, c("<=35", ">35"), TRUE),
             tbil = list(20.5, c("<=20.5", ">20.5"), TRUE), afp = list(400, c("<=400", ">400"), TRUE),
             tumor_size = list(5, c("<=5", ">5"), TRUE))
endpoints <- list(pfs = c("pfs_months", "pfs_event"), ihpfs = c("ihpfs_months", "ihpfs_event"),
                  ehpfs = c("ehpfs_months", "ehpfs_event"), os = c("os_months", "os_event"))
cox_refs <- list(sex = "female", hait_type = "TACE-HAIC")
candidates <- c("age", "sex", "hbsag", "afp", "cirrhosis", "child_pugh", "tumor_size", "tumor_number", "pvtt",
                "hait_type")
sub_vars <- candidates
ae_terms <- c("rash", "pruritus", "pain", "fever", "diarrhea", "fatigue", "nausea", "emesis", "decreased_appetite",
              "cough", "edema_peripheral", "alimentary_tract_hemorrhage", "hypothyroidism", "hyperthyroidism",
              "hypertension", "anemia", "leukopenia", "neutrophil_count_decreased", "platelet_count_decreased",
              "alanine_aminotransferase_increased", "aspartate_aminotransferase_increased",
              "total_bilirubin_increased", "hypoalbuminemia", "creatinine_increased")
resp_levels <- c("CR", "PR", "SD", "PD")

policy_p <- function(tab) {  # fisher_if_expected_lt5 (Yates' chi-square otherwise)
  if (any(dim(tab) < 2) || any(rowSums(tab) == 0) || any(colSums(tab) == 0)) return(NA)
  e <- outer(rowSums(tab), colSums(tab)) / sum(tab)
  if (any(e < 5)) fisher.test(tab)$p.value else suppressWarnings(chisq.test(tab, correct = TRUE)$p.value)
}
table1 <- function(d) {
  for (v in c("sex", "hbsag", "anti_hcv", "cirrhosis", "child_pugh", "tumor_number", "pvtt", "hait_type",
              "alt_cat", "ast_cat", "alb_cat", "tbil_cat", "afp_cat", "tumor_size_cat")) {
    tab <- table(d[[v]], d$arm); prop.table(tab, 2)
    suppressWarnings(chisq.test(tab, correct = TRUE))
  }
  for (v in c("age", "neutrophil", "lymphocyte", "platelet")) {
    tapply(d[[v]], d$arm, quantile, c(0.25, 0.5, 0.75))
    suppressWarnings(wilcox.test(d[[v]] ~ d$arm, correct = TRUE, exact = FALSE))
  }
}
cox_var <- function(d, v) if (v %in% names(cuts)) paste0(v, "_cat") else v
km_logrank <- function(d) {
  for (ep in endpoints) {
    f <- as.formula(paste0("Surv(", ep[1], ", ", ep[2], ") ~ arm"))
    fit <- survfit(f, data = d); quantile(fit, 0.5); summary(fit, times = c(0, 6, 12, 18, 24), extend = TRUE)
    quantile(survfit(as.formula(paste0("Surv(", ep[1], ", ", ep[2], ") ~ 1")), data = d), 0.5)
    survdiff(f, data = d)
    summary(coxph(f, data = d, ties = "efron"))
  }
}
rmst_one <- function(time, status, tau) {  # survRM2's rmst1 from survfit
  f <- survfit(Surv(time, status) ~ 1)
  keep <- f$time <= tau
  tt <- c(0, f$time[keep], tau); ss <- c(1, f$surv[keep])
  area <- diff(tt) * ss
  ev <- f$n.event[keep]; nr <- f$n.risk[keep]
  tail_area <- rev(cumsum(rev(area)))[-1]
  c(sum(area), sum(ifelse(nr - ev > 0, tail_area^2 * ev / (nr * (nr - ev)), 0)))
}
rmst_reg <- function(d, ep, terms) {
  tau <- floor(min(tapply(d[[ep[1]]], d$arm, max)))
  a <- rmst_one(d[[ep[1]]][d$arm == arm_exp], d[[ep[2]]][d$arm == arm_exp], tau)
  b <- rmst_one(d[[ep[1]]][d$arm == arm_ref], d[[ep[2]]][d$arm == arm_ref], tau)
  2 * pnorm(-abs((a[1] - b[1]) / sqrt(a[2] + b[2])))
  # pseudo() re-evaluates the survfit call: give it a literal formula on a global data frame
  .pd <<- data.frame(t = d[[ep[1]]], e = d[[ep[2]]])
  pv <- pseudo(survfit(Surv(t, e) ~ 1, data = .pd), times = tau, type = "rmst")
  X <- model.matrix(as.formula(paste("~", paste(c("arm", terms), collapse = " + "))), data = d)
  fit <- lm.fit(X, as.numeric(pv))
  bread <- chol2inv(qr.R(fit$qr)); meat <- crossprod(X * fit$residuals)
  sqrt(diag(bread %*% meat %*% bread))  # HC0
}
cox_screen <- function(d, ep) {
  surv <- paste0("Surv(", ep[1], ", ", ep[2], ")")
  selected <- character(0)
  for (v in c("arm", candidates)) {
    s <- summary(coxph(as.formula(paste(surv, "~", cox_var(d, v))), data = d, ties = "efron"))
    if (any(s$coefficients[, 5] < 0.1)) selected <- c(selected, v)
  }
  if (length(selected)) {
    fit <- coxph(as.formula(paste(surv, "~", paste(sapply(selected, cox_var, d = d), collapse = " + "))),
                 data = d, ties = "efron")
    summary(fit); cox.zph(fit)
  }
  selected
}
subgroups <- function(d, ep) {
  surv <- paste0("Surv(", ep[1], ", ", ep[2], ")")
  for (v in sub_vars) {
    col <- cox_var(d, v)
    red <- coxph(as.formula(paste(surv, "~ arm +", col)), data = d)
    full <- coxph(as.formula(paste(surv, "~ arm *", col)), data = d)
    pchisq(2 * (full$loglik[2] - red$loglik[2]), df = sum(!is.na(coef(full))) - sum(!is.na(coef(red))),
           lower.tail = FALSE)
    for (lv in levels(d[[col]])) {
      sub <- d[d[[col]] == lv, ]
      if (length(unique(sub$arm)) == 2) summary(coxph(as.formula(paste(surv, "~ arm")), data = sub))
    }
  }
}

run("load", {
  d <- read.csv(path, stringsAsFactors = FALSE)
  d$arm <- factor(d$arm, levels = c(arm_ref, arm_exp))
  for (v in names(cats)) d[[v]] <- factor(d[[v]], levels = cats[[v]])
  for (v in names(cuts)) {
    ct <- cuts[[v]]
    d[[paste0(v, "_cat")]] <- cut(d[[v]], c(-Inf, ct[[1]], Inf), labels = ct[[2]], right = ct[[3]])
  }
  for (v in names(cox_refs)) d[[v]] <- relevel(d[[v]], cox_refs[[v]])
  for (r in c("recist11_best", "mrecist_best")) d[[r]] <- factor(d[[r]], levels = resp_levels)
  st$d <- d
})
d <- st$d
run("table1", table1(d))
run("matching", {
  st$m <- matchit(arm ~ age + sex + afp_cat + cirrhosis + child_pugh + tumor_number + tumor_size_cat + pvtt +
                  hait_type, data = d, method = "nearest", distance = "glm", ratio = 1, caliper = 0.1,
                  m.order = "largest", replace = FALSE)
  st$md <- match.data(st$m)
})
run("balance", {summary(st$m, un = TRUE); table1(st$md)})
run("km_logrank", km_logrank(d))
run("followup", {
  survfit(Surv(os_months, 1 - os_event) ~ arm, data = d); quantile(survfit(Surv(os_months, 1 - os_event) ~ 1,
  data = d), 0.5); survdiff(Surv(os_months, 1 - os_event) ~ arm, data = d)})
run("cox", {st$sel <- list(pfs = cox_screen(d, endpoints$pfs), os = cox_screen(d, endpoints$os))})
run("rmst", {
  for (e in c("pfs", "os")) {
    sel <- if (is.null(st$sel)) character(0) else setdiff(st$sel[[e]], "arm")
    rmst_reg(d, endpoints[[e]], sapply(sel, cox_var, d = d))
  }
})
run("subgroups", {subgroups(d, endpoints$pfs); subgroups(d, endpoints$os)})
run("response", {
  for (r in c("recist11_best", "mrecist_best")) {
    tab <- table(d[[r]], d$arm); policy_p(tab)
    for (lv in list(c("CR", "PR"), c("CR", "PR", "SD"))) {
      k <- tapply(d[[r]] %in% lv, d$arm, sum); n <- table(d$arm)
      binom.test(k[1], n[1]); binom.test(k[2], n[2]); policy_p(rbind(k, n - k))
    }
  }
  tab <- table(d$recist11_best, d$mrecist_best); p <- tab / sum(tab)
  po <- sum(diag(p)); pe <- sum(rowSums(p) * colSums(p)); (po - pe) / (1 - pe)
})
run("safety", {
  g <- as.matrix(d[paste0("ae_", ae_terms)])
  for (j in seq_len(ncol(g))) {
    policy_p(table(factor(g[, j] > 0, c(FALSE, TRUE)), d$arm))
    policy_p(table(factor(g[, j] >= 3 & g[, j] <= 4, c(FALSE, TRUE)), d$arm))
  }
  policy_p(table(factor(rowSums(g > 0) > 0, c(FALSE, TRUE)), d$arm))
  policy_p(table(factor(rowSums(g >= 3 & g <= 4) > 0, c(FALSE, TRUE)), d$arm))
})
run("survival_matched", {
  md <- st$md; km_logrank(md)
  survfit(Surv(os_months, 1 - os_event) ~ arm, data = md)
  for (e in c("pfs", "os")) rmst_reg(md, endpoints[[e]], character(0))
})
js <- sapply(names(out), function(k) sprintf('"%s": {"seconds": %s, "max_mb": %s}', k,
             format(out[[k]]$seconds, scientific = FALSE), format(out[[k]]$max_mb, scientific = FALSE)))
cat(paste0("{", paste(js, collapse = ", "), "}\n"))
