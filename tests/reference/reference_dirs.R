# Sourced by the reference scripts (after they define here(), the folder of the running script):
# out_dir  = tests/reference/r_values, the values the tests compare against (JSON);
# data_dir = tests/reference/data, the public data sets as the scripts wrote them (CSV).
script_dir <- here()
out_dir <- file.path(script_dir, "r_values")
data_dir <- file.path(script_dir, "data")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
dir.create(data_dir, showWarnings = FALSE, recursive = TRUE)
