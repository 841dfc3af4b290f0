"""Clinical modules (``bitbox.clinical``): models that consume Bitbox measurements.

Each module lives in its own subpackage and uses only Bitbox's public API.

- ``eeg_factors``: beta-VAE + SCAN over ERPs (Honke et al. 2021), with the ERP-feature
  baseline, subject-level cross-validation and the ``bitbox eegfactors`` command.
- ``transdiagnostic``: speech and text classification of several diagnoses (Hansen et al.
  2023): cohort manifests, voice and text features, classifiers, late fusion, the paper's
  participant-level protocol, and the ``bitbox transdx`` command.
- ``stats``: shared statistics (bootstrap intervals).
"""
