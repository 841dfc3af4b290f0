# %% [markdown]
# # Who spoke when: a tour of the speakers processor
#
# Run it as a script (`python examples/speakers_tour.py`) or cell by cell in a notebook
# (VS Code / Jupyter read the `# %%` markers). It uses the bundled
# `examples/data/interview.flac` (34 s: an interviewer and a patient, two flite voices built
# from recordings of two real people; its true turns are in `interview.truth.rttm`), so it runs
# offline anywhere Bitbox is installed.

# %%
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # remove in a notebook to see the figures inline

import bitbox
from bitbox.processors.rttm import read_rttm
from bitbox.processors.speakers import diarization_error_rate

HERE = Path(__file__).resolve().parent
interview = HERE / "data" / "interview.flac"
out = Path("speakers-tour-output")
out.mkdir(exist_ok=True)

# %% [markdown]
# ## Speakers, turns and turn-taking
# The patient talks most, so `target="longest"` copies the patient's measures to the
# `target_*` columns: a cohort table can keep those, whatever the patient's label.

# %%
m = bitbox.process(interview, ["speakers"], target="longest")
speakers = m["speakers"]
print(speakers.timeseries[["time_s", "end_s", "speaker", "turn_type", "latency_s"]].round(2).to_string())
s = speakers.summary
print(f"{s['n_speakers']:.0f} speakers ({s['n_speakers_reason']})")
for key in ("switches_per_min", "latency_median_s", "latency_iqr_s", "overlap_time_s"):
    print(f"{key:<22} {s[key]:7.2f} {speakers.units.get(key, '')}")
for key in ("talk_time_s", "talk_share", "turn_count", "turn_mean_s", "speech_rate_syll_per_s", "f0_median_hz"):
    print(f"target ({s['target_speaker']}) {key:<24} {s['target_' + key]:8.2f}")
m.plot().savefig(out / "who_spoke_when.png", dpi=100)

# %% [markdown]
# ## How good is it? Against the true turns
# The diarization error rate (missed + false alarm + confusion, 0.25-s collar, overlapped speech
# not scored) of the result against the script's truth:

# %%
truth = read_rttm(HERE / "data" / "interview.truth.rttm")
table = speakers.timeseries.rename(columns={"time_s": "start_s"})
print(diarization_error_rate(truth, table[["start_s", "end_s", "speaker"]]))

# %% [markdown]
# ## Language per speaker
# Run with `speakers`, the language processor gives each transcribed word to a speaker and
# reports its measures per speaker (and for the target).

# %%
m = bitbox.process(interview, ["speakers", "language"], **{"speakers.target": "longest"})
language = m["language"].summary
for key in ("word_count", "mlu_words", "first_person_singular_rate"):
    print(f"{key:<28} S1 {language['S1_' + key]:7.2f}   S2 {language['S2_' + key]:7.2f}   "
          f"target {language['target_' + key]:7.2f}")

# %% [markdown]
# ## A reference annotation instead
# A lab's own RTTM beside the recording (same stem) is used instead of diarizing; its names
# are kept in `speaker_labels`.

# %%
annotated = out / "annotated"
annotated.mkdir(exist_ok=True)
shutil.copy(interview, annotated / "visit.flac")
shutil.copy(HERE / "data" / "interview.truth.rttm", annotated / "visit.rttm")
r = bitbox.process(annotated / "visit.flac", ["speakers"])["speakers"]
print(r.summary["source"], "|", r.summary["speaker_labels"])

# %% [markdown]
# ## A folder
# `bitbox run FOLDER -o OUT -p speakers,language` writes `OUT/<id>/speakers.rttm` beside the
# tables; `summary.csv` has one row per recording with `speakers.S1_talk_time_s`, ...

# %%
result = bitbox.process_folder(annotated, out / "batch", ["speakers"], progress=False)
print(sorted(p.name for p in (out / "batch" / "visit").iterdir()))
