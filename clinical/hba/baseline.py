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
4. optionally (``ext_feats``) the benchmark's own OpenPose and openSMILE features, read from
   its ``.pt`` files and pooled the same way;
5. per dataset: median imputation, standardisation, class-balanced logistic regression.

QA datasets (free-form answers) are not predicted: ``bitbox hba evaluate`` reports them as
missing.
"""
from __future__ import annotations

import json
import re
import shlex
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from bitbox import Measurements
from bitbox.errors import ParameterError
from bitbox.log import logger
from bitbox.params import Bool, InstanceOf, Interval, NoneOk, Options, ParamsMixin, PathLike

from ..features import cached_embeddings, run_batch
from .reader import EXT_FIELDS, HbaFeatureError, HbaFormatError, Media, Sample, iter_samples, read_ext_feats
from .tasks import TaskRegistry, default_registry, normalize_answer

__all__ = ["DescriptorBaseline", "LinearPipeline", "POOLINGS", "pool_timeseries", "pool_frames", "sample_text",
           "extract_descriptors", "ext_features"]

POOLINGS = {"mean": ("mean",), "mean_std": ("mean", "std"), "mean_std_quartiles": ("mean", "std", "p25", "p75")}
#: Which processors read which media of a sample.
MEDIA_PROCESSORS = {"videos": ("face", "pose"), "audios": ("speech",)}
_PLACEHOLDER = re.compile(r"<(?:audio|video|image)>", re.I)
_FORMAT = "bitbox-hba-descriptor-baseline"
#: 2: safetensors + SHA-256 in config.json (1 was a pickled model.joblib, no longer read).
_FORMAT_VERSION = 2
_ARRAYS = "model.safetensors"
_OPTIONS = re.compile(r"answer with one word from the following:.*$", re.I | re.S)


def _pool(values: np.ndarray, name: str, stats: Sequence[str], out: dict[str, float], *,
          quartiles: str = "linear") -> None:
    """NaN-aware statistics of ``values``; ``quartiles="order"`` takes the benchmark's order statistics
    (``torch.kthvalue`` with ``k = max(1, int(q * n))``, ``bam_utils.pool_temporal``), ``"linear"``
    numpy's interpolated percentiles."""
    values = values[np.isfinite(values)]
    for stat in stats:
        if values.size == 0:
            out[f"{name}.{stat}"] = float("nan")
        elif stat == "mean":
            out[f"{name}.{stat}"] = float(values.mean())
        elif stat == "std":
            out[f"{name}.{stat}"] = float(values.std())
        else:
            q = 0.25 if stat == "p25" else 0.75
            if quartiles == "order":
                out[f"{name}.{stat}"] = float(np.sort(values)[max(1, int(q * values.size)) - 1])
            else:
                out[f"{name}.{stat}"] = float(np.percentile(values, 100 * q))


def pool_timeseries(frame: pd.DataFrame, stats: Sequence[str] = POOLINGS["mean_std_quartiles"]) -> dict[str, float]:
    """``{"<column>.<stat>": value}`` over time for every numeric column but ``time_s`` (NaN-aware).

    Parameters
    ----------
    frame : pd.DataFrame
        A processor's time series, one row per frame (boolean columns count as 0/1; other
        non-numeric columns are skipped).
    stats : sequence of str
        Among ``mean``, ``std`` (population), ``p25`` and ``p75`` (interpolated percentiles); default all four.

    Returns
    -------
    dict of str to float
        One value per column and statistic, over the column's finite values (NaN when it has none).
    """
    out: dict[str, float] = {}
    for column in frame.columns:
        if column == "time_s" or not (pd.api.types.is_numeric_dtype(frame[column])
                                      or pd.api.types.is_bool_dtype(frame[column])):
            continue
        _pool(frame[column].to_numpy(dtype=float, na_value=np.nan), column, stats, out)
    return out


def pool_frames(frames: Any, prefix: str, stats: Sequence[str] = POOLINGS["mean_std_quartiles"]) -> dict[str, float]:
    """Pool a (frames x dims) array over frames (a 1-D array is one frame), e.g. a sample's
    ``ext_video_feats``: ``{"<prefix>_<dim>.<stat>": value}``; ``{}`` for none or a ragged array.

    As the benchmark's ``pool_temporal``: population standard deviation, and quartiles as
    order statistics (the ``max(1, int(q * n))``-th smallest value); unlike it, NaN-aware
    (non-finite values are left out per dimension) and in float64 (it pools in float32).

    Parameters
    ----------
    frames : array-like | None
        ``(frames, dims)`` numbers, or one ``(dims,)`` frame; ``None`` gives ``{}``.
    prefix : str
        The feature names' prefix (e.g. ``"ext_video"``).
    stats : sequence of str
        Among ``mean``, ``std``, ``p25`` and ``p75``; default all four.

    Returns
    -------
    dict of str to float
        One value per dimension and statistic (NaN for a dimension without a finite value).
    """
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
        _pool(array[:, k], f"{prefix}_{k}", stats, out, quartiles="order")
    return out


def ext_features(samples: Sequence[Sample], stats: Sequence[str]) -> tuple[dict[str, dict[str, float]],
                                                                          dict[str, str]]:
    """The pooled ``ext_video_feats`` / ``ext_audio_feats`` of each sample (by id), and those that
    could not be read with why (:func:`~bitbox.clinical.hba.reader.read_ext_feats`: missing
    file, unsafe or unreadable file, wrong layout); those samples' features are left missing.

    Parameters
    ----------
    samples : sequence of Sample
        The samples, as :func:`~bitbox.clinical.hba.reader.iter_samples` read them.
    stats : sequence of str
        Statistics of :func:`pool_frames` (e.g. ``POOLINGS["mean_std"]``).

    Returns
    -------
    features : dict of str to dict
        Sample id -> ``{"ext_video_<dim>.<stat>" | "ext_audio_<dim>.<stat>": value}`` (empty without features).
    failures : dict of str to str
        ``"sample <id> <field>"`` (with the file's name) -> why it could not be read; also logged.
    """
    features: dict[str, dict[str, float]] = {s.id: {} for s in samples}
    failures: dict[str, str] = {}
    for sample in samples:
        for name in EXT_FIELDS:
            try:
                frames = read_ext_feats(sample, name)
            except HbaFeatureError as err:
                value = getattr(sample, name)
                failures[f"sample {sample.id} {name}" + (f"[0] {value.name}" if isinstance(value, Media) else "")] \
                    = str(err)
                continue
            features[sample.id].update(pool_frames(frames, name[:-len("_feats")], stats))
    if failures:
        logger.warning("HBA baseline: the ext features of %d sample field(s) could not be read (left missing, "
                       "imputed): %s%s", len(failures), "; ".join(f"{k}: {v}" for k, v in list(failures.items())[:3]),
                       " ..." if len(failures) > 3 else "")
    return features, failures


def sample_text(sample: Sample) -> str:
    """The words of a sample: its ``texts``, else its prompt without placeholders and answer options.

    Parameters
    ----------
    sample : Sample
        The sample.

    Returns
    -------
    str
        Its non-blank ``texts``, one per line; else its ``problem`` without ``<audio>``/``<video>``/``<image>``
        and from "answer with one word from the following:" on, stripped (possibly ``""``).
    """
    if sample.texts:
        return "\n".join(t for t in sample.texts if t.strip())
    return _OPTIONS.sub("", _PLACEHOLDER.sub("", sample.problem)).strip()


def extract_descriptors(samples: Sequence[Sample], out_dir: str | Path, *, processors: Sequence[str],
                        workers: int = 1, progress: bool = True) -> tuple[dict[str, dict[str, float]], dict]:
    """Pooled (all four statistics) descriptors per sample id, and the media that failed with why
    (including media paths the reader refused, ``Sample.refused_media``).

    Media go through ``bitbox.process_folder`` into ``out_dir/<media kind>`` (embedded media
    are written once under ``out_dir/media``), so a second call reuses every result.

    Parameters
    ----------
    samples : sequence of Sample
        The samples; each one's first video and first audio are measured (a medium shared by
        several samples once).
    out_dir : str | Path
        The cache folder of the batches and of embedded media.
    processors : sequence of str
        Among ``face``, ``pose`` (videos) and ``speech`` (audios); others are ignored.
    workers : int
        Worker processes of the batches (default 1).
    progress : bool
        Show progress bars (default True).

    Returns
    -------
    features : dict of str to dict
        Sample id -> ``{"<video|audio>.<processor>.<column>.<stat>": value}`` (empty when nothing was measured).
    failures : dict
        Refused media paths and media whose processing failed -> the reason.
    """
    out_dir = Path(out_dir)
    features: dict[str, dict[str, float]] = {s.id: {} for s in samples}
    failures: dict[str, str] = {k: v for s in samples for k, v in s.refused_media.items()}
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
            measured = Measurements.read(out_dir / kind / recording_id)
            for processor in wanted:
                if processor in measured:
                    frame = measured[processor].timeseries
                    pooled.update({f"{kind[:-1]}.{processor}.{k}": v for k, v in pool_timeseries(frame).items()})
            for sample_id in paths[path]:
                features[sample_id].update(pooled)
    return features, failures


class DescriptorBaseline(ParamsMixin):
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
        Also pool the benchmark's own ``ext_video_feats`` (OpenPose) and ``ext_audio_feats``
        (openSMILE) when samples carry them (the paper's descriptors): ``.pt`` files relative to
        the data file, read safely (:func:`~bitbox.clinical.hba.reader.read_ext_feats`), or
        numbers inline; pooled over frames with ``pooling`` (:func:`pool_frames`). A file that is
        missing or cannot be read leaves that sample's features missing (imputed) and is listed
        with the reason in ``failures_`` / ``predict_failures_`` and logged.
    embedding_model : str | None
        Encoder folder (``None``: the packaged all-MiniLM-L6-v2).
    C : float
        Inverse regularisation of the logistic regressions.
    workers : int
        Processes for the feature extraction.

    Attributes
    ----------
    models_ : dict
        ``{dataset: LinearPipeline}`` (the fitted imputer, scaler and logistic regression as
        arrays), or the answer itself for a dataset with a single class in training.
    columns_ : dict
        ``{dataset: feature names}``.
    classes_ : dict
        ``{dataset: labels seen in training}``.
    failures_ : dict
        Media whose processing failed during ``fit``, media or feature paths the reader refused,
        and ext feature files that could not be read, with the reason.
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

    # get_params / set_params / repr: bitbox.params.ParamsMixin (get_params round-trips:
    # ``DescriptorBaseline(**b.get_params())``)
    _parameter_constraints = {
        "processors": [InstanceOf(list, tuple)],
        "pooling": [Options(POOLINGS)],
        "text": [Bool()],
        "ext_feats": [Bool()],
        "embedding_model": [PathLike(), NoneOk()],
        "C": [Interval(float, 0, None, closed="neither")],
        "workers": [Interval(int, 1, None)],
    }

    def validate_params(self) -> None:
        """Check the parameters (:class:`~bitbox.params.ParamsMixin`), then that ``processors`` are among
        face, pose and speech and that something is measured.

        Raises
        ------
        ParameterError
            Naming the parameter and what it must be.
        """
        super().validate_params()
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
            ext, ext_failures = ext_features(samples, stats)
            failures.update(ext_failures)
            for sample_id, values in ext.items():
                rows[sample_id].update(values)
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
            registry: TaskRegistry | None = None, progress: bool = True, media_root: str | Path | None = None,
            allow_outside_paths: bool = False) -> "DescriptorBaseline":
        """Extract descriptors (cached in ``cache_dir``) and fit one classifier per classification dataset.

        ``media_root`` and ``allow_outside_paths`` go to :func:`~bitbox.clinical.hba.reader.iter_samples`
        when ``data`` is a path: media outside the data file's folder (or ``media_root``) are
        refused, and listed in ``failures_`` with the reason.

        Parameters
        ----------
        data : str | Path | iterable of Sample
            Training samples: a ``.jsonl`` or ``.parquet`` file or a folder of them, or samples already
            read. QA samples are left out; answers are normalised (:func:`~bitbox.clinical.hba.tasks.normalize_answer`).
        cache_dir : str | Path
            Folder of the descriptor batches and embeddings (reused by later calls).
        registry : TaskRegistry | None
            Tells QA datasets from classification ones; ``None`` (default) for the benchmark's.
        progress : bool
            Show progress bars (default True).
        media_root : str | Path | None
            The folder media must lie in (default: each data file's folder).
        allow_outside_paths : bool
            Accept media paths outside that folder (default False): only for data files you trust.

        Returns
        -------
        DescriptorBaseline
            This model, fitted.

        Raises
        ------
        ParameterError
            A parameter is invalid, the data hold no classification sample, or a dataset has no feature.
        HbaFormatError
            The data cannot be read, or a sample id appears twice.
        """
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.validate_params()
        registry = registry or default_registry()
        samples = list(iter_samples(data, media_root=media_root, allow_outside_paths=allow_outside_paths)
                       if isinstance(data, (str, Path)) else data)
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
            # kept as arrays (same predictions): what save() writes and load() reads, without pickle
            self.models_[dataset] = LinearPipeline.from_sklearn(model.fit(X.to_numpy(dtype=float), labels))
        return self

    def predict(self, data: str | Path | Iterable[Sample], cache_dir: str | Path, *,
                progress: bool = True, media_root: str | Path | None = None,
                allow_outside_paths: bool = False) -> dict[str, str]:
        """``{sample id: predicted answer}`` for the samples of datasets the model was trained on.

        Media that could not be measured, or whose path was refused (see :meth:`fit`), leave
        their features missing (imputed); they are listed with the reason in
        ``predict_failures_``.

        Parameters
        ----------
        data : str | Path | iterable of Sample
            Samples to predict: a ``.jsonl`` or ``.parquet`` file or a folder of them, or samples already
            read. Samples of other datasets (QA, or not in training) are skipped and logged.
        cache_dir : str | Path
            Folder of the descriptor batches and embeddings (may be the training's).
        progress : bool
            Show progress bars (default True).
        media_root : str | Path | None
            The folder media must lie in (default: each data file's folder).
        allow_outside_paths : bool
            Accept media paths outside that folder (default False): only for data files you trust.

        Returns
        -------
        dict of str to str
            Sample id -> predicted answer (one of its dataset's training classes).

        Raises
        ------
        ParameterError
            The model is not fitted.
        HbaFormatError
            The data cannot be read, or a sample id appears twice.
        """
        if not hasattr(self, "models_"):
            raise ParameterError("This DescriptorBaseline is not fitted yet: call fit() or load() first.")
        self.predict_failures_: dict[str, str] = {}
        samples = list(iter_samples(data, media_root=media_root, allow_outside_paths=allow_outside_paths)
                       if isinstance(data, (str, Path)) else data)
        known = [s for s in samples if s.dataset in self.models_]
        skipped = sorted({s.dataset for s in samples} - set(self.models_))
        if skipped:
            logger.info("HBA baseline: no model for %s (QA or not in training); not predicted", ", ".join(skipped))
        if not known:
            return {}
        table, self.predict_failures_ = self._table(known, Path(cache_dir), progress)
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
        """``model.safetensors`` (per dataset: imputation medians, scaler mean and scale,
        coefficients and intercepts) and ``config.json`` (format, the arrays' SHA-256, parameters,
        classes, column names, provenance). Nothing is pickled: :meth:`load` runs no code.

        Parameters
        ----------
        path : str | Path
            The model folder (created when missing); its files are replaced.
        provenance : dict | None
            Recorded as given in ``config.json`` (the CLI gives the training data's files and SHA-256);
            ``None`` (default) records an empty dict.

        Returns
        -------
        Path
            The folder.

        Raises
        ------
        ParameterError
            The model is not fitted.
        """
        from bitbox.modelfiles import save_model

        if not hasattr(self, "models_"):
            raise ParameterError("This DescriptorBaseline is not fitted yet: call fit() before save().")
        arrays: dict[str, np.ndarray] = {}
        datasets: dict[str, dict[str, Any]] = {}
        for dataset, model in self.models_.items():
            entry = {"classes": self.classes_[dataset], "n_train": self.n_train_[dataset],
                     "n_features": len(self.columns_[dataset]), "columns": self.columns_[dataset]}
            if isinstance(model, str):
                entry["constant"] = model
            else:
                entry["model_classes"] = list(model.classes_)
                arrays.update({f"{dataset}/{k}": v for k, v in model.arrays().items()})
            datasets[dataset] = entry
        return save_model(path, fmt=_FORMAT, version=_FORMAT_VERSION, manifest="config.json",
                          arrays={_ARRAYS: arrays},
                          packages=("scikit-learn", "torch", "transformers", "mediapipe"),
                          metadata={"params": {**self.get_params(), "processors": list(self.processors)},
                                    "datasets": datasets, "failed_media": self.failures_,
                                    "provenance": provenance or {}})

    @classmethod
    def load(cls, path: str | Path) -> "DescriptorBaseline":
        """A model saved by :meth:`save` (arrays + JSON, checked against their SHA-256; no pickle).

        Parameters
        ----------
        path : str | Path
            A folder written by :meth:`save` (or ``bitbox hba baseline train``).

        Returns
        -------
        DescriptorBaseline
            The fitted model, with the ``failures_`` of its training.

        Raises
        ------
        ParameterError
            ``config.json`` and the arrays do not describe one model (missing entries, shapes that do not fit,
            invalid parameters).
        bitbox.modelfiles.ModelFileError
            When the folder is not such a model, holds a pickled ``model.joblib`` from an older
            Bitbox (refused unopened; the message gives the command that retrains it), or an
            array file was changed after saving.
        """
        from bitbox.modelfiles import load_model

        path = Path(path).expanduser()
        remedy = "Give the folder written by `bitbox hba baseline train` (or DescriptorBaseline.save)"
        config, arrays = load_model(path, fmt=_FORMAT, versions=(_FORMAT_VERSION,), what="an HBA baseline model",
                                    remedy=remedy, manifest="config.json", legacy=("model.joblib",),
                                    legacy_remedy=_retrain_hint(path))
        try:
            state = arrays[_ARRAYS]
            model = cls(**dict(config["params"]))
            model.validate_params()
            model.models_, model.columns_, model.classes_, model.n_train_ = {}, {}, {}, {}
            for dataset, entry in config["datasets"].items():
                model.columns_[dataset] = list(entry["columns"])
                model.classes_[dataset] = list(entry["classes"])
                model.n_train_[dataset] = int(entry["n_train"])
                if "constant" in entry:
                    model.models_[dataset] = str(entry["constant"])
                else:
                    prefix = f"{dataset}/"
                    model.models_[dataset] = LinearPipeline.from_arrays(
                        {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)},
                        entry["model_classes"], n_features=len(model.columns_[dataset]))
            model.failures_ = dict(config.get("failed_media") or {})
        except (KeyError, TypeError, ValueError) as err:
            raise ParameterError(f"{path}: config.json and {_ARRAYS} do not describe one HBA baseline model "
                                 f"({type(err).__name__}: {err}). {remedy}.") from None
        return model


def _retrain_hint(path: Path) -> str:
    """The command that rebuilds an old (pickled) model folder from its own config.json, when it can be read."""
    command = "bitbox hba baseline train --data TRAIN_DATA -o NEW_FOLDER"
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        params = config["params"]
        files = list((config.get("provenance") or {}).get("data") or {})
        data = files[0] if len(files) == 1 else str(Path(files[0]).parent) if files else "TRAIN_DATA"
        command = (f"bitbox hba baseline train --data {shlex.quote(data)} -o NEW_FOLDER "
                   f"--processors {shlex.quote(','.join(params['processors']))} "
                   f"--pooling {shlex.quote(str(params['pooling']))} "
                   f"--C {shlex.quote(str(params['C']))}"
                   + ("" if params.get("text", True) else " --no-text")
                   + (" --ext-feats" if params.get("ext_feats") else "")
                   + (f" --embedding-model {shlex.quote(str(params['embedding_model']))}"
                      if params.get("embedding_model") else ""))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return (f"Train it again with this version from your own copy of the data (the same data and parameters give "
            f"the same classifiers; the descriptors are cached beside the new folder, never taken from the old "
            f"folder, whose contents its sender chose): `{command}`")


class LinearPipeline:
    """Median imputation, standardisation and a (multinomial or binary) logistic regression, as plain arrays.

    The fitted scikit-learn pipeline ``SimpleImputer(strategy="median") -> StandardScaler() ->
    LogisticRegression()`` reduced to what prediction needs, with the same arithmetic (so the
    same predictions), and saved without pickle.

    Parameters
    ----------
    statistics : ndarray, shape (n_features,)
        The imputer's medians (NaN: a feature the imputer drops).
    mean, scale : ndarray, shape (n_kept,)
        The scaler's statistics.
    coef : ndarray, shape (1 or n_classes, n_kept)
        The logistic regression's coefficients (one row for two classes).
    intercept : ndarray, shape (1 or n_classes,)
        Its intercepts.
    classes : sequence of str
        The class labels, in the order of the regression's classes (its ``classes_``).
    """

    _ARRAYS = ("statistics", "mean", "scale", "coef", "intercept")

    def __init__(self, statistics: np.ndarray, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray,
                 intercept: np.ndarray, classes: Sequence[str]) -> None:
        self.statistics = np.asarray(statistics, dtype=np.float64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.classes_ = np.asarray(list(classes), dtype=object)

    @classmethod
    def from_sklearn(cls, pipeline: Any) -> "LinearPipeline":
        """From a fitted ``make_pipeline(SimpleImputer, StandardScaler, LogisticRegression)``.

        Parameters
        ----------
        pipeline : sklearn.pipeline.Pipeline
            The fitted pipeline: exactly those three steps, in that order.

        Returns
        -------
        LinearPipeline
            The same predictions, from plain arrays (class labels as strings).
        """
        imputer, scaler, logistic = (step for _, step in pipeline.steps)
        return cls(imputer.statistics_, scaler.mean_, scaler.scale_, logistic.coef_, logistic.intercept_,
                   [str(c) for c in logistic.classes_])

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], classes: Sequence[str], *, n_features: int
                    ) -> "LinearPipeline":
        """From :meth:`arrays` and the class names, checking the shapes agree.

        Parameters
        ----------
        arrays : dict of str to np.ndarray
            ``statistics``, ``mean``, ``scale``, ``coef`` and ``intercept``, as :meth:`arrays` gives them.
        classes : sequence of str
            The class labels, in the regression's order.
        n_features : int
            Input features (the length of ``statistics``).

        Returns
        -------
        LinearPipeline
            The pipeline.

        Raises
        ------
        KeyError
            An array is missing.
        ValueError
            The shapes do not fit ``n_features`` and the number of classes.
        """
        model = cls(*(arrays[name] for name in cls._ARRAYS), classes)
        kept = int(np.isfinite(model.statistics).sum())
        rows = 1 if len(model.classes_) == 2 else len(model.classes_)
        if (model.statistics.shape != (n_features,) or model.mean.shape != (kept,) or model.scale.shape != (kept,)
                or model.coef.shape != (rows, kept) or model.intercept.shape != (rows,)):
            raise ValueError(f"array shapes {[arrays[n].shape for n in cls._ARRAYS]} do not fit {n_features} "
                             f"features and {len(model.classes_)} classes")
        return model

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save."""
        return {name: getattr(self, name) for name in self._ARRAYS}

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Scores as ``LogisticRegression.decision_function`` gives them: ``(n,)`` for two classes, else ``(n, k)``.

        Parameters
        ----------
        X : np.ndarray
            ``(n, n_features)`` features; NaN is imputed with the training medians. Not modified.

        Returns
        -------
        np.ndarray
            ``(n,)`` scores of the second class for two classes, else ``(n, n_classes)``.
        """
        X = np.array(X, dtype=np.float64, order="C")  # a copy: the caller's array is not modified
        missing = np.isnan(X)
        if missing.any():
            X[missing] = np.broadcast_to(self.statistics, X.shape)[missing]
        valid = np.isfinite(self.statistics)
        if not valid.all():
            X = X[:, valid]
        X -= self.mean
        X /= self.scale
        scores = X @ self.coef.T + self.intercept
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : np.ndarray
            ``(n, n_features)`` features, as :meth:`decision_function` takes them.

        Returns
        -------
        np.ndarray
            ``(n,)`` class labels.
        """
        scores = self.decision_function(X)
        indices = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[indices]
