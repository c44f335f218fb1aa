# Reference values for src/helpers/stats/matching.py, computed with MatchIt (the reference implementation).
#
# Run from anywhere:  Rscript tests/reference/matchit_reference.R
# Needs: r-base-core, r-cran-matchit, r-cran-jsonlite (Debian packages).
#
# Writes
#   tests/reference/data/lalonde.csv              MatchIt's `lalonde` data with a row id column `id`
#   tests/reference/r_values/matchit_lalonde.json
#   tests/reference/r_values/matchit_ties.json
#
# Every real number is written as a "%.17g" string, so that it round-trips exactly into a Python float
# (jsonlite itself prints at most 15 significant digits).
#
# Data sets
#   lalonde  the propensity model is refitted on the CSV as read back from disk, so R and Python start
#            from bit-identical inputs.
#   hand     16 hand-made units whose distances are multiples of 1/32, so equal gaps are exactly
#            equal: pins down the tie rules (which neighbour wins an equal gap, order of treated units
#            with equal scores, a gap exactly equal to the caliper).
#   rnd      300 random units, distances on a 1/32 grid (heavy ties).
#   cont     200 random units, continuous distances.
#
# ---------------------------------------------------------------------------------------------------
# TWO BUGS IN THE INSTALLED MatchIt AND HOW THIS SCRIPT WORKS AROUND THEM
# ---------------------------------------------------------------------------------------------------
# 1. MatchIt 4.5.1-4.5.3 (Debian's r-cran-matchit 4.5.1 included) compute the gaps |d_t - d_c| in
#    nn_matchC_vec() with the integer abs() (kosukeimai/MatchIt#163, "Caliper not working as intended
#    on versions 4.5.1 - 4.5.3"). On the probability scale every gap is < 1 and truncates to 0: the
#    caliper is never applied and the lower-score neighbour always wins. Later versions use std::abs.
#    Workaround: every matching below passes the distance multiplied by S = 2^30. Multiplying by a
#    power of two is exact in binary floating point: it preserves the sort order and every tie, and
#    scales sd(distance), hence the standardised caliper, exactly. The truncated gaps then differ from
#    the true ones by less than one unit, i.e. by less than 2^-30 on the probability scale.
#    Caliper widths are divided by S again before being written.
# 2. In rounds after the first (ratio > 1), nn_matchC_vec() skips controls "already matched to this
#    treated unit" by comparing 0-based row numbers with the 1-based ones stored in the match matrix.
#    With replace = TRUE the same control is therefore matched again to the same treated unit; with
#    replace = FALSE the control on the row just after a previous match is wrongly skipped. (Later
#    MatchIt: "Fixed a bug when using method = "nearest" with replace = TRUE and ratio greater than 1".)
#    Workaround: for ratio > 1 the rounds are run one at a time with ratio = 1, where that check is
#    never reached, exactly as the algorithm defines them:
#      replace = FALSE: round r is ratio-1 matching of all treated units against the controls not yet
#        used, in the same m.order, with the absolute caliper width of the full data
#        (std.caliper = FALSE). A treated unit that found no control in an earlier round cannot find
#        one later (the pool only shrinks), so keeping it in the round changes nothing.
#      replace = TRUE: treated units do not interact; for each treated unit, round r matches it alone
#        against all controls except its own earlier matches.
#    Two far-away dummy controls (distance -0.25 S and -0.5 S, never within any caliper used here) are
#    added to these sub-problems when a caliper is used, only so that MatchIt's check "a caliper
#    cannot be used on a distance with fewer than three distinct values" cannot fire on a tiny
#    sub-problem. Weights, subclasses and sample sizes are then computed by MatchIt's own internal
#    functions (weights.matrix, mm2subclass, nn) from the assembled match matrix.
#    The direct ratio-k call is also made and the JSON records whether its pairs differ.
# The literal distance = "glm" call on lalonde is stored too ("installed_matchit_literal") to document
# bug 1; the tests do not compare against it.

suppressPackageStartupMessages({
  library(MatchIt)
  library(jsonlite)
})

here <- function() {  # the folder of this script (Rscript --file=...), else the working directory
  f <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
}
source(file.path(here(), "reference_dirs.R"))  # out_dir, data_dir

S <- 2^30
num <- function(x) ifelse(is.na(x), NA_character_, sprintf("%.17g", x))

header <- list(
  generated_by = "tests/reference/matchit_reference.R",
  R_version = R.version.string,
  MatchIt_version = as.character(packageVersion("MatchIt")),
  number_format = "real numbers are strings formatted with sprintf('%.17g')",
  distance_scale = num(S),
  note = paste("Matchings use distance * 2^30 to avoid MatchIt#163 (integer abs) and, for ratio > 1,",
               "rounds of ratio-1 matching to avoid the 0/1-based index bug; see the script header.")
)

# ---- helpers --------------------------------------------------------------------------------------
# `treat`: named 0/1 vector (names = ids, data order); `mm`: character matrix, rows = treated ids in
# data order, one column per round, control ids or NA.
describe <- function(name, call_text, derivation, treat, mm, caliper_width, replace) {
  nmm <- MatchIt:::charmm2nummm(mm, treat)
  w <- MatchIt:::weights.matrix(mm, treat)
  sc <- if (replace) NULL else MatchIt:::mm2subclass(nmm, treat)
  nn <- MatchIt:::nn(treat, w)
  treated_ids <- rownames(mm)
  pairs <- do.call(rbind, lapply(seq_len(ncol(mm)), function(j) {
    data.frame(treated_id = treated_ids, control_id = mm[, j], slot = j, stringsAsFactors = FALSE)
  }))
  pairs <- pairs[!is.na(pairs$control_id), , drop = FALSE]
  pairs <- pairs[order(match(pairs$treated_id, treated_ids), pairs$slot), , drop = FALSE]
  rownames(pairs) <- NULL
  list(
    name = name,
    call = call_text,
    derivation = derivation,
    caliper = if (is.null(caliper_width)) NULL else num(caliper_width),
    n_match_columns = ncol(mm),
    pairs = pairs,
    unmatched_treated = I(treated_ids[is.na(mm[, 1])]),
    weights = data.frame(id = names(w), weight = num(unname(w)), stringsAsFactors = FALSE),
    subclass = if (is.null(sc)) NULL else
      data.frame(id = names(sc), subclass = as.character(sc), stringsAsFactors = FALSE),
    nn = list(rows = I(rownames(nn)),
              Control = I(num(unname(nn[, "Control"]))),
              Treated = I(num(unname(nn[, "Treated"]))))
  )
}

# One ratio-1 MatchIt run on a sub-problem; returns the named vector treated id -> control id (or NA).
ratio1 <- function(ids, treat, dist_scaled, cal_scaled, m_order) {
  sub <- data.frame(treat = treat, x = seq_along(ids), row.names = ids)
  d <- dist_scaled
  if (!is.null(cal_scaled)) {  # dummy controls, see the header
    sub <- rbind(sub, data.frame(treat = c(0, 0), x = c(0, 0), row.names = c(".dummy1", ".dummy2")))
    d <- c(d, -0.25 * S, -0.5 * S)
  }
  if (sum(sub$treat == 0) == 0) return(setNames(rep(NA_character_, sum(treat == 1)), ids[treat == 1]))
  m <- tryCatch(suppressWarnings(
         if (is.null(cal_scaled))
           matchit(treat ~ x, data = sub, method = "nearest", distance = d, ratio = 1,
                   replace = FALSE, m.order = m_order)
         else
           matchit(treat ~ x, data = sub, method = "nearest", distance = d, ratio = 1,
                   caliper = cal_scaled, std.caliper = FALSE, replace = FALSE, m.order = m_order)),
         error = function(e) if (grepl("No units were matched", conditionMessage(e))) NULL else stop(e))
  if (is.null(m)) return(setNames(rep(NA_character_, sum(treat == 1)), ids[treat == 1]))
  out <- setNames(m$match.matrix[, 1], rownames(m$match.matrix))
  stopifnot(!any(out %in% c(".dummy1", ".dummy2")))
  out
}

# Full matching for one configuration. `dat` has columns id, treat; `dist` is on the original scale.
run_config <- function(name, dat, dist, ratio, caliper, replace, m_order, formula_rhs = "x", fit_data = NULL) {
  ids <- dat$id
  treat <- setNames(as.integer(dat$treat), ids)
  d_scaled <- dist * S
  cal_scaled <- if (is.null(caliper)) NULL else caliper * sd(d_scaled)  # std.caliper = TRUE
  call_direct <- sprintf(
    'matchit(treat ~ %s, data, method = "nearest", distance = distance * 2^30, ratio = %d%s, replace = %s, m.order = "%s")',
    formula_rhs, as.integer(ratio),
    if (is.null(caliper)) "" else sprintf(", caliper = %s, std.caliper = TRUE", caliper), replace, m_order)
  fd <- if (is.null(fit_data)) data.frame(treat = dat$treat, x = seq_along(ids), row.names = ids) else fit_data
  direct <- tryCatch(suppressWarnings(
    if (is.null(caliper))
      matchit(as.formula(paste("treat ~", formula_rhs)), data = fd, method = "nearest",
              distance = d_scaled, ratio = ratio, replace = replace, m.order = m_order)
    else
      matchit(as.formula(paste("treat ~", formula_rhs)), data = fd, method = "nearest",
              distance = d_scaled, ratio = ratio, caliper = caliper, std.caliper = TRUE,
              replace = replace, m.order = m_order)),
    error = function(e) e)
  if (inherits(direct, "error")) {
    return(list(name = name, call = call_direct, error = conditionMessage(direct)))
  }
  if (!is.null(caliper)) {
    stopifnot(isTRUE(all.equal(unname(direct$caliper), cal_scaled, tolerance = 0)))
  }
  if (ratio == 1) {
    mm <- direct$match.matrix
    derivation <- "direct ratio-1 call"
  } else {
    treated_ids <- ids[treat == 1]
    mm <- matrix(NA_character_, length(treated_ids), ratio, dimnames = list(treated_ids, NULL))
    if (!replace) {
      avail <- rep(TRUE, length(ids))
      for (r in seq_len(ratio)) {
        keep <- treat == 1 | avail
        got <- ratio1(ids[keep], treat[keep], d_scaled[keep], cal_scaled, m_order)
        mm[names(got), r] <- got
        avail[ids %in% got] <- FALSE
      }
      derivation <- "rounds of ratio-1 calls on the controls not yet used"
    } else {
      for (tid in treated_ids) {
        used <- character(0)
        for (r in seq_len(ratio)) {
          keep <- ids == tid | (treat == 0 & !(ids %in% used))
          got <- ratio1(ids[keep], treat[keep], d_scaled[keep], cal_scaled, "data")
          if (is.na(got[[tid]])) break
          mm[tid, r] <- got[[tid]]
          used <- c(used, got[[tid]])
        }
      }
      derivation <- "per treated unit, rounds of ratio-1 calls excluding its earlier matches"
    }
  }
  res <- describe(name, call_direct, derivation, treat, mm,
                  if (is.null(caliper)) NULL else cal_scaled / S, replace)
  if (ratio > 1) {
    dm <- direct$match.matrix
    res$direct_call_pairs_differ <- !identical(unname(dm[rownames(mm), , drop = FALSE]), unname(mm))
  }
  res$ratio <- as.integer(ratio)
  res["caliper_arg"] <- list(caliper)  # keeps NULL (no caliper) as a JSON null
  res$replace <- replace
  res$m_order <- m_order
  res
}

# --------------------------------------------------------------------------------------------------
# 1. lalonde (shipped with MatchIt)
# --------------------------------------------------------------------------------------------------
data("lalonde", package = "MatchIt")
lal <- cbind(id = rownames(lalonde), lalonde, stringsAsFactors = FALSE)
csv_path <- file.path(data_dir, "lalonde.csv")
write.csv(lal, csv_path, row.names = FALSE)

lal2 <- read.csv(csv_path, stringsAsFactors = FALSE)
rownames(lal2) <- lal2$id
lal2$race <- factor(lal2$race)  # levels black, hispan, white: "black" is the reference level
stopifnot(isTRUE(all.equal(lal2[, names(lalonde)], lalonde, check.attributes = FALSE)))

f <- "treat ~ age + educ + race + married + nodegree + re74 + re75"
rhs <- "age + educ + race + married + nodegree + re74 + re75"
m_literal <- matchit(as.formula(f), data = lal2, method = "nearest", distance = "glm",
                     ratio = 1, caliper = 0.1, std.caliper = TRUE, replace = FALSE)
ps <- m_literal$distance
glm_fit <- glm(as.formula(f), data = lal2, family = binomial())
stopifnot(isTRUE(all.equal(unname(fitted(glm_fit)), unname(ps), tolerance = 1e-12)))

lal_cases <- list(
  list("a_ratio1_cal0.1", 1, 0.1, FALSE, "largest"),
  list("b_ratio2_cal0.1", 2, 0.1, FALSE, "largest"),
  list("c_ratio1_cal0.2", 1, 0.2, FALSE, "largest"),
  list("d_replace_cal0.1", 1, 0.1, TRUE, "largest"),
  list("e_nocaliper", 1, NULL, FALSE, "largest"),
  list("f_smallest_cal0.1", 1, 0.1, FALSE, "smallest"),
  list("g_replace_ratio2_cal0.1", 2, 0.1, TRUE, "largest"),
  list("h_data_order_cal0.1", 1, 0.1, FALSE, "data"),
  list("i_ratio3_nocaliper", 3, NULL, FALSE, "largest"),
  list("j_ratio2_cal0.05", 2, 0.05, FALSE, "largest"),
  list("k_replace_ratio3_cal0.05", 3, 0.05, TRUE, "largest"),
  list("l_ratio2_smallest_cal0.2", 2, 0.2, FALSE, "smallest")
)
lal_results <- lapply(lal_cases, function(cs) {
  run_config(cs[[1]], lal2, unname(ps), cs[[2]], cs[[3]], cs[[4]], cs[[5]],
             formula_rhs = rhs, fit_data = lal2)
})

treat_lal <- setNames(as.integer(lal2$treat), lal2$id)
literal <- describe("installed_matchit_literal",
  sprintf('matchit(%s, data = lal2, method = "nearest", distance = "glm", ratio = 1, caliper = 0.1, std.caliper = TRUE, replace = FALSE)', f),
  sprintf("MatchIt %s as installed; affected by kosukeimai/MatchIt#163", packageVersion("MatchIt")),
  treat_lal, m_literal$match.matrix, unname(m_literal$caliper), FALSE)

lalonde_out <- c(header, list(
  data = "tests/reference/data/lalonde.csv",
  formula = f,
  covariates = I(c("age", "educ", "race", "married", "nodegree", "re74", "re75")),
  sd_distance_all_units = num(sd(ps)),
  distance = data.frame(id = names(ps), distance = num(unname(ps)), stringsAsFactors = FALSE),
  glm_coefficients = as.list(setNames(num(coef(glm_fit)), names(coef(glm_fit)))),
  cases = lal_results,
  installed_matchit_literal = literal
))
writeLines(toJSON(lalonde_out, auto_unbox = TRUE, pretty = TRUE, dataframe = "columns",
                  null = "null", na = "null"),
           file.path(out_dir, "matchit_lalonde.json"))

# --------------------------------------------------------------------------------------------------
# 2. Tied and synthetic distances (user-supplied distance vector)
# --------------------------------------------------------------------------------------------------
hand <- data.frame(
  id    = sprintf("h%02d", 1:16),
  treat = c(0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0),
  d     = c(8, 12, 16, 16, 16, 16, 16, 24, 28, 30, 4, 20, 2, 26, 28, 31) / 32,
  stringsAsFactors = FALSE
)

set.seed(20240611)
n <- 300
rnd <- data.frame(id = sprintf("u%03d", seq_len(n)), treat = rbinom(n, 1, 0.35),
                  d = round(runif(n) * 32) / 32, stringsAsFactors = FALSE)

set.seed(7)
n <- 200
cont <- data.frame(id = sprintf("c%03d", seq_len(n)), treat = rbinom(n, 1, 0.45),
                   d = plogis(rnorm(n, sd = 1.5)), stringsAsFactors = FALSE)

tie_sets <- list(hand = hand, rnd = rnd, cont = cont)
configs <- expand.grid(ratio = c(1, 2, 3), caliper = c(NA, 0.1, 0.25),
                       replace = c(FALSE, TRUE), m.order = c("largest", "smallest", "data"),
                       stringsAsFactors = FALSE)

tie_out <- list()
for (set_name in names(tie_sets)) {
  dat <- tie_sets[[set_name]]
  set_cases <- list()
  for (k in seq_len(nrow(configs))) {
    cf <- configs[k, ]
    nm <- sprintf("%s_ratio%d_cal%s_replace%s_%s", set_name, as.integer(cf$ratio),
                  ifelse(is.na(cf$caliper), "none", cf$caliper), cf$replace, cf$m.order)
    cal <- if (is.na(cf$caliper)) NULL else cf$caliper
    set_cases[[length(set_cases) + 1L]] <- run_config(nm, dat, dat$d, cf$ratio, cal, cf$replace, cf$m.order)
  }
  tie_out[[set_name]] <- list(
    units = data.frame(id = dat$id, treat = dat$treat, distance = num(dat$d), stringsAsFactors = FALSE),
    sd_distance = num(sd(dat$d)),
    cases = set_cases
  )
}
writeLines(toJSON(c(header, list(datasets = tie_out)), auto_unbox = TRUE, pretty = FALSE,
                  dataframe = "columns", null = "null", na = "null"),
           file.path(out_dir, "matchit_ties.json"))

cat("MatchIt reference values written to", out_dir, "\n")
cat(R.version.string, "| MatchIt", as.character(packageVersion("MatchIt")), "\n")
