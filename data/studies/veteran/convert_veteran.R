# Convert the Veterans' Administration lung cancer trial (data set `veteran` of R's survival package) into the
# one-row-per-patient table of the worked example: data/studies/veteran/patients.csv.
#
#   Rscript data/studies/veteran/convert_veteran.R        (from anywhere; needs r-base-core r-cran-survival)
#
# The conversion only recodes; no patient is dropped and no value is changed:
#   trt 1/2            -> arm "standard" / "test"
#   celltype (factor)  -> its level names: squamous, smallcell, adeno, large
#   prior 0/10         -> "no" / "yes"
#   time (days)        -> os_days (kept in days; the spec declares survival.time_unit: days)
#   status 1/0         -> os_event (1 = died, 0 = censored)
#   karno, diagtime (months from diagnosis to randomisation), age (years): unchanged
# Patient ids VA001 ... VA137 follow the row order of the R data set.
suppressPackageStartupMessages(library(survival))

here <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
})

v <- survival::veteran
stopifnot(nrow(v) == 137, all(v$trt %in% c(1, 2)), all(v$prior %in% c(0, 10)), all(v$status %in% c(0, 1)))
out <- data.frame(
  patient_id = sprintf("VA%03d", seq_len(nrow(v))),
  arm = ifelse(v$trt == 1, "standard", "test"),
  celltype = as.character(v$celltype),
  karno = v$karno,
  diagtime = v$diagtime,
  age = v$age,
  prior = ifelse(v$prior == 10, "yes", "no"),
  os_days = v$time,
  os_event = as.integer(v$status),
  stringsAsFactors = FALSE
)
target <- file.path(here, "patients.csv")
write.csv(out, target, row.names = FALSE, quote = FALSE)
cat(sprintf("wrote %s: %d patients (%s), survival %s, %s\n", target, nrow(out),
            paste(names(table(out$arm)), table(out$arm), sep = " ", collapse = ", "),
            format(packageVersion("survival")), R.version.string))
