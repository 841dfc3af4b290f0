# %% [markdown]
# # Transdiagnostic speech and text classification: a tour
#
# Run it as a script (`python examples/transdx_tour.py`, about 5 minutes) or cell
# by cell in a notebook. It synthesises a small cohort with espeak-ng (Debian package
# `espeak-ng`; `tools/transdx_cohort.py`): three diagnosis studies (MDD, SCZ, ASD) with
# gender-matched controls, three recordings per participant, voices and texts that differ
# by group. On your own cohort, start at "Read the manifest".

# %%
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bitbox.clinical.transdiagnostic import evaluate, extract_features, read_manifest  # noqa: E402
from bitbox.clinical.transdiagnostic.report import write_outputs  # noqa: E402
from tools.transdx_cohort import make_cohort  # noqa: E402

out = Path("transdx-tour-output")
manifest = make_cohort(out / "cohort", patients=6, recordings=3, seed=0)

# %% [markdown]
# ## Read the manifest
# One row per recording: participant_id, diagnosis, recording (audio), and optionally
# transcript (a file or the text), study, gender, matched_control_id.

# %%
cohort = read_manifest(manifest)
print(cohort)
print(cohort.recordings[["recording_key", "diagnosis", "study", "gender"]].head())

# %% [markdown]
# ## Features
# Voice (eGeMAPS and MFCC per 5-s window, Bitbox speech measures) and text (language
# descriptives, TF-IDF, MiniLM sentence embeddings). They are computed by Bitbox's batch
# machinery into `out/features` and reused on the next run.

# %%
features = extract_features(cohort, out)  # workers=N from a script guarded by __main__
print(features)

# %% [markdown]
# ## Train, select, test
# The manifest has gender and matched controls, so the paper's test/validation
# selection is used (here one patient per diagnosis x gender, as the cohort is small).

# %%
result = evaluate(cohort, features, n_per_cell=1, n_iter=10)
print(result.protocol_note)
for task, models in result.metrics.items():
    print(task)
    for name in ("dummy", "egemaps/logreg", "speech/xgboost", "tfidf/logreg", "fusion/max", "fusion/mean"):
        s = models[name]
        low, high = s["macro_f1_ci"]
        print(f"  {name:<16} macro F1 {s['macro_f1']:.2f} [{low:.2f}, {high:.2f}]  accuracy {s['accuracy']:.2f}")

# %% [markdown]
# ## The report
# `metrics.json`, `run.json` (provenance), `predictions.csv`, `splits.csv` and
# `report.html` (tables laid out like the paper's, plots, confusion matrices).

# %%
write_outputs(out, cohort, features, result)
print(f"Open {out / 'report.html'}")
