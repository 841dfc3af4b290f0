r"""Who is who: spectral clustering of speaker embeddings, the number of speakers by the eigengap.

Method
------
For unit embeddings :math:`e_i` (rows of ``embeddings``, normalised here) of windows in time
order:

1. **Affinity**: cosine similarity :math:`S_{ij} = e_i \cdot e_j`, clipped at 0.
2. **Refinement** (after Wang et al. 2018, "Speaker diarization with LSTM", and the
   row-wise pruning of Park et al. 2019, "Auto-tuning spectral clustering for speaker
   diarization using normalized maximum eigengap", NME-SC): each row keeps its :math:`P`
   largest entries (its :math:`P` nearest neighbours, itself included) and the others are
   multiplied by 0.01; the result is symmetrised, :math:`A = (A + A^\top)/2`. :math:`P` is
   tuned per recording: for each candidate :math:`P = \max(20, \lceil f n \rceil)`,
   :math:`f \in \{0.04, 0.07, 0.1, 0.15, 0.2, 0.3\}`, the normalised maximal eigengap
   :math:`g_P = \max_k (\lambda_{k+1} - \lambda_k) / \lambda_{\max}` is computed and the
   :math:`P` that minimises :math:`(P / n) / g_P` is kept (a clear gap with few neighbours).
   At least 20 neighbours: more than the windows that overlap one window (1.5 s windows every
   0.25 s overlap 10 others), else the graph is a chain of neighbours in time and the
   eigengap over-counts speakers.
3. **One speaker?** The eigengap cannot choose :math:`k = 1`. One speaker's windows are all
   alike, so even their least similar pairs are similar, while a second speaker fills the
   low tail of the pairwise similarities with cross-speaker pairs: when ``min_speakers`` is 1
   and ``n_speakers`` is unset, the recording has one speaker when the ``percentile``-th
   (default 2nd) percentile of all pairwise cosine similarities is at least
   ``one_speaker_similarity`` (default 0.575, calibrated for 1.5 s windows).
4. **Number of speakers**: eigenvalues :math:`0 = \lambda_1 \le \lambda_2 \le \dots` of the
   normalised Laplacian :math:`L = I - D^{-1/2} A D^{-1/2}` (:math:`D` the row sums of
   :math:`A`); :math:`k = \arg\max_{k} (\lambda_{k+1} - \lambda_k)` over
   ``[max(2, min_speakers), max_speakers]``. ``n_speakers`` fixes :math:`k` instead.
5. **Labels**: k-means (k-means++, 10 starts, ``random_state``) on the rows of the :math:`k`
   first eigenvectors of :math:`L`, each row scaled to unit length (Ng, Jordan and Weiss 2001).
6. **Over-splits**: unless ``n_speakers`` is set, the most alike pair of clusters is merged
   while it is one speaker by the rule of step 3 on its union, or its centroids (normalised
   mean embeddings) have a cosine similarity above :data:`MERGE_SIMILARITY` (0.85), never
   below ``max(2, min_speakers)`` clusters.

Calibration (issue-22 notes): resemblyzer d-vectors of 1.5 s windows every 0.25 s on
concatenated speech of four real speakers and five synthetic voices: 14/14 one-speaker inputs,
20/20 two-speaker, 6/6 three- and 4/4 four-speaker inputs got the right count.

Large inputs: above ``max_points`` embeddings, an evenly spaced (deterministic) subsample
of ``max_points`` is clustered and every embedding gets the label of its most similar
centroid; memory stays :math:`O(\text{max\_points}^2)` whatever the recording's length.

Everything is deterministic for a given input and ``random_state``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bitbox.errors import ParameterError
from bitbox.log import logger

__all__ = ["ClusterResult", "cluster_speakers", "cosine_affinity", "refine_affinity", "laplacian_eigen",
           "spread_similarity", "unit_centroids", "ONE_SPEAKER_SIMILARITY", "MERGE_SIMILARITY", "SPREAD_PERCENTILE",
           "MAX_POINTS"]

#: The one-speaker rule: a 2nd-percentile pairwise similarity at least this is one speaker (1.5 s windows).
ONE_SPEAKER_SIMILARITY = 0.575
#: Percentile of the pairwise similarities the one-speaker rule looks at.
SPREAD_PERCENTILE = 2.0
#: Above this many embeddings, a subsample is clustered and the rest assigned to the nearest centroid.
MAX_POINTS = 2000
_SOFT = 0.01  # factor for the pruned entries of the affinity (Wang et al. 2018)
#: Over-split clusters whose centroids are more similar than this are merged (calibrated, see module docs).
MERGE_SIMILARITY = 0.85
_PRUNE_FRACTIONS = (0.04, 0.07, 0.1, 0.15, 0.2, 0.3)
#: At least this many neighbours per row: more than the windows that overlap one window in time
#: (2 x 1.5 s / 0.25 s = 12), so that the graph is not a chain of overlapping windows.
_MIN_NEIGHBOURS = 20
_SPREAD_POINTS = 800  # rows the spread test looks at (evenly spaced): bounded time and memory
_ROWS = 4096  # rows normalised at a time outside the clustered subsample


@dataclass(frozen=True)
class ClusterResult:
    """Clustering of speaker embeddings.

    Attributes
    ----------
    labels : np.ndarray
        ``(n,)`` int, speakers ``0 .. n_speakers - 1`` numbered in order of first occurrence.
    n_speakers : int
    centroids : np.ndarray
        ``(n_speakers, d)`` unit-length mean embedding of each speaker (row ``j`` is label ``j``).
    eigenvalues : np.ndarray
        The smallest eigenvalues of the normalised Laplacian (ascending; at most
        ``max_speakers + 1``); empty when there was nothing to decompose (one embedding).
    method : str
        What was done, in words (affinity, pruning, subsampling).
    why : str
        Why this number of speakers (fixed, eigengap, merged centroids).
    neighbours : int
        Neighbours kept per row of the affinity (0 when not clustered).
    spread : float
        The one-speaker rule's statistic: the ``percentile``-th percentile of all pairwise
        cosine similarities.
    """

    labels: np.ndarray
    n_speakers: int
    centroids: np.ndarray
    eigenvalues: np.ndarray
    method: str
    why: str
    neighbours: int = 0
    spread: float = float("nan")


# ---------------------------------------------------------------------------- pieces
def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / norms


def cosine_affinity(embeddings: np.ndarray) -> np.ndarray:
    """``S[i, j] = max(0, e_i . e_j)`` for unit rows ``e_i`` (``(n, n)`` float64, diagonal 1)."""
    unit = _unit_rows(np.asarray(embeddings, dtype=np.float64))
    affinity = np.clip(unit @ unit.T, 0.0, 1.0)
    np.fill_diagonal(affinity, 1.0)
    return affinity


def refine_affinity(affinity: np.ndarray, *, neighbours: int, soft: float = _SOFT) -> np.ndarray:
    """Row-wise pruning and symmetrisation of an affinity matrix.

    Each row keeps its ``neighbours`` largest entries; the others are multiplied by ``soft``;
    then :math:`A \\leftarrow (A + A^\\top)/2`.
    """
    n = affinity.shape[0]
    keep = int(np.clip(neighbours, 1, n))
    refined = affinity * soft
    top = np.argpartition(-affinity, keep - 1, axis=1)[:, :keep]
    rows = np.repeat(np.arange(n), keep)
    refined[rows, top.ravel()] = affinity[rows, top.ravel()]
    return (refined + refined.T) / 2.0


def laplacian_eigen(affinity: np.ndarray, *, n_vectors: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_vectors`` smallest eigenvalues (ascending) and eigenvectors of the normalised Laplacian.

    :math:`L = I - D^{-1/2} A D^{-1/2}`, :math:`D = \\mathrm{diag}(\\sum_j A_{ij})`.
    """
    from scipy.linalg import eigh

    n = affinity.shape[0]
    n_vectors = int(min(max(n_vectors, 1), n))
    d = 1.0 / np.sqrt(np.maximum(affinity.sum(axis=1), 1e-12))
    laplacian = np.eye(n) - (affinity * d[:, None]) * d[None, :]
    laplacian = (laplacian + laplacian.T) / 2.0
    values, vectors = eigh(laplacian, subset_by_index=[0, n_vectors - 1], driver="evr")
    return np.clip(values, 0.0, None), vectors


def _largest_gap(values: np.ndarray, lo: int, hi: int) -> tuple[int, float]:
    """``k`` in ``[lo, hi]`` with the largest ``values[k] - values[k-1]`` (0-based eigenvalues)."""
    gaps = np.diff(values)  # gaps[k-1] = values[k] - values[k-1]: the gap after k clusters
    hi = min(hi, gaps.size)
    if hi < lo:
        return lo, 0.0
    k = lo + int(np.argmax(gaps[lo - 1:hi]))
    return k, float(gaps[k - 1])


def _spectral_labels(vectors: np.ndarray, k: int, random_state: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    rows = vectors[:, :k]
    rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    return KMeans(n_clusters=k, n_init=10, random_state=random_state).fit_predict(rows)


def unit_centroids(unit: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """The normalised mean of the unit rows of each label ``0..k-1``, shape ``(k, d)``."""
    sums = np.zeros((k, unit.shape[1]))
    np.add.at(sums, labels, unit)
    return _unit_rows(np.where(np.linalg.norm(sums, axis=1, keepdims=True) > 0, sums, 1.0))


def _first_occurrence_order(labels: np.ndarray) -> np.ndarray:
    """Relabel so that labels are 0, 1, ... in order of first occurrence."""
    _, first = np.unique(labels, return_index=True)
    order = np.unique(labels)[np.argsort(first)]
    mapping = np.empty(int(labels.max()) + 1, dtype=np.int64)
    mapping[order] = np.arange(order.size)
    return mapping[labels]


def spread_similarity(unit: np.ndarray, *, percentile: float = SPREAD_PERCENTILE) -> float:
    """The ``percentile``-th percentile of the pairwise cosine similarities of unit rows (off-diagonal).

    One speaker's windows are all alike, so even their least similar pairs are similar; with
    two speakers the cross-speaker pairs fill the low tail. 1.0 for a single row.
    """
    n = unit.shape[0]
    if n < 2:
        return 1.0
    sims = (unit @ unit.T)[np.triu_indices(n, 1)]
    return float(np.percentile(sims, percentile))


def _merge_alike(unit: np.ndarray, labels: np.ndarray, *, threshold: float, percentile: float,
                 min_k: int, centroid_similarity: float) -> tuple[np.ndarray, list[str]]:
    """Merge the most alike pair of clusters while it is alike enough to be one speaker.

    A pair is one speaker when the one-speaker rule holds on its union
    (:func:`spread_similarity` >= ``threshold``) or when its centroids' cosine similarity
    exceeds ``centroid_similarity`` (windows that straddle a speaker change lower the spread
    of an over-split speaker's parts without making their centroids differ).
    """
    notes = []
    labels = _first_occurrence_order(labels)
    while True:
        k = int(labels.max()) + 1
        if k <= min_k:
            return labels, notes
        cent = unit_centroids(unit, labels, k)
        best, pair, note = -np.inf, (0, 1), ""
        for i in range(k):
            for j in range(i + 1, k):
                union = unit[(labels == i) | (labels == j)]
                spread = spread_similarity(union[_evenly(union.shape[0], _SPREAD_POINTS)], percentile=percentile)
                closeness = float(cent[i] @ cent[j])
                # both tests on one scale: how far each is past its threshold
                score = max(spread - threshold, closeness - centroid_similarity)
                if score > best:
                    best, pair = score, (i, j)
                    note = f"p{percentile:g} similarity {spread:.3f}, centroid similarity {closeness:.3f}"
        if best < 0:
            return labels, notes
        notes.append(f"merged two clusters alike as one speaker ({note})")
        labels = _first_occurrence_order(np.where(labels == pair[1], pair[0], labels))


def _evenly(count: int, limit: int) -> np.ndarray:
    """``limit`` evenly spaced indices of ``range(count)`` (all of them when ``count <= limit``)."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(np.int64))


def _is_count(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate(embeddings, n_speakers, min_speakers, max_speakers, max_points, one_speaker_similarity) -> np.ndarray:
    x = np.asarray(embeddings)
    if x.dtype not in (np.float32, np.float64):  # float32 stays float32: no copy of a long recording's windows
        x = x.astype(np.float64)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ParameterError(f"embeddings must be a 2-D array (n_windows, dimensions) with at least one row; "
                             f"got shape {x.shape}")
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        raise ParameterError(f"embeddings hold NaN or infinite values (first in row {int(np.flatnonzero(~finite)[0])}"
                             "); embed the windows again or drop those rows")
    zero = _row_norms(x) == 0
    if zero.any():
        raise ParameterError(f"embedding row {int(np.flatnonzero(zero)[0])} is all zeros: it has no direction to "
                             "compare; drop it")
    for name, value in (("min_speakers", min_speakers), ("max_speakers", max_speakers)):
        if not _is_count(value) or value < 1:
            raise ParameterError(f"{name} must be an integer >= 1; got {value!r}")
    if min_speakers > max_speakers:
        raise ParameterError(f"min_speakers ({min_speakers}) is greater than max_speakers ({max_speakers})")
    if n_speakers is not None and (not _is_count(n_speakers) or n_speakers < 1):
        raise ParameterError(f"n_speakers must be an integer >= 1, or None to estimate it; got {n_speakers!r}")
    if n_speakers is not None and n_speakers > x.shape[0]:
        raise ParameterError(f"n_speakers={n_speakers} but there are only {x.shape[0]} embeddings (windows) to "
                             "cluster")
    if not _is_count(max_points) or max_points < 10:
        raise ParameterError(f"max_points must be an integer >= 10; got {max_points!r}")
    if isinstance(one_speaker_similarity, bool) or not isinstance(one_speaker_similarity, (int, float)) \
            or not -1.0 <= one_speaker_similarity <= 1.0:
        raise ParameterError(f"one_speaker_similarity must be a cosine similarity in [-1, 1]; got "
                             f"{one_speaker_similarity!r}")
    return x


def _choose_pruning(affinity: np.ndarray, *, lo: int, hi: int):
    """NME-SC: the pruning whose normalised maximal eigengap is clearest for its number of neighbours."""
    m = affinity.shape[0]
    n_vectors = min(hi + 1, m)
    best = None
    for fraction in _PRUNE_FRACTIONS:
        neighbours = int(min(m, max(_MIN_NEIGHBOURS, np.ceil(fraction * m))))
        values, vectors = laplacian_eigen(refine_affinity(affinity, neighbours=neighbours), n_vectors=n_vectors)
        k, gap = _largest_gap(values, lo, hi)
        score = (neighbours / m) / max(gap / max(float(values[-1]), 1e-12), 1e-12)
        if best is None or score < best[0]:
            best = (score, neighbours, values, vectors, k, gap)
    return best[1:]


def _assign_rest(x: np.ndarray, sample: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Labels of all rows: the sample's own, the nearest centroid's (cosine) for the others (in blocks, each
    normalised in float64 on its own: no float64 copy of all the rows)."""
    full = np.empty(x.shape[0], dtype=np.int64)
    full[sample] = labels
    rest = np.setdiff1d(np.arange(x.shape[0]), sample)
    for start in range(0, rest.size, _ROWS):
        block = rest[start:start + _ROWS]
        full[block] = np.argmax(_unit_rows(x[block].astype(np.float64)) @ centroids.T, axis=1)
    return full


def _row_norms(x: np.ndarray) -> np.ndarray:
    """The rows' Euclidean norms, computed in float64 a block of rows at a time."""
    return np.concatenate([np.linalg.norm(x[i:i + _ROWS].astype(np.float64), axis=1)
                           for i in range(0, x.shape[0], _ROWS)]) if x.shape[0] else np.zeros(0)


def _unit_centroids_blocks(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """:func:`unit_centroids` of the unit rows of ``x``, normalised a block at a time (the same sums, in the
    same order)."""
    sums = np.zeros((k, x.shape[1]))
    for i in range(0, x.shape[0], _ROWS):
        np.add.at(sums, labels[i:i + _ROWS], _unit_rows(x[i:i + _ROWS].astype(np.float64)))
    return _unit_rows(np.where(np.linalg.norm(sums, axis=1, keepdims=True) > 0, sums, 1.0))


# ---------------------------------------------------------------------------- main
def cluster_speakers(embeddings: np.ndarray, *, n_speakers: int | None = None, min_speakers: int = 1,
                     max_speakers: int = 8, random_state: int = 0, max_points: int = MAX_POINTS,
                     one_speaker_similarity: float = ONE_SPEAKER_SIMILARITY,
                     percentile: float = SPREAD_PERCENTILE) -> ClusterResult:
    """Group speaker embeddings (windows in time order) into speakers.

    Parameters
    ----------
    embeddings : np.ndarray
        ``(n, d)`` speaker embeddings (normalised to unit length here).
    n_speakers : int, optional
        The number of speakers when it is known (``min_speakers``/``max_speakers`` are then
        not used). At most ``n``.
    min_speakers, max_speakers : int
        The range the estimated number lies in (``1 <= min_speakers <= max_speakers``).
    random_state : int
        Seed of k-means.
    max_points : int
        Above this many embeddings, an evenly spaced subsample is clustered and the other
        embeddings get their nearest centroid's label.
    one_speaker_similarity : float
        The one-speaker rule: embeddings (or the union of two clusters) whose ``percentile``-th
        percentile of pairwise cosine similarity reaches this are one speaker. Calibrated for
        resemblyzer d-vectors of 1.5 s windows (0.565 suits 1.0 s windows; 0.5 s windows are
        too noisy for the rule); only used when ``n_speakers`` is unset.
    percentile : float
        The percentile of that rule (2: a second speaker with ~1% of the windows already fills it).

    Returns
    -------
    ClusterResult

    Raises
    ------
    ParameterError
        A non-2-D or empty input, NaN/infinite values or all-zero rows, ``min_speakers >
        max_speakers``, counts below 1, ``n_speakers`` larger than the number of embeddings.
    """
    x = _validate(embeddings, n_speakers, min_speakers, max_speakers, max_points, one_speaker_similarity)
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or not 0 <= percentile <= 50:
        raise ParameterError(f"percentile must be a number in [0, 50]; got {percentile!r}")
    n = x.shape[0]
    lo, hi = (int(n_speakers),) * 2 if n_speakers is not None else (int(min_speakers), int(min(max_speakers, n)))
    lo = min(lo, hi)
    sample = _evenly(n, int(max_points))
    sub = _unit_rows(x[sample].astype(np.float64))  # float64 unit rows of the subsample only: memory stays bounded
    method = "spectral clustering of a cosine affinity"
    if sample.size < n:
        method += f"; {sample.size} of {n} embeddings clustered (evenly spaced), the rest given their nearest centroid"

    spread = spread_similarity(sub[_evenly(sub.shape[0], _SPREAD_POINTS)], percentile=percentile)
    alike = n_speakers is None and lo == 1 and spread >= one_speaker_similarity
    if hi == 1 or alike or n < 3:
        k = 1 if (hi == 1 or alike or n == 1) else n
        if hi == 1:
            why = "n_speakers=1" if n_speakers is not None else "max_speakers=1"
        elif alike:
            why = (f"one speaker: the p{percentile:g} of pairwise similarities is {spread:.3f} >= "
                   f"{one_speaker_similarity}")
        else:
            why = f"only {n} embeddings, unlike each other (p{percentile:g} similarity {spread:.3f})"
        labels = np.zeros(n, dtype=np.int64) if k == 1 else np.arange(n)
        return ClusterResult(labels, k, _unit_centroids_blocks(x, labels, k), np.zeros(0), "no clustering", why, 0,
                             spread)

    affinity = cosine_affinity(sub)
    neighbours, values, vectors, k_gap, gap = _choose_pruning(affinity, lo=max(2, lo), hi=max(2, hi))
    k = lo if n_speakers is not None else k_gap
    if n_speakers is not None:
        why = f"n_speakers={n_speakers}"
    else:
        why = (f"more than one speaker (p{percentile:g} similarity {spread:.3f} < {one_speaker_similarity}) "
               if lo == 1 else "") + f"largest eigengap at k={k_gap} ({gap:.3f}) within [{max(2, lo)}, {max(2, hi)}]"
    labels = _spectral_labels(vectors, k, random_state)
    if n_speakers is None:
        labels, notes = _merge_alike(sub, labels, threshold=one_speaker_similarity, percentile=percentile,
                                     min_k=max(2, lo), centroid_similarity=MERGE_SIMILARITY)
        if notes:
            why += "; " + "; ".join(notes)
    labels = _first_occurrence_order(labels)
    k = int(labels.max()) + 1
    centroids = unit_centroids(sub, labels, k)
    if sample.size < n:
        labels = _first_occurrence_order(_assign_rest(x, sample, labels, centroids))
        k = int(labels.max()) + 1
        centroids = _unit_centroids_blocks(x, labels, k)
    method += f", {neighbours} of {sample.size} neighbours kept per row"
    logger.debug("cluster_speakers: %d speakers (%s); %s", k, why, method)
    return ClusterResult(labels, k, centroids, values.copy(), method, why, neighbours, spread)
