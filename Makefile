# Bitbox: `make demo` runs the face processor on the bundled samples, `make test` runs the suite.
# Both create .venv when it is missing and install the pinned dependency set.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.bitbox-installed
DEMO_OUT ?= demo-output

.PHONY: demo test install system-deps docs bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" "setuptools>=77" wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bitbox run examples/data -o $(DEMO_OUT) -p face
	@echo "Demo results: $(DEMO_OUT)/summary.csv (one row per recording), $(DEMO_OUT)/<recording_id>/face.parquet"

# System packages the tests need (none yet for the face processor); installed with apt-get when missing.
system-deps:
	@true

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q

docs: $(STAMP)
	$(BIN)/python docs/generate_catalog.py

bench: $(STAMP)
	$(BIN)/python benchmarks/face.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info
