"""bitbox.cache: one keyed, thread-safe cache for loaded models, and bitbox.clear_caches() that frees them all."""
from __future__ import annotations

import threading
import time

import pytest

import bitbox
from bitbox.cache import Cache, caches, clear_all


def test_get_or_create_creates_once_and_clear_forgets():
    calls = []
    cache = Cache("test values")
    make = lambda: calls.append(1) or object()  # noqa: E731
    first = cache.get_or_create("a", make)
    assert cache.get_or_create("a", make) is first and len(calls) == 1
    assert len(cache) == 1 and "a" in cache and cache.get("a") is first and cache.get("b") is None
    assert cache.keys() == ["a"] and list(cache) == ["a"] and "1 cached" in repr(cache)
    assert cache.clear() == 1 and len(cache) == 0 and "a" not in cache
    assert cache.get_or_create("a", make) is not first and len(calls) == 2


def test_maxsize_drops_the_least_recently_used():
    cache = Cache("test lru", maxsize=2)
    for key in ("a", "b"):
        cache.get_or_create(key, lambda: key)
    cache.get_or_create("a", lambda: "again")  # a is now the most recently used
    cache.get_or_create("c", lambda: "c")
    assert cache.keys() == ["a", "c"] and cache.get("a") == "a"
    with pytest.raises(ValueError, match="maxsize must be a positive integer or None"):
        Cache("bad", maxsize=0)


def test_a_failing_factory_stores_nothing():
    cache = Cache("test failures")

    def broken():
        raise RuntimeError("no weights")

    with pytest.raises(RuntimeError, match="no weights"):
        cache.get_or_create("a", broken)
    assert len(cache) == 0 and cache.get_or_create("a", lambda: 1) == 1


def test_clear_all_clears_every_registered_cache_and_a_model_cache():
    from bitbox.processors.text import encoder as text_encoder

    mine = Cache("test registered")
    private = Cache("test private", register=False)
    mine.get_or_create(1, lambda: "x")
    private.get_or_create(1, lambda: "x")
    # A stand-in for a loaded encoder: load_encoder returns what its cache holds for the folder.
    pair = text_encoder._ENCODERS.get_or_create("/no/such/encoder", lambda: ("tokenizer", "model"))
    assert text_encoder.load_encoder("/no/such/encoder") is pair
    assert {"text encoders", "test registered"} <= {c.name for c in caches()}
    assert "test private" not in {c.name for c in caches()}
    assert bitbox.clear_caches is clear_all and "clear_caches" in bitbox.__all__
    assert bitbox.clear_caches() >= 2
    assert len(mine) == 0 and len(text_encoder._ENCODERS) == 0 and len(private) == 1


def test_two_threads_asking_for_the_same_key_get_one_factory_call():
    cache = Cache("test threads")
    calls, results = [], []
    started = threading.Event()

    def slow():
        calls.append(threading.get_ident())
        started.set()
        time.sleep(0.3)
        return object()

    threads = [threading.Thread(target=lambda: results.append(cache.get_or_create("model", slow))) for _ in range(2)]
    threads[0].start()
    assert started.wait(5)
    threads[1].start()  # asks while the first is still making it
    for thread in threads:
        thread.join(5)
    assert len(calls) == 1 and len(results) == 2 and results[0] is results[1]


def test_different_keys_are_made_concurrently():
    cache = Cache("test concurrency")
    a_started, b_done = threading.Event(), threading.Event()

    def make_a():
        a_started.set()
        assert b_done.wait(5), "the factory of 'b' waited for the factory of 'a'"
        return "a"

    thread = threading.Thread(target=lambda: cache.get_or_create("a", make_a))
    thread.start()
    assert a_started.wait(5)
    assert cache.get_or_create("b", lambda: "b") == "b"
    b_done.set()
    thread.join(5)
    assert cache.get("a") == "a"


def test_the_speaker_encoder_loads_once_for_two_threads(monkeypatch, tmp_path):
    from bitbox.processors.speakers import encoder as enc

    weights = tmp_path / "voices.pt"
    weights.write_bytes(b"stand-in weights")
    loads = []

    def load_state(path):
        loads.append(path)
        time.sleep(0.3)
        return {}

    monkeypatch.setattr(enc, "_load_state", load_state)
    monkeypatch.setattr(enc, "_network", lambda state: "network")
    got = []
    threads = [threading.Thread(target=lambda: got.append(enc.SpeakerEncoder.from_path(weights))) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert len(loads) == 1 and len(got) == 2 and got[0] is got[1] and got[0].source == "user file"
        assert enc.SpeakerEncoder.from_path(weights) is got[0]
        bitbox.clear_caches()
        assert enc.SpeakerEncoder.from_path(weights) is not got[0] and len(loads) == 2
    finally:
        enc._CACHE.clear()
