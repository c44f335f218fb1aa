# Convert the colon cancer adjuvant trial (data set `colon` of R's survival package) into a table as a hospital
# system exports it: one row per patient, dates instead of durations, raw numeric codes, and codes for unknown.
# Writes data/studies/colon/patients.csv and its REDCap-style data dictionary data/studies/colon/data_dictionary.csv.
#
#   Rscript data/studies/colon/convert_colon.R        (from anywhere; needs r-base-core r-cran-survival)
#
# `colon` has two rows per patient (etype 1 = recurrence, 2 = death), each with a time in days and a status.
# It has no calendar dates, so the dates are made from a fixed start date:
#   date_randomisation = 1985-01-01 for every patient (NOT the trial's dates, which the data set does not have)
#   date_recurrence    = start + recurrence time, when the recurrence status is 1 (else empty)
#   date_death         = start + death time, when the death status is 1 (else empty)
#   date_last_seen     = start + death time (the death record's time is the last follow-up: death or censoring)
# so that every time derived from these dates is exactly the data set's number of days. Dates are written
# day first, DD/MM/YYYY, as many European hospital systems export them.
# Kept: the two arms the trial compared with observation in its main report, observation (rx = Obs) and
# levamisole + fluorouracil (rx = Lev+5FU); the levamisole-alone arm (310 patients) is left out (the book
# compares two arms). No value of the kept patients is changed; the codes are:
#   rx        1 = observation, 3 = levamisole + 5-FU (the factor's codes; 2 = levamisole alone, left out)
#   sex       1 = male, 2 = female                     (the data set: 1 = male, 0 = female)
#   differ    1 = well, 2 = moderate, 3 = poor, 9 = unknown (the data set: NA)
#   nodes     number of positive lymph nodes, 99 = unknown  (the data set: NA)
#   obstruct, perfor, adhere, node4: 0 = no, 1 = yes; extent 1-4; surg 0 = short, 1 = long: unchanged
# record_id is the data set's id.
suppressPackageStartupMessages(library(survival))

here <- local({
  args <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", args[grep("^--file=", args)])
  if (length(f) == 1L) dirname(normalizePath(f)) else getwd()
})

START <- as.Date("1985-01-01")
rec <- survival::colon[survival::colon$etype == 1, ]
dth <- survival::colon[survival::colon$etype == 2, ]
rec <- rec[order(rec$id), ]
dth <- dth[order(dth$id), ]
stopifnot(nrow(rec) == 929, identical(rec$id, dth$id), all(rec$time <= dth$time),
          all(rec$time[rec$status == 0] == dth$time[rec$status == 0]))
keep <- rec$rx %in% c("Obs", "Lev+5FU")
rec <- rec[keep, ]
dth <- dth[keep, ]
day_first <- function(d) ifelse(is.na(d), "", format(d, "%d/%m/%Y"))
out <- data.frame(
  record_id = rec$id,
  rx = as.integer(rec$rx),
  sex = ifelse(rec$sex == 1, 1L, 2L),
  age = rec$age,
  obstruct = rec$obstruct,
  perfor = rec$perfor,
  adhere = rec$adhere,
  nodes = ifelse(is.na(rec$nodes), 99L, rec$nodes),
  differ = ifelse(is.na(rec$differ), 9L, rec$differ),
  extent = rec$extent,
  surg = rec$surg,
  node4 = rec$node4,
  date_randomisation = day_first(rep(START, nrow(rec))),
  date_recurrence = day_first(ifelse(rec$status == 1, START + rec$time, NA) + as.Date("1970-01-01")),
  date_death = day_first(ifelse(dth$status == 1, START + dth$time, NA) + as.Date("1970-01-01")),
  date_last_seen = day_first(START + dth$time),
  stringsAsFactors = FALSE
)
target <- file.path(here, "patients.csv")
write.csv(out, target, row.names = FALSE, quote = FALSE)

# The data dictionary, in the columns of a REDCap data dictionary (CSV); yesno fields are 1 = Yes, 0 = No.
field <- function(name, type, label, choices = "", validation = "", min = "", max = "", note = "")
  data.frame(name, "colon", "", type, label, choices, note, validation, min, max, check.names = FALSE,
             stringsAsFactors = FALSE)
dict <- rbind(
  field("record_id", "text", "Record ID"),
  field("rx", "radio", "Treatment arm", "1, Observation | 2, Levamisole | 3, Levamisole + 5-FU"),
  field("sex", "radio", "Sex", "1, Male | 2, Female"),
  field("age", "text", "Age at registration (years)", validation = "integer", min = "18", max = "100"),
  field("obstruct", "yesno", "Obstruction of colon by tumour"),
  field("perfor", "yesno", "Perforation of colon"),
  field("adhere", "yesno", "Adherence to nearby organs"),
  field("nodes", "text", "Number of lymph nodes with detectable cancer", validation = "integer", min = "0",
        max = "99", note = "99 = unknown"),
  field("differ", "radio", "Differentiation of tumour", "1, Well | 2, Moderate | 3, Poor | 9, Unknown"),
  field("extent", "radio", "Extent of local spread",
        "1, Submucosa | 2, Muscle | 3, Serosa | 4, Contiguous structures"),
  field("surg", "radio", "Time from surgery to registration", "0, Short | 1, Long"),
  field("node4", "yesno", "More than 4 positive lymph nodes"),
  field("date_randomisation", "text", "Date of randomisation", validation = "date_dmy"),
  field("date_recurrence", "text", "Date of recurrence", validation = "date_dmy"),
  field("date_death", "text", "Date of death", validation = "date_dmy"),
  field("date_last_seen", "text", "Date last seen (last follow-up)", validation = "date_dmy")
)
names(dict) <- c("Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
                 "Choices, Calculations, OR Slider Labels", "Field Note",
                 "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max")
write.csv(dict, file.path(here, "data_dictionary.csv"), row.names = FALSE, na = "")

cat(sprintf("wrote %s: %d patients (rx %s), %d recurrences, %d deaths; survival %s, %s\n", target, nrow(out),
            paste(names(table(out$rx)), table(out$rx), sep = ": ", collapse = ", "), sum(rec$status),
            sum(dth$status), format(packageVersion("survival")), R.version.string))
