# Bitbox: `make demo` runs the face processor on the bundled samples, `make test` runs the suite.
# Both create .venv when it is missing and install the pinned dependency set.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.bitbox-installed
DEMO_OUT ?= demo-output

.PHONY: demo test install docs bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" "setuptools>=77" wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bitbox run examples/data -o $(DEMO_OUT) -p face
	@$(BIN)/python -c "import pandas as pd; t = pd.read_csv('$(DEMO_OUT)/summary.csv').set_index('recording_id'); \
	print(t[['status', 'face.face_detected_fraction', 'face.blink_rate_per_min', 'face.head_roll_sd', \
	'face.mouth_open_sd']].round(3).to_string())"
	@echo "Demo results: $(DEMO_OUT)/summary.csv (one row per recording), $(DEMO_OUT)/<recording_id>/face.parquet"

test: $(STAMP)
	$(BIN)/python -m pytest -q

docs: $(STAMP)
	$(BIN)/python docs/generate_catalog.py

bench: $(STAMP)
	$(BIN)/python benchmarks/face.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info
