# Two commands on a fresh machine: `make run` (install + default study) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CONFIG ?= config/config.yaml
STUDY  ?= default
CORES  ?= all

.PHONY: run test install lint dry-run benchmark gpu-check clean

run: $(VENV)/.installed
	$(BIN)/snakemake --configfile $(CONFIG) --cores $(CORES) --rerun-incomplete
	$(BIN)/snakemake --configfile $(CONFIG) --cores 1 --report results/$(STUDY)/report.html

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

install: $(VENV)/.installed

# torch is pinned in pyproject.toml: unpinned it would pull GBs of CUDA wheels on a CPU machine.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# As the snakemake-workflows CI: the linter, and the formatter in check mode.
lint: $(VENV)/.installed
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

dry-run: $(VENV)/.installed
	$(BIN)/snakemake --configfile $(CONFIG) -n --quiet rules

benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py

# Run it first on a new GPU box: every CUDA path, throughput and the paper grid's projected cost (<= 5 min).
gpu-check: $(VENV)/.installed
	$(BIN)/python benchmarks/gpu_check.py

clean:
	rm -rf results/$(STUDY) .snakemake
