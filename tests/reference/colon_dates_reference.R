# R reference for the worked example study `colon` (data/studies/colon/patients.csv, written by
# data/studies/colon/convert_colon.R): the times derived from the table's dates, computed independently of the
# book with as.Date() and difftime(), and what the survival chapter computes from them.
# Writes tests/reference/r_values/colon_dates.json. Run from the repository root (make r-reference).
# Needs r-base-core, r-cran-survival, r-cran-jsonlite, r-cran-prodlim.
#
# Conventions as the spec declares them (book/spec_format.md): dates DD/MM/YYYY; time 0 = date_randomisation;
# RFS: the first of date_recurrence and date_death, else censored at date_last_seen; OS: date_death, else
# censored at date_last_seen; months = days / 30.4375. With a data cut-off C (here 1990-06-30, the cut-off
# the tests add to the spec): an event after C is no event, follow-up ends at min(last seen, C).
# Also checked here: the derived days equal the durations of survival::colon that the table was made from.
suppressPackageStartupMessages({library(survival); library(jsonlite); library(prodlim)})
d <- read.csv("data/studies/colon/patients.csv", colClasses = "character")
day <- function(x) as.Date(ifelse(x == "", NA, x), format = "%d/%m/%Y")
start <- day(d$date_randomisation)
rec <- day(d$date_recurrence)
death <- day(d$date_death)
last <- day(d$date_last_seen)
stopifnot(!anyNA(start), !anyNA(last))

derive <- function(events, cutoff = NULL) {
  first <- do.call(pmin, c(events, na.rm = TRUE))
  event <- !is.na(first)
  end <- as.Date(ifelse(event, first, last), origin = "1970-01-01")
  if (!is.null(cutoff)) {
    cut <- as.Date(cutoff)
    after <- event & first > cut
    event <- event & !after
    end <- as.Date(ifelse(event, first, pmin(last, cut)), origin = "1970-01-01")
  }
  days <- as.numeric(difftime(end, start, units = "days"))
  list(days = days, months = days / 30.4375, event = as.integer(event))
}
rfs <- derive(list(rec, death))
os <- derive(list(death))
rfs_cut <- derive(list(rec, death), "1990-06-30")
os_cut <- derive(list(death), "1990-06-30")

# the data set the table was made from: the same durations
r1 <- survival::colon[survival::colon$etype == 1, ]
r2 <- survival::colon[survival::colon$etype == 2, ]
r1 <- r1[match(as.integer(d$record_id), r1$id), ]
r2 <- r2[match(as.integer(d$record_id), r2$id), ]
stopifnot(all(os$days == r2$time), all(os$event == r2$status),
          all(rfs$days == ifelse(r1$status == 1, r1$time, r2$time)), all(rfs$event == pmax(r1$status, r2$status)))

arm <- factor(d$rx, levels = c("1", "3"))
chapter <- function(ep) {
  S <- Surv(ep$months, ep$event)
  lr <- survdiff(S ~ arm)
  fit <- summary(coxph(S ~ arm))
  med <- summary(survfit(S ~ arm))$table
  list(logrank_chisq = unname(lr$chisq), logrank_p = unname(1 - pchisq(lr$chisq, 1)),
       hr = unname(fit$conf.int[1, 1]), hr_lower = unname(fit$conf.int[1, 3]), hr_upper = unname(fit$conf.int[1, 4]),
       medians = lapply(rownames(med), function(r) list(arm = sub("arm=", "", r), median = unname(med[r, "median"]),
                                                         lower = unname(med[r, "0.95LCL"]),
                                                         upper = unname(med[r, "0.95UCL"]))))
}
# median follow-up by reverse Kaplan-Meier on OS, all patients (prodlim's reverse = TRUE)
fu <- prodlim(Hist(months, event) ~ 1, data = data.frame(months = os$months, event = os$event), reverse = TRUE)
fu_median <- unname(quantile(fu, 0.5)$quantiles.survival$quantile)

out <- list(
  R_version = R.version.string, survival = format(packageVersion("survival")),
  generated_by = "tests/reference/colon_dates_reference.R",
  record_id = d$record_id, days_per_month = 30.4375, cutoff = "1990-06-30",
  rfs = rfs, os = os, rfs_cutoff = rfs_cut, os_cutoff = os_cut,
  chapter = list(rfs = chapter(rfs), os = chapter(os)),
  followup_median_months = fu_median
)
dir.create("tests/reference/r_values", showWarnings = FALSE)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE), "tests/reference/r_values/colon_dates.json")
cat(sprintf("wrote tests/reference/r_values/colon_dates.json: %d patients; RFS %d events, OS %d events; with the cut-off 1990-06-30: %d, %d; the derived days equal survival::colon's durations\n",
            nrow(d), sum(rfs$event), sum(os$event), sum(rfs_cut$event), sum(os_cut$event)))
cat(sprintf("log-rank chisq RFS %.6f, OS %.6f; reverse-KM median follow-up %.4f months\n",
            chapter(rfs)$logrank_chisq, chapter(os)$logrank_chisq, fu_median))
