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
- **Markers**: latent dimensions where q(z_y|y) for a label value is narrow (SD below
  ``marker_sd``; the prior's is 1) carry that label.

The loss sums the squared error over all inputs and samples of an ERP standardised by one
global scale, so ``beta`` is large by the usual standards: at ``beta=30`` (the default) the
simulated cohort's three generative factors each land in one latent dimension while the
other dimensions collapse to the prior; at ``beta=4`` every dimension encodes noise and the
factors are spread over several.

Everything is seeded (``random_state``), runs single-process on the CPU, and saves with
its provenance (:meth:`EegFactorModel.save`, :meth:`EegFactorModel.load`).
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bitbox.errors import BitboxError, ParameterError
from bitbox.log import logger
from bitbox.params import Interval, check_param
from bitbox.processor import package_versions

from .data import ErpDataset

__all__ = ["EegFactorModel", "active_dims"]


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


class EegFactorModel:
    """beta-VAE + SCAN over ERPs (scikit-learn style: parameters in ``__init__``, fitted attributes end in ``_``).

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
    learning_rate : float
    augment_draws : int
        Random-subset averages drawn per subject for training.
    augment_trials : int
        Trials per random-subset average.
    scan_beta, scan_lambda : float
        SCAN's prior and alignment weights.
    marker_sd : float
        Posterior SD below which a latent dimension is a label's marker.
    random_state : int
        Seed of every random draw (data augmentation, initialisation, batches).
    """

    _constraints = {"latent_dim": Interval(int, 1, 64), "beta": Interval(float, 0, None),
                    "n_epochs": Interval(int, 1, None), "scan_epochs": Interval(int, 1, None),
                    "batch_size": Interval(int, 1, None), "learning_rate": Interval(float, 0, 1, closed="right"),
                    "augment_draws": Interval(int, 1, None), "augment_trials": Interval(int, 1, None),
                    "scan_beta": Interval(float, 0, None), "scan_lambda": Interval(float, 0, None),
                    "marker_sd": Interval(float, 0, 1), "random_state": Interval(int, 0, None)}

    def __init__(self, *, latent_dim: int = 10, beta: float = 30.0, n_epochs: int = 80, scan_epochs: int = 100,
                 batch_size: int = 64, learning_rate: float = 1e-3, augment_draws: int = 30, augment_trials: int = 20,
                 scan_beta: float = 1.0, scan_lambda: float = 10.0, marker_sd: float = 0.75,
                 random_state: int = 0) -> None:
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
        self.marker_sd = marker_sd
        self.random_state = random_state

    # ------------------------------------------------------------------ parameters
    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._constraints}

    def set_params(self, **params: Any) -> "EegFactorModel":
        for key, value in params.items():
            if key not in self._constraints:
                raise ParameterError(f"{key!r} is not a parameter of EegFactorModel. "
                                     f"Valid: {sorted(self._constraints)}.")
            setattr(self, key, value)
        return self

    def _validate(self) -> None:
        for key, constraint in self._constraints.items():
            check_param(key, getattr(self, key), constraint, owner="EegFactorModel")

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
        """Train the beta-VAE on the dataset's ERPs, then SCAN on its labels."""
        self._validate()
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
        """(Re)train SCAN on the dataset's labels with the beta-VAE frozen (fast re-mapping)."""
        self._check_fitted()
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
        self.markers_ = self._markers()
        return self

    def _groups(self) -> list[tuple[int, int]]:
        groups, start = [], 0
        for values in self.label_values_.values():
            groups.append((start, start + len(values)))
            start += len(values)
        return groups

    def _markers(self) -> dict[str, dict[str, list[int]]]:
        """Per label and value: latent dimensions whose SCAN posterior SD is below ``marker_sd``, narrowest first."""
        torch = _torch()
        markers: dict[str, dict[str, list[int]]] = {}
        offset = 0
        n_labels = sum(len(v) for v in self.label_values_.values())
        for column, values in self.label_values_.items():
            markers[column] = {}
            for k, value in enumerate(values):
                y = torch.zeros(1, n_labels)
                y[0, offset + k] = 1.0
                with torch.no_grad():
                    _, logvar = self.scan_encoder_(y).chunk(2, dim=1)
                sd = (0.5 * logvar.clamp(-10, 5)).exp()[0].numpy()
                narrow = np.flatnonzero(sd < float(self.marker_sd))
                markers[column][value] = [int(i) for i in narrow[np.argsort(sd[narrow])]]
            offset += len(values)
        return markers

    # ------------------------------------------------------------------ using
    def encode(self, erps: np.ndarray) -> np.ndarray:
        """Posterior means of ERPs ``(n, n_inputs, n_times)``: ``(n, latent_dim)``."""
        self._check_fitted()
        torch = _torch()
        with torch.no_grad():
            mu, _ = self.encoder_(self._prepare(erps))
        return mu.numpy()

    def decode(self, z: np.ndarray) -> np.ndarray:
        """ERPs (microvolts) decoded from latent vectors ``(n, latent_dim)``."""
        self._check_fitted()
        torch = _torch()
        with torch.no_grad():
            out = self.decoder_(torch.from_numpy(np.asarray(z, dtype=np.float32))).numpy()
        return out * self.scale_ + self.mean_

    def denoise(self, erps: np.ndarray) -> np.ndarray:
        """Encode then decode: ERPs of single trials or small averages, denoised."""
        return self.decode(self.encode(erps))

    def predict_proba(self, erps: np.ndarray) -> dict[str, pd.DataFrame]:
        """Per label, the probability of each value for each ERP (SCAN's decoder on the beta-VAE's code)."""
        self._check_fitted()
        torch = _torch()
        with torch.no_grad():
            logits = self.scan_decoder_(torch.from_numpy(self.encode(erps)))
        out = {}
        for (column, values), (a, b) in zip(self.label_values_.items(), self._groups()):
            out[column] = pd.DataFrame(torch.softmax(logits[:, a:b], dim=1).numpy(), columns=values)
        return out

    def predict(self, erps: np.ndarray) -> pd.DataFrame:
        """The most probable value of every label for each ERP."""
        return pd.DataFrame({c: p.idxmax(axis=1) for c, p in self.predict_proba(erps).items()})

    def traversal(self, dim: int, values: np.ndarray = np.linspace(-2.5, 2.5, 5)) -> np.ndarray:
        """ERPs decoded with latent ``dim`` set to each of ``values`` and the others at 0."""
        z = np.zeros((len(values), int(self.latent_dim)), dtype=np.float32)
        z[:, dim] = values
        return self.decode(z)

    # ------------------------------------------------------------------ saving
    def save(self, folder: str | Path, *, data_info: dict | None = None) -> Path:
        """Save to ``folder`` (``model.pt`` and ``model.json`` with the provenance)."""
        self._check_fitted()
        torch = _torch()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        from bitbox.fileio import atomic_path, write_json

        state = {name: getattr(self, name).state_dict() for name in
                 ("encoder_", "decoder_", "scan_encoder_", "scan_decoder_")}
        state["arrays"] = {"mean_": self.mean_, "latent_kl_": self.latent_kl_}
        with atomic_path(folder / "model.pt") as tmp:
            torch.save(state, tmp)
        write_json(folder / "model.json", {
            "model": "bitbox.clinical.eeg_factors.EegFactorModel", "parameters": self.get_params(),
            "fitted": {"n_times_": self.n_times_, "scale_": self.scale_, "channels_": self.channels_,
                       "conditions_": self.conditions_, "times_": self.times_.tolist(),
                       "n_inputs_": self.n_inputs_, "label_values_": self.label_values_, "markers_": self.markers_,
                       "history_": self.history_},
            "data": data_info or {}, "package_versions": package_versions(("torch",)),
            "saved_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "EegFactorModel":
        """Load a model saved with :meth:`save`."""
        torch = _torch()
        folder = Path(folder)
        if not (folder / "model.json").is_file() or not (folder / "model.pt").is_file():
            raise BitboxError(f"{folder}: not an EEG factor model (model.json and model.pt expected).")
        meta = json.loads((folder / "model.json").read_text())
        model = cls(**meta["parameters"])
        for key, value in meta["fitted"].items():
            setattr(model, key, value)
        model.times_ = np.asarray(model.times_)
        state = torch.load(folder / "model.pt", weights_only=False)
        model.mean_ = np.asarray(state["arrays"]["mean_"])
        model.latent_kl_ = np.asarray(state["arrays"]["latent_kl_"])
        model.encoder_, model.decoder_ = _build(model.n_inputs_, model.n_times_, int(model.latent_dim))
        n_labels = sum(len(v) for v in model.label_values_.values())
        model.scan_encoder_, model.scan_decoder_ = _build_scan(n_labels, int(model.latent_dim))
        for name in ("encoder_", "decoder_", "scan_encoder_", "scan_decoder_"):
            getattr(model, name).load_state_dict(state[name])
            getattr(model, name).eval()
        return model

    def __repr__(self) -> str:
        fitted = "fitted" if hasattr(self, "encoder_") else "not fitted"
        return f"EegFactorModel(latent_dim={self.latent_dim}, beta={self.beta}) [{fitted}]"


def active_dims(model: EegFactorModel, threshold: float = 0.05) -> list[int]:
    """Latent dimensions that carry information (mean KL to the prior above ``threshold``), most first."""
    kl = np.asarray(model.latent_kl_)
    order = np.argsort(-kl)
    return [int(i) for i in order if kl[i] > threshold]
