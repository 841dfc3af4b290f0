"""Speaker clustering: known clusters on the sphere, the one-speaker rule, fixed counts, the
subsampling path for long recordings, and bad parameters."""
from __future__ import annotations

import numpy as np
import pytest

from bitbox.errors import ParameterError
from bitbox.processors.speakers.cluster import ClusterResult, cluster_speakers, refine_affinity, spread_similarity


def _turns(k: int, *, per_turn: int = 12, turns_each: int = 4, dim: int = 64, noise: float = 0.5,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit embeddings of ``k`` speakers taking turns (blocks of ``per_turn`` windows, in time order).

    Centres are random unit vectors in the positive orthant (like ReLU d-vectors: cosine 0.6-0.75
    between centres); each window is its centre plus Gaussian noise, normalised. Within a
    speaker, windows have cosine ~0.80 (2nd percentile ~0.73), across speakers ~0.53, as
    resemblyzer d-vectors of 1.5 s windows of real voices (0.75-0.84 and 0.5-0.7).
    """
    rng = np.random.default_rng(seed)
    centres = np.abs(rng.normal(size=(k, dim)))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    truth = np.repeat(np.tile(np.arange(k), turns_each), per_turn)
    points = centres[truth] + rng.normal(scale=noise / np.sqrt(dim), size=(truth.size, dim))
    return points / np.linalg.norm(points, axis=1, keepdims=True), truth


def _same_partition(labels: np.ndarray, truth: np.ndarray) -> bool:
    pairs = set(zip(labels.tolist(), truth.tolist()))
    return len(pairs) == len(set(labels.tolist())) == len(set(truth.tolist()))


@pytest.mark.parametrize("k", [2, 3, 4])
def test_known_speakers_found(k):
    x, truth = _turns(k, seed=k)
    result = cluster_speakers(x)
    assert isinstance(result, ClusterResult)
    assert result.n_speakers == k, result.why
    assert _same_partition(result.labels, truth)
    assert result.labels[0] == 0 and set(result.labels.tolist()) == set(range(k))  # order of first occurrence
    assert result.centroids.shape == (k, x.shape[1])
    np.testing.assert_allclose(np.linalg.norm(result.centroids, axis=1), 1.0)
    assert result.eigenvalues.size >= k + 1 and np.all(np.diff(result.eigenvalues) >= -1e-12)
    assert "eigengap" in result.why


def test_one_speaker_is_one():
    x, _ = _turns(1, turns_each=8)
    result = cluster_speakers(x)
    assert result.n_speakers == 1 and not result.labels.any()
    assert result.spread >= 0.575 and "one speaker" in result.why
    # a second voice taking one turn in eight (6% of the windows) is found
    two, truth = _turns(2, turns_each=4, seed=3)
    minority = np.flatnonzero(truth == 1)[12:]
    keep = np.setdiff1d(np.arange(truth.size), minority)
    result = cluster_speakers(two[keep])
    assert result.n_speakers == 2 and _same_partition(result.labels, truth[keep])


def test_n_speakers_and_range_fix_k():
    one, _ = _turns(1, turns_each=8)
    assert cluster_speakers(one, n_speakers=2).n_speakers == 2
    assert cluster_speakers(one, min_speakers=2).n_speakers == 2
    three, truth = _turns(3, seed=5)
    fixed = cluster_speakers(three, n_speakers=3)
    assert fixed.n_speakers == 3 and _same_partition(fixed.labels, truth) and fixed.why == "n_speakers=3"
    assert cluster_speakers(three, max_speakers=2).n_speakers == 2
    assert cluster_speakers(three, n_speakers=1).n_speakers == 1


def test_deterministic():
    x, _ = _turns(3, seed=11)
    a, b = cluster_speakers(x), cluster_speakers(x)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)


def test_subsample_path_labels_every_point():
    x, truth = _turns(3, per_turn=100, turns_each=4, seed=2)  # 1200 windows
    result = cluster_speakers(x, max_points=300)
    assert result.labels.shape == (1200,)
    assert result.n_speakers == 3 and _same_partition(result.labels, truth)
    assert "300 of 1200" in result.method


def test_tiny_inputs():
    x, _ = _turns(2, per_turn=1, turns_each=1)
    assert cluster_speakers(x[:1]).n_speakers == 1
    assert cluster_speakers(x[:2], n_speakers=2).labels.tolist() == [0, 1]


def test_refine_keeps_neighbours_and_is_symmetric():
    rng = np.random.default_rng(0)
    s = rng.uniform(size=(6, 6))
    s = (s + s.T) / 2
    np.fill_diagonal(s, 1.0)
    refined = refine_affinity(s, neighbours=2, soft=0.0)
    np.testing.assert_allclose(refined, refined.T)
    top = np.argsort(-s, axis=1)[:, :2]  # each row keeps its 2 largest entries (itself and one other)
    kept = np.zeros_like(s, dtype=bool)
    kept[np.arange(6)[:, None], top] = True
    for i in range(6):
        assert np.all(refined[i, top[i]] >= s[i, top[i]] / 2 - 1e-12)
    assert np.all(refined[~(kept | kept.T)] == 0)  # kept by neither row nor column: pruned
    np.testing.assert_allclose(refined[kept & kept.T], s[kept & kept.T])  # kept by both: unchanged
    assert spread_similarity(np.eye(3)[:1]) == 1.0


def test_bad_parameters():
    x, _ = _turns(2)
    with pytest.raises(ParameterError, match=r"min_speakers \(3\) is greater than max_speakers \(2\)"):
        cluster_speakers(x, min_speakers=3, max_speakers=2)
    with pytest.raises(ParameterError, match="n_speakers must be an integer >= 1"):
        cluster_speakers(x, n_speakers=0)
    with pytest.raises(ParameterError, match="min_speakers must be an integer >= 1"):
        cluster_speakers(x, min_speakers=0)
    with pytest.raises(ParameterError, match="only 96 embeddings"):
        cluster_speakers(x, n_speakers=97)
    bad = x.copy()
    bad[7, 3] = np.nan
    with pytest.raises(ParameterError, match="NaN or infinite values \\(first in row 7\\)"):
        cluster_speakers(bad)
    bad = x.copy()
    bad[5] = 0.0
    with pytest.raises(ParameterError, match="row 5 is all zeros"):
        cluster_speakers(bad)
    with pytest.raises(ParameterError, match="2-D array"):
        cluster_speakers(x[0])
    with pytest.raises(ParameterError, match="2-D array"):
        cluster_speakers(np.zeros((0, 256)))
    with pytest.raises(ParameterError, match="max_points"):
        cluster_speakers(x, max_points=3)
    with pytest.raises(ParameterError, match="one_speaker_similarity"):
        cluster_speakers(x, one_speaker_similarity=2.0)
    with pytest.raises(ValueError):  # ParameterError is a ValueError
        cluster_speakers(x, n_speakers=True)
