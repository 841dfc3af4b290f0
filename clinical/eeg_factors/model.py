"""beta-VAE over ERPs with SCAN label mapping (Honke et al., ICLR 2021), in torch on the CPU.

- **beta-VAE**: a convolutional encoder (two strided 1-d convolutions over time, the
  conditions x channels as input channels) to a ``latent_dim``-dimensional Gaussian
  posterior, and a mirrored decoder. Loss: squared reconstruction error of the
  standardised ERP (sum over inputs and samples, halved) + ``beta`` x KL to N(0, I). Trained
  on averages over random trial subsets (augmentation) and on full averages.
- **SCAN**: with the beta-VAE frozen, a small VAE over k-hot label vectors y (one-hot per
  label, concatenated) whose latent space is the beta-VAE's. Loss: cross-entropy of y from
  z_y + ``scan_beta`` x KL(q(z_y|y) || N(0, I)) + ``scan_lambda`` x KL(q(z_x|x) || q(z_y|y)).
  Classification: encode an ERP with the beta-VAE, decode labels with SCAN. Relabelling
  (:meth:`EegFactorModel.fit_scan`) retrains only SCAN.
- **Markers** (:meth:`EegFactorModel.marker_table`): SCAN is queried only with full label
  vectors seen in training. For each label, the training label vectors are grouped by the
  *other* labels' values (contexts); within a context, the posterior q(z_y|y) of one value is
  compared, latent by latent, with that of the context's other values: the separation
  ``|mu_v - mu_rest| / sqrt((sd_v^2 + sd_rest^2) / 2)`` (d', in within-value SDs). Separations
  are averaged over contexts with inverse-variance weights (``1 / (1/n_v + 1/n_rest)``,
  subjects). A latent is a marker of the value when its separation is at least
  ``marker_shift`` (default 1: the value moves the latent by one within-value SD) *and*
  beyond sampling noise: ``d' * sqrt(sum of weights) > z`` with ``z`` the two-sided normal
  quantile at ``marker_alpha`` Bonferroni-corrected over the latent dimensions. At most two
  markers per value, largest separation first; a label that does not change the ERPs marks
  none.

The loss sums the squared error over all inputs and samples of an ERP standardised by one
global scale, so ``beta`` is large by the usual standards: at ``beta=30`` (the default) the
simulated cohort's three generative factors each land in one latent dimension while the
other dimensions collapse to the prior; at ``beta=4`` every dimension encodes noise and the
factors are spread over several.

Everything is seeded (``random_state``), runs single-process on the CPU, and saves with
its provenance (:meth:`EegFactorModel.save`, :meth:`EegFactorModel.load`).
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bitbox.errors import BitboxError
from bitbox.log import logger
from bitbox.params import Interval, ParamsMixin

from .data import ErpDataset

__all__ = ["EegFactorModel", "active_dims"]

#: Most marker dimensions reported per label value.
_MAX_MARKERS = 2


#: The four networks, saved as ``<name>.<parameter>`` arrays.
_NETWORKS = ("encoder_", "decoder_", "scan_encoder_", "scan_decoder_")
_FORMAT = "bitbox-eeg-factor-model"
#: 2: safetensors + SHA-256 in model.json (1 was a pickled model.pt, no longer read).
_FORMAT_VERSION = 2
_ARRAYS = "model.safetensors"
#: The fitted attributes model.json holds (load sets these and nothing else).
_FITTED = ("n_times_", "scale_", "channels_", "conditions_", "times_", "n_inputs_", "label_values_", "markers_",
           "marker_effects_", "history_")

#: Torch threads used for training and inference (fixed, so results do not depend on the machine's cores).
_THREADS = 2


def _torch():
    import torch

    return torch


def _build(n_inputs: int, n_times: int, latent_dim: int):
    torch = _torch()
    nn = torch.nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Sequential(nn.Conv1d(n_inputs, 32, 7, stride=2, padding=3), nn.ELU(),
                                      nn.Conv1d(32, 64, 7, stride=2, padding=3), nn.ELU())
            self.head = nn.Linear(64 * (n_times // 4), 2 * latent_dim)

        def forward(self, x):
            mu, logvar = self.head(self.conv(x).flatten(1)).chunk(2, dim=1)
            return mu, logvar.clamp(-10, 5)

    class Decoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Sequential(nn.Linear(latent_dim, 64 * (n_times // 4)), nn.ELU())
            self.deconv = nn.Sequential(nn.ConvTranspose1d(64, 32, 4, stride=2, padding=1), nn.ELU(),
                                        nn.ConvTranspose1d(32, n_inputs, 4, stride=2, padding=1))

        def forward(self, z):
            return self.deconv(self.head(z).view(len(z), 64, n_times // 4))

    return Encoder(), Decoder()


def _build_scan(n_labels: int, latent_dim: int):
    nn = _torch().nn
    encoder = nn.Sequential(nn.Linear(n_labels, 64), nn.ELU(), nn.Linear(64, 2 * latent_dim))
    decoder = nn.Sequential(nn.Linear(latent_dim, 64), nn.ELU(), nn.Linear(64, n_labels))
    return encoder, decoder


def _kl_standard(mu, logvar):
    return 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1)


def _kl(mu_q, logvar_q, mu_p, logvar_p):
    """KL(q || p) of diagonal Gaussians, per sample."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1).sum(dim=1)


class EegFactorModel(ParamsMixin):
    """A beta-VAE + SCAN over ERPs (scikit-learn style: parameters in ``__init__``, fitted attributes end in ``_``).

    Parameters
    ----------
    latent_dim : int
        Latent dimensions (the paper's 10).
    beta : float
        Weight of the KL term of the beta-VAE (higher: more disentangled, blurrier).
    n_epochs : int
        Training epochs of the beta-VAE.
    scan_epochs : int
        Training epochs of SCAN.
    batch_size : int
        ERPs (or label vectors, for SCAN) per optimisation step of both networks (default 64).
    learning_rate : float
        Adam's learning rate, for the beta-VAE and for SCAN (default 1e-3).
    augment_draws : int
        Random-subset averages drawn per subject for training.
    augment_trials : int
        Trials per random-subset average.
    scan_beta, scan_lambda : float
        SCAN's prior and alignment weights.
    marker_shift : float
        Smallest separation (d', in within-value posterior SDs) between SCAN's posteriors for
        a label value and for the label's other values (the other labels held fixed) for a
        latent dimension to be that value's marker.
    marker_alpha : float
        Family-wise error rate of the markers of one label value (Bonferroni over the latent
        dimensions): a separation must also exceed what sampling noise gives at the label's
        group sizes.
    random_state : int
        Seed of every random draw (data augmentation, initialisation, batches).
    """

    _parameter_constraints = {
        "latent_dim": [Interval(int, 1, 64)], "beta": [Interval(float, 0, None)],
        "n_epochs": [Interval(int, 1, None)], "scan_epochs": [Interval(int, 1, None)],
        "batch_size": [Interval(int, 1, None)], "learning_rate": [Interval(float, 0, 1, closed="right")],
        "augment_draws": [Interval(int, 1, None)], "augment_trials": [Interval(int, 1, None)],
        "scan_beta": [Interval(float, 0, None)], "scan_lambda": [Interval(float, 0, None)],
        "marker_shift": [Interval(float, 0, None)], "marker_alpha": [Interval(float, 0, 1, closed="neither")],
        "random_state": [Interval(int, 0, None)]}

    def __init__(self, *, latent_dim: int = 10, beta: float = 30.0, n_epochs: int = 80, scan_epochs: int = 100,
                 batch_size: int = 64, learning_rate: float = 1e-3, augment_draws: int = 30, augment_trials: int = 20,
                 scan_beta: float = 1.0, scan_lambda: float = 10.0, marker_shift: float = 1.0,
                 marker_alpha: float = 0.05, random_state: int = 0) -> None:
        self.latent_dim = latent_dim
        self.beta = beta
        self.n_epochs = n_epochs
        self.scan_epochs = scan_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.augment_draws = augment_draws
        self.augment_trials = augment_trials
        self.scan_beta = scan_beta
        self.scan_lambda = scan_lambda
        self.marker_shift = marker_shift
        self.marker_alpha = marker_alpha
        self.random_state = random_state

    # ------------------------------------------------------------------ parameters
    # get_params / set_params / validate_params / repr: bitbox.params.ParamsMixin

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise BitboxError("This EegFactorModel is not fitted yet: call fit(dataset) first.")

    # ------------------------------------------------------------------ data
    def _prepare(self, erps: np.ndarray) -> Any:
        torch = _torch()
        x = (np.asarray(erps, dtype=np.float32)[..., : self.n_times_] - self.mean_) / self.scale_
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def _training_erps(self, dataset: ErpDataset) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.random_state)
        subsets, owner = dataset.subset_averages(int(self.augment_trials), int(self.augment_draws), rng)
        full = dataset.averages().astype(np.float32)
        return np.concatenate([subsets, full]), np.concatenate([owner, np.arange(len(dataset))])

    def _label_matrix(self, labels: pd.DataFrame) -> np.ndarray:
        blocks = []
        for column, values in self.label_values_.items():
            codes = labels[column].astype(str)
            unknown = sorted(set(codes) - set(values))
            if unknown:
                raise BitboxError(f"Label {column!r} has values {unknown} the model was not trained on ({values}).")
            blocks.append(np.stack([(codes == v).to_numpy() for v in values], axis=1))
        return np.concatenate(blocks, axis=1).astype(np.float32)

    # ------------------------------------------------------------------ fitting
    def fit(self, dataset: ErpDataset, *, progress=None) -> "EegFactorModel":
        """Train the beta-VAE on the dataset's ERPs, then SCAN on its labels.

        Parameters
        ----------
        dataset : ErpDataset
            The training subjects: the beta-VAE sees ``augment_draws`` random-subset averages and the
            full average of each; SCAN learns every label column.
        progress : callable | None
            Called as ``progress(epoch, n_epochs)`` after each beta-VAE epoch; ``None`` (default) for none.

        Returns
        -------
        EegFactorModel
            This model, fitted.

        Raises
        ------
        ParameterError
            A parameter is out of its range.
        BitboxError
            The ERPs have fewer than 8 samples.
        """
        self.validate_params()
        torch = _torch()
        threads = torch.get_num_threads()
        torch.set_num_threads(_THREADS)  # the same arithmetic on every machine: same result
        try:
            return self._fit(dataset, progress)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, dataset: ErpDataset, progress) -> "EegFactorModel":
        torch = _torch()
        torch.manual_seed(int(self.random_state))
        erps, owner = self._training_erps(dataset)
        self.n_times_ = (erps.shape[-1] // 4) * 4
        if self.n_times_ < 8:
            raise BitboxError(f"The ERPs have {erps.shape[-1]} samples; at least 8 are needed.")
        erps = erps[..., : self.n_times_]
        self.mean_ = erps.mean(axis=0, keepdims=True)[0]
        self.scale_ = float(np.std(erps - self.mean_)) or 1.0
        self.channels_, self.conditions_ = list(dataset.channels), list(dataset.conditions)
        self.times_ = np.asarray(dataset.times[: self.n_times_])
        self.n_inputs_ = dataset.n_inputs
        self.encoder_, self.decoder_ = _build(self.n_inputs_, self.n_times_, int(self.latent_dim))
        x = self._prepare(erps)
        params = list(self.encoder_.parameters()) + list(self.decoder_.parameters())
        optimizer = torch.optim.Adam(params, lr=float(self.learning_rate))
        generator = torch.Generator().manual_seed(int(self.random_state))
        self.history_ = []
        for epoch in range(int(self.n_epochs)):
            order = torch.randperm(len(x), generator=generator)
            total = 0.0
            for start in range(0, len(x), int(self.batch_size)):
                batch = x[order[start:start + int(self.batch_size)]]
                mu, logvar = self.encoder_(batch)
                z = mu + torch.randn(mu.shape, generator=generator) * (0.5 * logvar).exp()
                recon = 0.5 * ((self.decoder_(z) - batch) ** 2).sum(dim=(1, 2))
                loss = (recon + float(self.beta) * _kl_standard(mu, logvar)).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
            self.history_.append(total / len(x))
            if progress is not None:
                progress(epoch + 1, int(self.n_epochs))
        self.encoder_.eval()
        self.decoder_.eval()
        with torch.no_grad():
            mu, logvar = self.encoder_(x)
            self.latent_kl_ = (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).mean(dim=0).numpy()
        logger.info("beta-VAE trained: %d ERPs, final loss %.1f", len(x), self.history_[-1])
        self.fit_scan(dataset)
        return self

    def fit_scan(self, dataset: ErpDataset) -> "EegFactorModel":
        """(Re)train SCAN on the dataset's labels with the beta-VAE frozen (fast re-mapping).

        Parameters
        ----------
        dataset : ErpDataset
            Subjects with the channels, conditions and times the beta-VAE was trained on; its label
            columns (and their values) replace those of the previous SCAN, and the markers are recomputed.

        Returns
        -------
        EegFactorModel
            This model, with a new SCAN.

        Raises
        ------
        BitboxError
            The model is not fitted.
        ParameterError
            A parameter is out of its range.
        """
        self._check_fitted()
        self.validate_params()
        torch = _torch()
        torch.manual_seed(int(self.random_state) + 1)
        self.label_values_ = {c: sorted(dataset.labels[c].astype(str).unique()) for c in dataset.labels.columns}
        erps, owner = self._training_erps(dataset)
        y = torch.from_numpy(self._label_matrix(dataset.labels)[owner])
        with torch.no_grad():
            mu_x, logvar_x = self.encoder_(self._prepare(erps))
        self.scan_encoder_, self.scan_decoder_ = _build_scan(y.shape[1], int(self.latent_dim))
        params = list(self.scan_encoder_.parameters()) + list(self.scan_decoder_.parameters())
        optimizer = torch.optim.Adam(params, lr=float(self.learning_rate))
        generator = torch.Generator().manual_seed(int(self.random_state) + 1)
        groups = self._groups()
        for _ in range(int(self.scan_epochs)):
            order = torch.randperm(len(y), generator=generator)
            for start in range(0, len(y), int(self.batch_size)):
                idx = order[start:start + int(self.batch_size)]
                mu_y, logvar_y = self.scan_encoder_(y[idx]).chunk(2, dim=1)
                logvar_y = logvar_y.clamp(-10, 5)
                z = mu_y + torch.randn(mu_y.shape, generator=generator) * (0.5 * logvar_y).exp()
                logits = self.scan_decoder_(z)
                ce = sum(torch.nn.functional.cross_entropy(logits[:, a:b], y[idx, a:b].argmax(dim=1),
                                                           reduction="none") for a, b in groups)
                loss = (ce + float(self.scan_beta) * _kl_standard(mu_y, logvar_y)
                        + float(self.scan_lambda) * _kl(mu_x[idx], logvar_x[idx], mu_y, logvar_y)).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.scan_encoder_.eval()
        self.scan_decoder_.eval()
        self._set_markers(dataset.labels)
        return self

    def _groups(self) -> list[tuple[int, int]]:
        groups, start = [], 0
        for values in self.label_values_.values():
            groups.append((start, start + len(values)))
            start += len(values)
        return groups

    def _posteriors(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """SCAN's q(z_y|y) for full label vectors (one per row of ``table``): means and SDs."""
        torch = _torch()
        with torch.no_grad():
            mu, logvar = self.scan_encoder_(torch.from_numpy(self._label_matrix(table))).chunk(2, dim=1)
        return mu.numpy().astype(float), np.exp(0.5 * logvar.clamp(-10, 5).numpy().astype(float))

    def _set_markers(self, labels: pd.DataFrame) -> None:
        """Compute ``markers_`` and ``marker_effects_`` from the training label vectors ``labels``."""
        from scipy.stats import norm

        columns = list(self.label_values_)
        vectors = labels[columns].astype(str).value_counts(sort=False)  # each training label vector, once
        combos, counts = vectors.index.to_frame(index=False), vectors.to_numpy(dtype=float)
        mu, sd = self._posteriors(combos)
        critical = float(norm.isf(float(self.marker_alpha) / (2 * int(self.latent_dim))))
        self.markers_, self.marker_effects_ = {}, {}
        for column in columns:
            others = [c for c in columns if c != column]
            contexts = (list(combos.groupby(others, sort=False).indices.values()) if others
                        else [np.arange(len(combos))])
            codes = combos[column].to_numpy()
            self.markers_[column], self.marker_effects_[column] = {}, {}
            for value in self.label_values_[column]:
                shifts, weights = [], []
                for rows in contexts:
                    inside, rest = rows[codes[rows] == value], rows[codes[rows] != value]
                    if len(inside) and len(rest):  # one row inside: the label vectors are unique
                        shifts.append(_separation(mu[inside[0]], sd[inside[0]], mu[rest], sd[rest], counts[rest]))
                        weights.append(1.0 / (1.0 / counts[inside].sum() + 1.0 / counts[rest].sum()))
                if not shifts:
                    logger.warning("eegfactors: %s=%s never shares the other labels' values with another value of "
                                   "%s in the training data; its markers cannot be told from those of the other "
                                   "labels (none given). Label subjects so that every value of %s occurs with the "
                                   "same values of the other labels.", column, value, column, column)
                    self.markers_[column][value] = []
                    self.marker_effects_[column][value] = {"separation": None, "threshold": None, "n_contexts": 0}
                    continue
                separation = np.average(np.stack(shifts), axis=0, weights=weights)
                threshold = max(float(self.marker_shift), critical / float(np.sqrt(np.sum(weights))))
                order = np.argsort(-separation, kind="stable")
                dims = [int(d) for d in order if separation[d] >= threshold][:_MAX_MARKERS]
                self.markers_[column][value] = dims
                self.marker_effects_[column][value] = {"separation": [round(float(v), 4) for v in separation],
                                                       "threshold": round(threshold, 4), "n_contexts": len(shifts)}
        logger.info("eegfactors: SCAN markers %s", self.markers_)

    def marker_table(self) -> pd.DataFrame:
        """Per label value and latent dimension: SCAN's posterior separation, the threshold, and whether it marks.

        Returns
        -------
        pd.DataFrame
            Columns ``label``, ``value``, ``dim``, ``separation`` (d' between the value's
            posterior and the label's other values', the other labels held fixed),
            ``threshold`` (max of ``marker_shift`` and the noise bound) and ``marker``.
        """
        self._check_fitted()
        effects = getattr(self, "marker_effects_", None)
        if effects is None:
            raise BitboxError("This model was saved before SCAN's marker separations were recorded: run "
                              "model.fit_scan(dataset) (SCAN only, seconds) to compute them.")
        rows = []
        for label, by_value in effects.items():
            for value, effect in by_value.items():
                separation = effect["separation"] or [float("nan")] * int(self.latent_dim)
                for dim, shift in enumerate(separation):
                    rows.append({"label": label, "value": value, "dim": dim, "separation": shift,
                                 "threshold": effect["threshold"], "marker": dim in self.markers_[label][value]})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ using
    def encode(self, erps: np.ndarray) -> np.ndarray:
        """Posterior means of ERPs ``(n, n_inputs, n_times)``: ``(n, latent_dim)``.

        Parameters
        ----------
        erps : np.ndarray
            ``(n, n_inputs, n_times)`` ERPs in microvolts, laid out as in training (conditions x channels);
            only their first ``n_times_`` samples are used.

        Returns
        -------
        np.ndarray
            ``(n, latent_dim)`` float32 means of the beta-VAE's posterior.

        Raises
        ------
        BitboxError
            The model is not fitted.
        """
        self._check_fitted()
        torch = _torch()
        with torch.no_grad():
            mu, _ = self.encoder_(self._prepare(erps))
        return mu.numpy()

    def decode(self, z: np.ndarray) -> np.ndarray:
        """ERPs (microvolts) decoded from latent vectors ``(n, latent_dim)``.

        Parameters
        ----------
        z : np.ndarray
            ``(n, latent_dim)`` latent vectors (the prior is N(0, I)).

        Returns
        -------
        np.ndarray
            ``(n, n_inputs, n_times_)`` ERPs in microvolts.

        Raises
        ------
        BitboxError
            The model is not fitted.
        """
        self._check_fitted()
        torch = _torch()
        with torch.no_grad():
            out = self.decoder_(torch.from_numpy(np.asarray(z, dtype=np.float32))).numpy()
        return out * self.scale_ + self.mean_

    def denoise(self, erps: np.ndarray) -> np.ndarray:
        """Encode then decode: ERPs of single trials or small averages, denoised.

        Parameters
        ----------
        erps : np.ndarray
            ``(n, n_inputs, n_times)`` ERPs in microvolts, as :meth:`encode` takes them.

        Returns
        -------
        np.ndarray
            ``(n, n_inputs, n_times_)`` denoised ERPs in microvolts.
        """
        return self.decode(self.encode(erps))

    def predict_proba(self, erps: np.ndarray) -> dict[str, pd.DataFrame]:
        """Per label, the probability of each value for each ERP (SCAN's decoder on the beta-VAE's code).

        Parameters
        ----------
        erps : np.ndarray
            ``(n, n_inputs, n_times)`` ERPs in microvolts, as :meth:`encode` takes them.

        Returns
        -------
        dict of str to pd.DataFrame
            Label -> ``(n, n_values)`` probabilities (rows: the ERPs; columns: the label's values, sorted).

        Raises
        ------
        BitboxError
            The model is not fitted.
        """
        self._check_fitted()
        torch = _torch()
        with torch.no_grad():
            logits = self.scan_decoder_(torch.from_numpy(self.encode(erps)))
        out = {}
        for (column, values), (a, b) in zip(self.label_values_.items(), self._groups()):
            out[column] = pd.DataFrame(torch.softmax(logits[:, a:b], dim=1).numpy(), columns=values)
        return out

    def predict(self, erps: np.ndarray) -> pd.DataFrame:
        """The most probable value of every label for each ERP.

        Parameters
        ----------
        erps : np.ndarray
            ``(n, n_inputs, n_times)`` ERPs in microvolts, as :meth:`encode` takes them.

        Returns
        -------
        pd.DataFrame
            One row per ERP, one column per label (see :meth:`predict_proba`).
        """
        return pd.DataFrame({c: p.idxmax(axis=1) for c, p in self.predict_proba(erps).items()})

    def traversal(self, dim: int, values: np.ndarray = np.linspace(-2.5, 2.5, 5)) -> np.ndarray:
        """ERPs decoded with latent ``dim`` set to each of ``values`` and the others at 0.

        Parameters
        ----------
        dim : int
            The latent dimension swept (0 to ``latent_dim - 1``).
        values : np.ndarray
            Its values, in prior SDs (default five from -2.5 to 2.5).

        Returns
        -------
        np.ndarray
            ``(len(values), n_inputs, n_times_)`` ERPs in microvolts.
        """
        z = np.zeros((len(values), int(self.latent_dim)), dtype=np.float32)
        z[:, dim] = values
        return self.decode(z)

    # ------------------------------------------------------------------ saving
    def save(self, folder: str | Path, *, data_info: dict | None = None) -> Path:
        """Save to ``folder``: ``model.safetensors`` (the four networks' weights, ``mean_`` and
        ``latent_kl_``) and ``model.json`` (format, the SHA-256 of the arrays, parameters, fitted
        metadata, provenance). Nothing is pickled: :meth:`load` runs no code from the folder.

        Parameters
        ----------
        folder : str | Path
            The model folder (created when missing); its two files are replaced.
        data_info : dict | None
            What the model was trained on, recorded as ``data`` in ``model.json`` (the CLI gives the
            epochs folder, the labels file, their SHA-256, subjects, channels and conditions).

        Returns
        -------
        Path
            The folder.

        Raises
        ------
        BitboxError
            The model is not fitted.
        """
        from bitbox.modelfiles import save_model

        self._check_fitted()
        arrays = {f"{name}.{key}": value.detach().cpu().numpy()
                  for name in _NETWORKS for key, value in getattr(self, name).state_dict().items()}
        arrays.update({"mean_": np.asarray(self.mean_, dtype=np.float32),
                       "latent_kl_": np.asarray(self.latent_kl_, dtype=np.float32)})
        return save_model(folder, fmt=_FORMAT, version=_FORMAT_VERSION, arrays={_ARRAYS: arrays}, packages=("torch",),
                          metadata={
            "model": "bitbox.clinical.eeg_factors.EegFactorModel", "parameters": self.get_params(),
            "fitted": {"n_times_": self.n_times_, "scale_": self.scale_, "channels_": self.channels_,
                       "conditions_": self.conditions_, "times_": np.asarray(self.times_).tolist(),
                       "n_inputs_": self.n_inputs_, "label_values_": self.label_values_, "markers_": self.markers_,
                       "marker_effects_": self.marker_effects_, "history_": self.history_},
            "data": data_info or {}})

    @classmethod
    def load(cls, folder: str | Path) -> "EegFactorModel":
        """Load a model saved with :meth:`save`, without pickle.

        Parameters
        ----------
        folder : str | Path
            A folder written by :meth:`save` (or ``bitbox eegfactors fit``).

        Returns
        -------
        EegFactorModel
            The fitted model, ready to encode, decode and predict.

        Raises
        ------
        bitbox.modelfiles.ModelFileError
            When the folder is not a model of this format and version, holds a pickled
            ``model.pt`` from an older Bitbox (refused unopened; the message gives the command
            that retrains it), or an array file's SHA-256 differs from the one recorded.
        BitboxError
            ``model.json`` and the arrays do not describe one model (missing or unknown entries, shapes
            that do not fit).
        """
        from bitbox.modelfiles import load_model

        torch = _torch()
        folder = Path(folder).expanduser()
        meta, arrays = load_model(folder, fmt=_FORMAT, versions=(_FORMAT_VERSION,), what="an EEG factor model",
                                  remedy="Give a folder written by `bitbox eegfactors fit` (or EegFactorModel.save)",
                                  legacy=("model.pt",), legacy_remedy=_retrain_hint(folder))
        try:
            state = arrays[_ARRAYS]
            parameters = dict(meta["parameters"])
            if parameters.pop("marker_sd", None) is not None:
                logger.warning("%s: saved by an older Bitbox whose markers_ came from SCAN queries with one label "
                               "set and the others zero (inputs never seen in training); run model.fit_scan(dataset) "
                               "to recompute them from the training label vectors (SCAN only).", folder)
            model = cls(**parameters)
            model.validate_params()
            unknown = set(meta["fitted"]) - set(_FITTED)
            if unknown:  # only the attributes save() writes: a crafted model.json sets nothing else
                raise KeyError(f"unknown fitted attribute(s) {sorted(unknown)}")
            for key, value in meta["fitted"].items():
                setattr(model, key, value)
            model.times_ = np.asarray(model.times_)
            model.mean_ = np.asarray(state["mean_"])
            model.latent_kl_ = np.asarray(state["latent_kl_"])
            model.encoder_, model.decoder_ = _build(model.n_inputs_, model.n_times_, int(model.latent_dim))
            n_labels = sum(len(v) for v in model.label_values_.values())
            model.scan_encoder_, model.scan_decoder_ = _build_scan(n_labels, int(model.latent_dim))
            for name in _NETWORKS:
                prefix = f"{name}."
                weights = {k[len(prefix):]: torch.from_numpy(v.copy()) for k, v in state.items()
                           if k.startswith(prefix)}
                getattr(model, name).load_state_dict(weights)
                getattr(model, name).eval()
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise BitboxError(f"{folder}: model.json and {_ARRAYS} do not describe one EEG factor model "
                              f"({type(err).__name__}: {err}). Save or train the model again.") from None
        return model

    def __repr__(self) -> str:
        """The parameters that differ from their defaults (:class:`~bitbox.params.ParamsMixin`), and whether it
        is fitted: ``EegFactorModel(beta=4.0) [not fitted]``."""
        fitted = "fitted" if hasattr(self, "encoder_") else "not fitted"
        return f"{super().__repr__()} [{fitted}]"


def _separation(mu_value: np.ndarray, sd_value: np.ndarray, mu_rest: np.ndarray, sd_rest: np.ndarray,
                counts_rest: np.ndarray) -> np.ndarray:
    """Per latent, d' between one Gaussian and the moment-matched mixture of others (weighted by subjects)."""
    weights = counts_rest / counts_rest.sum()
    mean = weights @ mu_rest
    variance = weights @ (sd_rest ** 2 + (mu_rest - mean) ** 2)
    return np.abs(mu_value - mean) / np.sqrt((sd_value ** 2 + variance) / 2)


def _retrain_hint(folder: Path) -> str:
    """The command that rebuilds an old (pickled) model folder from its own model.json, when it can be read."""
    command = "bitbox eegfactors fit --epochs EPOCHS_DIR --labels LABELS.csv -o NEW_FOLDER"
    try:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        params, data = meta["parameters"], meta.get("data") or {}
        command = (f"bitbox eegfactors fit --epochs {shlex.quote(str(data.get('epochs_dir', 'EPOCHS_DIR')))} "
                   f"--labels {shlex.quote(str(data.get('labels', 'LABELS.csv')))} -o NEW_FOLDER "
                   + " ".join(f"--{flag} {shlex.quote(str(params[key]))}" for flag, key in
                              (("latent-dim", "latent_dim"), ("beta", "beta"), ("n-epochs", "n_epochs"),
                               ("seed", "random_state"))))
        if data.get("channels"):
            command += f" --channels {shlex.quote(','.join(data['channels']))}"
        if data.get("conditions"):
            command += f" --conditions {shlex.quote(','.join(data['conditions']))}"
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return (f"Train it again from the same data with this version: `{command}` (training is seeded, so the same "
            "data and parameters give the same model; the old model.json lists the data's SHA-256). Only if you "
            "made this model.pt yourself and trust it: load it in the Bitbox version that wrote it and keep "
            "using that version")


def active_dims(model: EegFactorModel, threshold: float = 0.05) -> list[int]:
    """Latent dimensions that carry information (mean KL to the prior above ``threshold``), most first.

    Parameters
    ----------
    model : EegFactorModel
        A fitted model (its ``latent_kl_``: each dimension's mean KL over the training ERPs).
    threshold : float
        Smallest mean KL, in nats, of an active dimension (default 0.05).

    Returns
    -------
    list of int
        The active dimensions, largest KL first.
    """
    kl = np.asarray(model.latent_kl_)
    order = np.argsort(-kl)
    return [int(i) for i in order if kl[i] > threshold]
