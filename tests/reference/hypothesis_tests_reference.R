# Reference p-values for src/helpers/stats/hypothesis_tests.py, computed with R's stats package.
#
# Run from anywhere:  Rscript tests/reference/hypothesis_tests_reference.R
# Needs: r-base-core, r-cran-survival (for the `lung` data), r-cran-jsonlite.
# Writes tests/reference/r_values/hypothesis_tests.json
#
# Inputs:
#   (i)  real data sets shipped with R: mtcars, warpbreaks, infert, ToothGrowth, sleep, airquality,
#        esoph, survival::lung, and the examples of ?fisher.test and ?wilcox.test;
#   (ii) the categorical rows of Table 1 of seed paper 000 (primary cohort: HAIT n = 51 vs HAIT-M-P
#        n = 50; PSM cohort: 24 vs 24), as published counts, levels x groups.
# Every real number is written as a "%.17g" string so that it round-trips exactly into a Python float.

suppressPackageStartupMessages({
  library(jsonlite)
  library(survival)
})

here <- function() {  # the folder of this script (Rscript --file=...), else the working directory
  f <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
}
source(file.path(here(), "reference_dirs.R"))  # out_dir, data_dir

num <- function(x) ifelse(is.na(x), NA_character_, sprintf("%.17g", x))
tab_rows <- function(t) lapply(seq_len(nrow(t)), function(i) as.numeric(t[i, ]))

records <- list()
add <- function(rec) records[[length(records) + 1L]] <<- rec

# ---- categorical ---------------------------------------------------------------------------------
add_table <- function(id, source, t, fisher = TRUE) {
  t <- as.matrix(t)
  storage.mode(t) <- "double"
  wy <- NULL; wn <- NULL
  cy <- withCallingHandlers(chisq.test(t), warning = function(w) { wy <<- conditionMessage(w); invokeRestart("muffleWarning") })
  cn <- withCallingHandlers(chisq.test(t, correct = FALSE), warning = function(w) { wn <<- conditionMessage(w); invokeRestart("muffleWarning") })
  e <- outer(rowSums(t), colSums(t)) / sum(t)
  rec <- list(kind = "table", id = id, source = source, table = tab_rows(t),
              chisq_yates_p = num(cy$p.value), chisq_yates_statistic = num(unname(cy$statistic)),
              chisq_yates_method = cy$method, chisq_yates_warning = wy,
              chisq_p = num(cn$p.value), chisq_statistic = num(unname(cn$statistic)),
              chisq_method = cn$method, min_expected = num(min(e)))
  if (fisher) {
    ft <- tryCatch(fisher.test(t), error = function(err) err)
    if (inherits(ft, "error")) rec$fisher_error <- conditionMessage(ft) else rec$fisher_p <- num(ft$p.value)
  }
  add(rec)
}

mt <- mtcars
add_table("mtcars_am_vs", "table(mtcars$am, mtcars$vs)", table(mt$am, mt$vs))
add_table("mtcars_am_cyl", "table(mtcars$am, mtcars$cyl)", table(mt$am, mt$cyl))
add_table("mtcars_gear_cyl", "table(mtcars$gear, mtcars$cyl)", table(mt$gear, mt$cyl))
add_table("mtcars_am_gear", "table(mtcars$am, mtcars$gear)", table(mt$am, mt$gear))
add_table("mtcars_carb_am", "table(mtcars$carb, mtcars$am)", table(mt$carb, mt$am))
add_table("lung_sex_ecog", "table(lung$sex, lung$ph.ecog)", table(lung$sex, lung$ph.ecog))
add_table("lung_sex_status", "table(lung$sex, lung$status)", table(lung$sex, lung$status))
add_table("warpbreaks_wool_tension", "table(warpbreaks$wool, warpbreaks$tension)",
          table(warpbreaks$wool, warpbreaks$tension))
add_table("infert_education_case", "table(infert$education, infert$case)", table(infert$education, infert$case))
add_table("infert_spontaneous_case", "table(infert$spontaneous, infert$case)", table(infert$spontaneous, infert$case))
add_table("infert_induced_case", "table(infert$induced, infert$case)", table(infert$induced, infert$case))
add_table("esoph_alcgp_tobgp_cases", "xtabs(ncases ~ alcgp + tobgp, esoph)  (chi-square only)",
          xtabs(ncases ~ alcgp + tobgp, esoph), fisher = FALSE)
add_table("fisher_help_TeaTasting", "?fisher.test: TeaTasting", matrix(c(3, 1, 1, 3), nrow = 2))
add_table("fisher_help_Convictions", "?fisher.test: Convictions", matrix(c(2, 10, 15, 3), nrow = 2))
add_table("fisher_help_Job", "?fisher.test: Job satisfaction (4 x 4, n = 96)",
          matrix(c(1, 2, 1, 0, 3, 3, 6, 1, 10, 10, 14, 9, 6, 7, 12, 11), 4, 4))
add_table("edge_zero_row_2x2", "a level nobody has (chisq.test gives NaN)", matrix(c(24, 0, 24, 0), 2))
add_table("edge_zero_row_3x2", "a 3 x 2 table with an empty level", matrix(c(5, 0, 7, 9, 0, 2), 3))
add_table("edge_yates_zero", "a cell equal to its expectation: YATES = 0", matrix(c(5, 5, 5, 5), 2))
add_table("edge_one_row", "a 1 x 2 table: chisq.test runs a goodness-of-fit test", matrix(c(24, 24), 1), fisher = FALSE)
add_table("edge_one_row_unequal", "a 1 x 2 table, unequal", matrix(c(20, 31), 1), fisher = FALSE)

# Table 4 of seed 000: aspartate aminotransferase increased, any grade, 41 of 51 (HAIT) vs 47 of 50 (HAIT-M-P);
# published p = 0.072, which is Fisher's p, although every expected count is at least 5 (the policy of the paper's
# other 45 rate comparisons then takes Yates' chi-square)
add_table("seed000_table4_ast_any_grade", "seed 000 Table 4, AST increased, any grade; published p = 0.072",
          cbind(c(41, 10), c(47, 3)))

# Table 1 of seed 000 (levels x groups; columns HAIT, HAIT-M-P), published counts and p-values.
t1 <- list(
  list("sex", c(47, 4), c(44, 6), "0.714", c(22, 2), c(21, 3), "1.000"),
  list("ALT", c(39, 12), c(36, 14), "0.775", c(20, 4), c(18, 6), "0.722"),
  list("AST", c(38, 13), c(33, 17), "0.473", c(19, 5), c(20, 4), "1.000"),
  list("ALB", c(1, 50), c(2, 48), "0.986", c(1, 23), c(0, 24), "1.000"),
  list("TBil", c(44, 7), c(43, 7), "1.000", c(21, 3), c(23, 1), "0.602"),
  list("HBsAg", c(8, 43), c(7, 43), "1.000", c(4, 20), c(4, 20), "1.000"),
  list("anti_HCV", c(49, 2), c(49, 1), "1.000", c(23, 1), c(23, 1), "1.000"),
  list("AFP", c(38, 13), c(30, 20), "0.179", c(16, 8), c(15, 9), "1.000"),
  list("cirrhosis", c(18, 33), c(22, 28), "0.490", c(13, 11), c(11, 13), "0.773"),
  list("child_pugh", c(51, 0), c(46, 4), "0.121", c(24, 0), c(24, 0), "1.000"),
  list("tumor_size", c(47, 4), c(42, 8), "0.337", c(21, 3), c(21, 3), "1.000"),
  list("tumor_number", c(2, 49), c(0, 50), "0.484", c(0, 24), c(0, 24), "1.000"),
  list("PVTT", c(48, 3), c(44, 6), "0.466", c(23, 1), c(21, 3), "0.602"),
  list("HAIT_type", c(4, 42, 5), c(17, 20, 13), "<0.001", c(4, 16, 4), c(4, 16, 4), "1.000")
)
for (row in t1) {
  prim <- cbind(row[[2]], row[[3]])
  psm <- cbind(row[[5]], row[[6]])
  add_table(paste0("seed000_table1_primary_", row[[1]]),
            sprintf("seed 000 Table 1, primary cohort, %s; published p = %s", row[[1]], row[[4]]), prim)
  add_table(paste0("seed000_table1_psm_", row[[1]]),
            sprintf("seed 000 Table 1, PSM cohort, %s (as printed, empty levels kept); published p = %s", row[[1]], row[[7]]), psm)
  psm_drop <- psm[rowSums(psm) > 0, , drop = FALSE]
  if (nrow(psm_drop) < nrow(psm)) {
    add_table(paste0("seed000_table1_psm_", row[[1]], "_droplevels"),
              sprintf("seed 000 Table 1, PSM cohort, %s, empty levels dropped; published p = %s", row[[1]], row[[7]]),
              psm_drop, fisher = nrow(psm_drop) >= 2)
  }
}

# ---- continuous -----------------------------------------------------------------------------------
add_samples <- function(id, source, x, y) {
  kt <- kruskal.test(list(x, y))
  w_def_warn <- NULL
  w_def <- withCallingHandlers(wilcox.test(x, y), warning = function(w) { w_def_warn <<- conditionMessage(w); invokeRestart("muffleWarning") })
  w_nc <- suppressWarnings(wilcox.test(x, y, correct = FALSE, exact = FALSE))
  w_cc_approx <- suppressWarnings(wilcox.test(x, y, exact = FALSE))
  tt <- t.test(x, y, var.equal = TRUE)
  tw <- t.test(x, y)
  ow <- oneway.test(v ~ g, data = data.frame(v = c(x, y), g = rep(c("x", "y"), c(length(x), length(y)))),
                    var.equal = TRUE)
  xs <- x[!is.na(x)]; ys <- y[!is.na(y)]
  add(list(kind = "samples", id = id, source = source,
           x = num(x), y = num(y),
           has_ties = length(unique(c(xs, ys))) < length(c(xs, ys)),
           kruskal_p = num(kt$p.value), kruskal_statistic = num(unname(kt$statistic)),
           wilcox_default_p = num(w_def$p.value), wilcox_default_method = w_def$method,
           wilcox_default_warning = w_def_warn,
           wilcox_nocorrect_approx_p = num(w_nc$p.value),
           wilcox_correct_approx_p = num(w_cc_approx$p.value),
           t_student_p = num(tt$p.value), t_student_statistic = num(unname(tt$statistic)),
           t_welch_p = num(tw$p.value), t_welch_statistic = num(unname(tw$statistic)),
           t_welch_df = num(unname(tw$parameter)),
           oneway_equal_var_p = num(ow$p.value),
           mean_x = num(mean(xs)), sd_x = num(sd(xs)), n_x = length(xs),
           mean_y = num(mean(ys)), sd_y = num(sd(ys)), n_y = length(ys)))
}

add_samples("mtcars_mpg_by_am", "mtcars$mpg, am = 0 vs 1", mt$mpg[mt$am == 0], mt$mpg[mt$am == 1])
add_samples("mtcars_wt_by_am", "mtcars$wt, am = 0 vs 1", mt$wt[mt$am == 0], mt$wt[mt$am == 1])
add_samples("mtcars_qsec_by_vs", "mtcars$qsec, vs = 0 vs 1", mt$qsec[mt$vs == 0], mt$qsec[mt$vs == 1])
add_samples("mtcars_hp_by_am", "mtcars$hp, am = 0 vs 1", mt$hp[mt$am == 0], mt$hp[mt$am == 1])
add_samples("lung_age_by_sex", "lung$age, sex 1 vs 2", lung$age[lung$sex == 1], lung$age[lung$sex == 2])
add_samples("lung_wtloss_by_sex", "lung$wt.loss (with NA), sex 1 vs 2", lung$wt.loss[lung$sex == 1], lung$wt.loss[lung$sex == 2])
add_samples("lung_karno_by_sex", "lung$ph.karno (heavy ties, NA), sex 1 vs 2", lung$ph.karno[lung$sex == 1], lung$ph.karno[lung$sex == 2])
add_samples("lung_time_by_status", "lung$time, status 1 vs 2", lung$time[lung$status == 1], lung$time[lung$status == 2])
add_samples("warpbreaks_breaks_by_wool", "warpbreaks$breaks, wool A vs B",
            warpbreaks$breaks[warpbreaks$wool == "A"], warpbreaks$breaks[warpbreaks$wool == "B"])
add_samples("infert_age_by_case", "infert$age, case 0 vs 1", infert$age[infert$case == 0], infert$age[infert$case == 1])
add_samples("toothgrowth_len_by_supp", "ToothGrowth$len, OJ vs VC",
            ToothGrowth$len[ToothGrowth$supp == "OJ"], ToothGrowth$len[ToothGrowth$supp == "VC"])
add_samples("sleep_extra_by_group", "sleep$extra, group 1 vs 2", sleep$extra[sleep$group == 1], sleep$extra[sleep$group == 2])
add_samples("airquality_ozone_may_aug", "airquality$Ozone (with NA), Month 5 vs 8",
            airquality$Ozone[airquality$Month == 5], airquality$Ozone[airquality$Month == 8])
add_samples("wilcox_help_permeability", "?wilcox.test: permeability constants of the human chorioamnion (no ties, exact)",
            c(0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46),
            c(1.15, 0.88, 0.90, 0.74, 1.21))
add_samples("faithful_eruptions_first_last", "faithful$eruptions, rows 1-20 vs 253-272",
            faithful$eruptions[1:20], faithful$eruptions[253:272])
add_samples("mtcars_disp_cyl4_vs_cyl8", "mtcars$disp, cyl 4 vs 8 (no ties, exact)",
            mt$disp[mt$cyl == 4], mt$disp[mt$cyl == 8])

out <- list(
  generated_by = "tests/reference/hypothesis_tests_reference.R",
  R_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  number_format = "real numbers are strings formatted with sprintf('%.17g'); NA is null",
  records = records
)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null", digits = NA),
           file.path(out_dir, "hypothesis_tests.json"))

# A readable summary on stdout.
cat(R.version.string, "\n")
for (r in records) {
  if (r$kind == "table") {
    cat(sprintf("%-45s chisq(Yates) p = %-22s chisq p = %-22s fisher p = %s\n", r$id, r$chisq_yates_p,
                r$chisq_p, if (is.null(r$fisher_p)) "-" else r$fisher_p))
  } else {
    cat(sprintf("%-45s kruskal p = %-22s wilcox p = %-22s t p = %-22s welch p = %s\n", r$id, r$kruskal_p,
                r$wilcox_default_p, r$t_student_p, r$t_welch_p))
  }
}
cat("Reference values written to", file.path(out_dir, "hypothesis_tests.json"), "\n")
