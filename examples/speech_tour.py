# %% [markdown]
# # Speech and language measures: a tour
#
# Run it as a script (`python examples/speech_tour.py`) or cell by cell in a notebook
# (VS Code / Jupyter read the `# %%` markers). It uses the bundled
# `examples/data/spoken_story.flac` (a short first-person story spoken by espeak-ng), so it
# runs offline anywhere Bitbox is installed.

# %%
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # remove in a notebook to see the figures inline
import matplotlib.pyplot as plt

import bitbox

HERE = Path(__file__).resolve().parent
story = HERE / "data" / "spoken_story.flac"
out = Path("speech-tour-output")
out.mkdir(exist_ok=True)

# %% [markdown]
# ## One recording, two processors
# `speech` measures the voice; `language` transcribes the audio offline (no transcript is
# beside the file) and measures the words.

# %%
m = bitbox.process(story, processors=["speech", "language"])
speech, language = m["speech"], m["language"]
for key in ("speech_rate_syll_per_s", "articulation_rate_syll_per_s", "pause_count", "pause_mean_s",
            "f0_mean_hz", "f0_sd_semitones", "jitter_local", "shimmer_local", "hnr_db", "cpp_db"):
    print(f"{key:<30} {speech.summary[key]:8.3f} {speech.units.get(key, '')}")

# %% [markdown]
# Units and meanings come from the catalog:

# %%
catalog = bitbox.catalog()
print(catalog.get("speech.pause_fraction").description)

# %% [markdown]
# ## Pauses and pitch over time

# %%
ts = speech.timeseries
fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
ax1.fill_between(ts["time_s"], 0, ts["speech_active"], step="post", alpha=0.3, label="speech")
ax1.plot(ts["time_s"], ts["vad_probability"], lw=0.8, label="VAD probability")
ax1.legend(loc="upper right")
ax2.plot(ts["time_s"], ts["f0_hz"], lw=0.8, color="grey", label="F0 (interpolated in unvoiced speech)")
voiced = ts["voiced"] == 1
ax2.plot(ts.loc[voiced, "time_s"], ts.loc[voiced, "f0_hz"], ".", ms=2, label="F0 measured")
ax2.set_ylabel("Hz")
ax2.set_xlabel("time (s)")
ax2.legend(loc="upper right")
fig.savefig(out / "speech_over_time.png", dpi=100)

# %% [markdown]
# ## What was said
# One row per utterance, with its timing and its similarity to the previous one.

# %%
print(language.timeseries[["time_s", "end_s", "n_words", "word_rate_wpm", "coherence_prev"]].round(2))
for key in ("word_count", "word_rate_wpm", "mlu_words", "mattr", "first_person_singular_rate",
            "coherence_mean", "flesch_reading_ease"):
    print(f"{key:<28} {language.summary[key]:8.2f}")

# %% [markdown]
# ## A transcript of your own
# Put `story.txt` (or `.srt`, or `.json` with word times) beside `story.flac` and the
# language processor uses it instead of speech recognition. Here we save the automatic
# transcript as JSON, as one would before correcting it by hand.

# %%
import json
import shutil

from bitbox.processors.language import LanguageProcessor

corrected = out / "story"
corrected.mkdir(exist_ok=True)
shutil.copy(story, corrected / "story.flac")
transcript = LanguageProcessor().get_transcript(bitbox.Recording(story))
(corrected / "story.json").write_text(json.dumps(transcript.to_json(), indent=1))
again = bitbox.process(corrected / "story.flac", processors=["language"])["language"]
print("transcribed:", again.summary["transcribed"], "- words:", again.summary["word_count"])

# %% [markdown]
# ## The 88 eGeMAPS functionals, beside Bitbox's measures

# %%
gemaps = bitbox.process(story, processors=["speech"], egemaps=True)["speech"].summary
print(len([k for k in gemaps if k.startswith("egemaps_")]), "eGeMAPS functionals, e.g.",
      round(gemaps["egemaps_F0semitoneFrom27.5Hz_sma3nz_amean"], 2), "semitones (mean F0 from 27.5 Hz)")
