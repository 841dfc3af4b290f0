"""Clinical modules (``bitbox.clinical``): models that consume Bitbox measurements.

Each module lives in its own subpackage and uses only Bitbox's public API.

- ``eeg_factors``: beta-VAE + SCAN over ERPs (Honke et al. 2021), with the ERP-feature
  baseline, subject-level cross-validation and the ``bitbox eegfactors`` command.
- ``transdiagnostic``: speech and text classification of several diagnoses (Hansen et al.
  2023): cohort manifests, voice and text features, classifiers, late fusion, the paper's
  participant-level protocol, and the ``bitbox transdx`` command.
- ``pd_narratives``: cognitive span categories in Parkinson's narratives (Khanna, Bhatt et
  al. 2025): training a span model on annotated files, the paper's strict and lenient
  evaluation (also of an LLM's answers), the lexicon baseline, and ``bitbox narratives``.
- ``hba``: the Human Behavior Atlas evaluation suite (Ong et al. 2025): reader, task
  registry, the benchmark's metrics, ``bitbox hba evaluate`` for any model, and the Bitbox
  descriptor baseline (``bitbox hba baseline``).
- ``features``: helpers shared by the modules (a batch of recordings, cached embeddings).
- ``stats``: shared statistics (bootstrap intervals).
"""
