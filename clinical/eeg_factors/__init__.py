"""EEG clinical factors: a beta-VAE over ERPs with SCAN label mapping (Honke et al., ICLR 2021).

>>> from bitbox.clinical.eeg_factors import simulate_cohort, EegFactorModel
>>> cohort = simulate_cohort(n_subjects=60)                      # doctest: +SKIP
>>> model = EegFactorModel().fit(cohort)                         # doctest: +SKIP
>>> model.predict(cohort.averages())                             # doctest: +SKIP
"""
from .data import ErpDataset, epochs_from_raw, read_epochs_dir, read_labels, simulate_cohort, write_epochs_dir
from .model import EegFactorModel, active_dims

__all__ = ["ErpDataset", "epochs_from_raw", "read_epochs_dir", "read_labels", "simulate_cohort", "write_epochs_dir",
           "EegFactorModel", "active_dims"]
