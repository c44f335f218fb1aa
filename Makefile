# The two commands of the README:
#   make book   build the whole book (creates .venv, installs pinned deps, runs every notebook with papermill,
#               builds the HTML with warnings as errors)
#   make test   the same set-up, then the test suite (which includes a full strict book build)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book pdf test data schema lint-data r-reference bench bench-build bench-registry bench-additions clean lock venv publish

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . || $(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

book: $(STAMP)
	$(PY) -m helpers.build

# One PDF per study of the built book (_build/html/downloads/<study>.pdf, linked from the landing page),
# printed by Chromium (Debian's chromium; CHROMIUM=path for another).
pdf: $(STAMP)
	@test -f _build/html/book/index.html || $(PY) -m helpers.build
	$(PY) -m helpers.build.pdf

test: $(STAMP)
	$(PY) -m pytest -q

# Publish from a workstation: build, then push _build/html to the gh-pages branch (GitHub Pages: branch gh-pages).
# CI publishes with .github/workflows/pages.yml instead.
publish: book
	$(PY) -m ghp_import --no-jekyll --push --force --message "Publish the book" _build/html

# Regenerate the synthetic (reconstructed) patient tables from the published aggregates. Deterministic.
data: $(STAMP)
	$(PY) -m helpers.synth.reconstruct

# Write the JSON Schema of study.yaml and the key reference of book/spec_format.md from src/helpers/study/schema.py.
schema: $(STAMP)
	$(PY) -m helpers.study.schema

# Check every study's spec and patient table without building anything.
lint-data: $(STAMP)
	$(PY) -m helpers.build --validate-only

# Re-derive the R reference values the tests compare against (needs R: r-base-core, r-cran-survival, r-cran-matchit).
r-reference:
	bash tests/reference/run_r_reference.sh

# Time the survival helpers on 100 k and 1 M synthetic patients next to R survival (R optional). Not a test.
bench: $(STAMP)
	$(PY) benchmarks/bench_survival.py

# The complete analysis of one study on synthetic registries of 10^4, 10^5 and 10^6 patients, next to R
# (survival, MatchIt); per-step time and memory. Override sizes with: make bench-registry SIZES="10000 100000"
SIZES ?= 10000 100000 1000000
bench-registry: $(STAMP)
	$(PY) benchmarks/bench_registry.py --sizes $(SIZES)

# Time the book build, each the median of 3 runs: cold (parallel, serial) next to Jupyter Book's own serial
# execution, no-op, one-prose-line and one-spec-line rebuilds (benchmarks/README.md). Not a test.
# BENCH_ARGS="--runs 1" for one cold run of each kind.
bench-build: $(STAMP)
	$(PY) benchmarks/bench_build.py $(BENCH_ARGS)

# What the weighting chapter and the competing-risks, PH-plot and imputation additions cost the default book's
# cold build: the book next to copies without them, median of 3 interleaved runs (benchmarks/README.md). Not a test.
bench-additions: $(STAMP)
	$(PY) benchmarks/bench_additions.py $(BENCH_ARGS)

# Re-pin requirements.txt from requirements.in (top-level packages) in a scratch environment.
lock:
	rm -rf _build/lockenv && $(PYTHON) -m venv _build/lockenv
	_build/lockenv/bin/pip install --quiet -r requirements.in
	{ echo "# Pinned dependencies: the single source of truth for both pip (Makefile) and conda (environment.yml)."; \
	  echo "# Regenerate with: make lock   (installs the top-level packages in requirements.in and freezes)"; \
	  _build/lockenv/bin/pip freeze; } > requirements.txt

clean:
	rm -rf _build book/*/*.ipynb
