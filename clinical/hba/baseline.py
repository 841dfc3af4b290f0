"""The Bitbox descriptor baseline on HBA: our own face, pose and speech measures, pooled over time,
with text embeddings, and one classifier per dataset.

This is the benchmark's "behavioral descriptors" idea (pose keypoints and openSMILE frame
features pooled over time) measured with Bitbox's processors:

1. every sample's first video goes through ``face`` and ``pose``, its first audio through
   ``speech`` (``bitbox.process_folder``: cached, resumable, a failed file is recorded and
   its features left missing);
2. each numeric time-series measure is pooled over time: ``mean``; ``mean_std``;
   ``mean_std_quartiles`` (mean, std, 25th and 75th percentiles), NaN-aware;
3. the transcript (``texts``, else the prompt without its placeholders and answer options)
   is embedded with the packaged MiniLM (or any encoder folder);
4. per dataset: median imputation, standardisation, class-balanced logistic regression.

QA datasets (free-form answers) are not predicted: ``bitbox hba evaluate`` reports them as
missing.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from bitbox.errors import ParameterError
from bitbox.fileio import atomic_path, write_json
from bitbox.log import logger

from ..features import cached_embeddings, run_batch
from .reader import HbaFormatError, Sample, iter_samples
from .tasks import TaskRegistry, default_registry, normalize_answer

__all__ = ["DescriptorBaseline", "POOLINGS", "pool_timeseries", "pool_frames", "sample_text", "extract_descriptors"]

POOLINGS = {"mean": ("mean",), "mean_std": ("mean", "std"), "mean_std_quartiles": ("mean", "std", "p25", "p75")}
#: Which processors read which media of a sample.
MEDIA_PROCESSORS = {"videos": ("face", "pose"), "audios": ("speech",)}
_PLACEHOLDER = re.compile(r"<(?:audio|video|image)>", re.I)
_OPTIONS = re.compile(r"answer with one word from the following:.*$", re.I | re.S)


def _pool(values: np.ndarray, name: str, stats: Sequence[str], out: dict[str, float]) -> None:
    values = values[np.isfinite(values)]
    for stat in stats:
        if values.size == 0:
            out[f"{name}.{stat}"] = float("nan")
        elif stat == "mean":
            out[f"{name}.{stat}"] = float(values.mean())
        elif stat == "std":
            out[f"{name}.{stat}"] = float(values.std())
        else:
            out[f"{name}.{stat}"] = float(np.percentile(values, 25 if stat == "p25" else 75))


def pool_timeseries(frame: pd.DataFrame, stats: Sequence[str] = POOLINGS["mean_std_quartiles"]) -> dict[str, float]:
    """``{"<column>.<stat>": value}`` over time for every numeric column but ``time_s`` (NaN-aware)."""
    out: dict[str, float] = {}
    for column in frame.columns:
        if column == "time_s" or not (pd.api.types.is_numeric_dtype(frame[column])
                                      or pd.api.types.is_bool_dtype(frame[column])):
            continue
        _pool(frame[column].to_numpy(dtype=float, na_value=np.nan), column, stats, out)
    return out


def pool_frames(frames: Any, prefix: str, stats: Sequence[str] = POOLINGS["mean_std_quartiles"]) -> dict[str, float]:
    """Pool a (frames x dims) array over frames (a 1-D array is one frame), e.g. a sample's
    ``ext_video_feats``: ``{"<prefix>_<dim>.<stat>": value}``; ``{}`` for none or a ragged array."""
    if frames is None:
        return {}
    try:
        array = np.asarray(frames, dtype=float)
    except (TypeError, ValueError):
        return {}
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.size == 0:
        return {}
    out: dict[str, float] = {}
    for k in range(array.shape[1]):
        _pool(array[:, k], f"{prefix}_{k}", stats, out)
    return out


def sample_text(sample: Sample) -> str:
    """The words of a sample: its ``texts``, else its prompt without placeholders and answer options."""
    if sample.texts:
        return "\n".join(t for t in sample.texts if t.strip())
    return _OPTIONS.sub("", _PLACEHOLDER.sub("", sample.problem)).strip()


def extract_descriptors(samples: Sequence[Sample], out_dir: str | Path, *, processors: Sequence[str],
                        workers: int = 1, progress: bool = True) -> tuple[dict[str, dict[str, float]], dict]:
    """Pooled (all four statistics) descriptors per sample id, and the media that failed with why.

    Media go through ``bitbox.process_folder`` into ``out_dir/<media kind>`` (embedded media
    are written once under ``out_dir/media``), so a second call reuses every result.
    """
    out_dir = Path(out_dir)
    features: dict[str, dict[str, float]] = {s.id: {} for s in samples}
    failures: dict[str, str] = {}
    for kind, kind_processors in MEDIA_PROCESSORS.items():
        wanted = [p for p in kind_processors if p in processors]
        if not wanted:
            continue
        paths: dict[str, list[str]] = defaultdict(list)
        for sample in samples:
            media = getattr(sample, kind)
            if media:
                paths[str(Path(media[0].materialize(out_dir / "media")).resolve())].append(sample.id)
        if not paths:
            continue
        ok, _, failed = run_batch(sorted(paths), out_dir / kind, wanted, workers=workers, scheduler=None,
                                  progress=progress)
        failures.update(failed)
        for path, recording_id in ok.items():
            pooled: dict[str, float] = {}
            for processor in wanted:
                table = out_dir / kind / recording_id / f"{processor}.parquet"
                if table.is_file():
                    frame = pd.read_parquet(table)
                    pooled.update({f"{kind[:-1]}.{processor}.{k}": v for k, v in pool_timeseries(frame).items()})
            for sample_id in paths[path]:
                features[sample_id].update(pooled)
    return features, failures


class DescriptorBaseline:
    """One classifier per HBA dataset over pooled Bitbox descriptors and text embeddings.

    Parameters
    ----------
    processors : sequence of str
        Among ``face``, ``pose`` (videos) and ``speech`` (audios).
    pooling : {"mean", "mean_std", "mean_std_quartiles"}
        Statistics over time (the benchmark's three variants).
    text : bool
        Add the transcript's sentence embedding.
    ext_feats : bool
        Also pool the benchmark's own ``ext_video_feats`` (pose) and ``ext_audio_feats``
        (openSMILE) frames when samples carry them (the paper's descriptors).
    embedding_model : str | None
        Encoder folder (``None``: the packaged all-MiniLM-L6-v2).
    C : float
        Inverse regularisation of the logistic regressions.
    workers : int
        Processes for the feature extraction.

    Attributes
    ----------
    models_ : dict
        ``{dataset: fitted scikit-learn pipeline}``.
    columns_ : dict
        ``{dataset: feature names}``.
    classes_ : dict
        ``{dataset: labels seen in training}``.
    failures_ : dict
        Media whose processing failed during ``fit``, with the reason.
    """

    def __init__(self, *, processors: Sequence[str] = ("face", "pose", "speech"), pooling: str = "mean_std",
                 text: bool = True, ext_feats: bool = False, embedding_model: str | None = None, C: float = 1.0,
                 workers: int = 1) -> None:
        self.processors = processors
        self.pooling = pooling
        self.text = text
        self.ext_feats = ext_feats
        self.embedding_model = embedding_model
        self.C = C
        self.workers = workers

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters."""
        return {"processors": list(self.processors), "pooling": self.pooling, "text": self.text,
                "ext_feats": self.ext_feats,
                "embedding_model": self.embedding_model, "C": self.C, "workers": self.workers}

    def _validate(self) -> None:
        if self.pooling not in POOLINGS:
            raise ParameterError(f"The 'pooling' parameter of DescriptorBaseline must be one of {list(POOLINGS)}. "
                                 f"Got {self.pooling!r} instead.")
        unknown = sorted(set(self.processors) - {p for ps in MEDIA_PROCESSORS.values() for p in ps})
        if unknown:
            raise ParameterError(f"DescriptorBaseline reads media with face, pose and speech only. Got {unknown}.")
        if not self.processors and not self.text and not self.ext_feats:
            raise ParameterError("DescriptorBaseline needs at least one processor, text=True or ext_feats=True.")

    def _table(self, samples: Sequence[Sample], cache: Path, progress: bool) -> tuple[pd.DataFrame, dict]:
        ids = [s.id for s in samples]
        if len(set(ids)) != len(ids):
            twice = sorted(k for k, v in Counter(ids).items() if v > 1)[:5]
            raise HbaFormatError(samples[0].source.split(" ")[0], f"sample ids appear twice: {', '.join(twice)}",
                                 "Sample ids must be unique (or leave 'id' out to use row indices)")
        descriptors, failures = extract_descriptors(samples, cache, processors=list(self.processors),
                                                    workers=int(self.workers), progress=progress)
        stats = POOLINGS[self.pooling]
        rows = {sid: {k: v for k, v in feats.items() if k.rsplit(".", 1)[-1] in stats}
                for sid, feats in descriptors.items()}
        if self.ext_feats:
            for sample in samples:
                rows[sample.id].update(pool_frames(sample.ext_video_feats, "ext_video", stats))
                rows[sample.id].update(pool_frames(sample.ext_audio_feats, "ext_audio", stats))
        table = pd.DataFrame.from_dict(rows, orient="index")
        table = table.reindex([s.id for s in samples])
        if self.text:
            texts = {s.id: sample_text(s) for s in samples}
            vectors = cached_embeddings(cache / "embeddings", {k: v for k, v in texts.items() if v},
                                        self.embedding_model)
            dim = len(next(iter(vectors.values()))) if vectors else 0
            emb = pd.DataFrame([vectors.get(s.id, np.full(dim, np.nan)) for s in samples],
                               index=table.index, columns=[f"text.embedding_{k}" for k in range(dim)])
            table = pd.concat([table, emb], axis=1)
        return table, failures

    def fit(self, data: str | Path | Iterable[Sample], cache_dir: str | Path, *,
            registry: TaskRegistry | None = None, progress: bool = True) -> "DescriptorBaseline":
        """Extract descriptors (cached in ``cache_dir``) and fit one classifier per classification dataset."""
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self._validate()
        registry = registry or default_registry()
        samples = list(iter_samples(data) if isinstance(data, (str, Path)) else data)
        samples = [s for s in samples if not registry.get(s.dataset, s.task).is_qa]
        if not samples:
            raise ParameterError("The training data hold no classification samples (QA datasets are not "
                                 "predicted by the descriptor baseline).")
        table, self.failures_ = self._table(samples, Path(cache_dir), progress)
        self.models_, self.columns_, self.classes_, self.n_train_ = {}, {}, {}, {}
        for dataset in sorted({s.dataset for s in samples}):
            ids = [s.id for s in samples if s.dataset == dataset]
            labels = [normalize_answer(s.answer) for s in samples if s.dataset == dataset]
            X = table.loc[ids].dropna(axis=1, how="all")
            if X.shape[1] == 0:
                raise ParameterError(f"No features for {dataset}: its samples have no media that "
                                     f"{list(self.processors) or 'the processors'} read (or they all failed), no "
                                     "ext features, and text=False. Add processors or the text embedding.")
            classes = sorted(set(labels))
            self.columns_[dataset] = list(X.columns)
            self.classes_[dataset] = classes
            self.n_train_[dataset] = len(ids)
            if len(classes) < 2:
                self.models_[dataset] = classes[0]  # one class: that is the prediction
                logger.warning("HBA baseline: %s has a single class in training (%s)", dataset, classes[0])
                continue
            model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                  LogisticRegression(C=float(self.C), class_weight="balanced", max_iter=2000))
            self.models_[dataset] = model.fit(X.to_numpy(dtype=float), labels)
        return self

    def predict(self, data: str | Path | Iterable[Sample], cache_dir: str | Path, *,
                progress: bool = True) -> dict[str, str]:
        """``{sample id: predicted answer}`` for the samples of datasets the model was trained on."""
        if not hasattr(self, "models_"):
            raise ParameterError("This DescriptorBaseline is not fitted yet: call fit() or load() first.")
        samples = list(iter_samples(data) if isinstance(data, (str, Path)) else data)
        known = [s for s in samples if s.dataset in self.models_]
        skipped = sorted({s.dataset for s in samples} - set(self.models_))
        if skipped:
            logger.info("HBA baseline: no model for %s (QA or not in training); not predicted", ", ".join(skipped))
        if not known:
            return {}
        table, _ = self._table(known, Path(cache_dir), progress)
        out: dict[str, str] = {}
        for dataset in sorted({s.dataset for s in known}):
            ids = [s.id for s in known if s.dataset == dataset]
            model = self.models_[dataset]
            if isinstance(model, str):
                out.update(dict.fromkeys(ids, model))
                continue
            X = table.reindex(columns=self.columns_[dataset]).loc[ids]
            out.update(zip(ids, model.predict(X.to_numpy(dtype=float))))
        return out

    def save(self, path: str | Path, *, provenance: dict | None = None) -> Path:
        """``model.joblib`` (the fitted pipelines) and ``config.json`` (parameters, datasets, provenance)."""
        import joblib

        from bitbox.processor import package_versions

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with atomic_path(path / "model.joblib") as tmp:
            joblib.dump({"models": self.models_, "columns": self.columns_, "classes": self.classes_}, tmp)
        write_json(path / "config.json", {
            "format": "bitbox-hba-descriptor-baseline", "params": self.get_params(),
            "datasets": {d: {"classes": self.classes_[d], "n_train": self.n_train_[d],
                             "n_features": len(self.columns_[d])} for d in self.models_},
            "failed_media": self.failures_, "provenance": provenance or {},
            "package_versions": package_versions(("scikit-learn", "torch", "transformers", "mediapipe"))})
        return path

    @classmethod
    def load(cls, path: str | Path) -> "DescriptorBaseline":
        """A model saved by :meth:`save` (only load models you made: the file is a pickle)."""
        import joblib

        path = Path(path)
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ParameterError(f"{path} is not an HBA baseline model (no config.json): give the folder written by "
                                 "`bitbox hba baseline train`.") from None
        params = dict(config["params"])
        model = cls(**params)
        state = joblib.load(path / "model.joblib")
        model.models_, model.columns_, model.classes_ = state["models"], state["columns"], state["classes"]
        model.n_train_ = {d: v["n_train"] for d, v in config["datasets"].items()}
        model.failures_ = config.get("failed_media", {})
        return model

