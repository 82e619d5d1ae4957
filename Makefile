# The two commands: `make run` starts the app on the offline default, `make test` runs every check.
# Both create .venv when it is missing and install pinned versions (constraints.txt pins torch to a CPU build).

VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip --disable-pip-version-check
INSTALL := $(PIP) install -q -c constraints.txt

.PHONY: run demo serve sample-brand test

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q -c constraints.txt pip setuptools wheel

# torch first, on its own, so nothing installed after it can pull another (CUDA) build.
$(VENV)/.all: $(PY) pyproject.toml constraints.txt
	$(INSTALL) torch
	$(INSTALL) -e '.[all]'
	touch $@

$(VENV)/.dev: $(VENV)/.all
	$(INSTALL) -e '.[all,dev]'
	touch $@

# The sample brand goes into brand memory on first start (later starts find it unchanged), its past work marked as
# protected (new images must not copy it), then the studio starts on http://127.0.0.1:7860 (BRIEFCRAFT_UI_PORT).
# `make demo` runs the sample brief through the CLI to a pack instead.
SAMPLE  := examples/brands/northbound

sample-brand: $(VENV)/.all
	$(VENV)/bin/briefcraft memory add $(filter-out $(SAMPLE)/past-%.png,$(wildcard $(SAMPLE)/*)) --brand northbound
	$(VENV)/bin/briefcraft memory add $(wildcard $(SAMPLE)/past-*.png) --brand northbound --role protected

run: sample-brand
	GRADIO_ANALYTICS_ENABLED=False $(VENV)/bin/briefcraft ui --brand northbound

# `make serve`: the graph over LangGraph's HTTP API instead (`langgraph dev` on http://127.0.0.1:2024), on the
# sample brand and the same data dir, for LangGraph Studio, Agent Chat UI and langgraph_sdk clients (no reloading on
# code changes: this serves the graph to use it, not to edit it).
serve: sample-brand
	BRIEFCRAFT_BRAND=northbound $(VENV)/bin/langgraph dev --no-browser --no-reload

demo: sample-brand
	$(VENV)/bin/briefcraft run @briefcraft/data/sample_brief.txt --brand northbound --approve all --out out/demo

test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	rm -rf .typecheck && mkdir -p .typecheck/briefcraft
	ln -s $(CURDIR)/briefcraft/*.py $(CURDIR)/briefcraft/py.typed .typecheck/briefcraft/
	for p in agents tools graphs memory ui evals; do ln -s $(CURDIR)/$$p .typecheck/briefcraft/$$p; done
	cd .typecheck && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/pyproject.toml -p briefcraft
	$(VENV)/bin/pytest
