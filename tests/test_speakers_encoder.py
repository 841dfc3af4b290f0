"""The speaker encoder: mel front end (librosa's numbers), the d-vector network (a numpy LSTM),
model-file location and refusal of wrong files, and speaker discrimination on real voices."""
from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pytest

from bitbox.modelfiles import ModelFileError
from bitbox.errors import ParameterError
from bitbox.processors.speakers import encoder as enc
from bitbox.processors.speakers.encoder import SpeakerEncoder, mel_filterbank, mel_frames, normalize_volume

PS = Path("/usr/share/pocketsphinx/test/data")


@pytest.fixture(scope="module")
def encoder() -> SpeakerEncoder:
    try:
        return SpeakerEncoder.from_path()
    except ModelFileError as err:
        pytest.fail(f"speaker encoder not installed ({err}); `make install` / `python tools/speaker_model.py` "
                    "installs it")


@pytest.fixture(scope="module")
def state(encoder) -> dict[str, np.ndarray]:
    return {k: v.numpy().astype(np.float64) for k, v in enc._load_state(encoder.path).items()}


@pytest.fixture(scope="module")
def chirp() -> np.ndarray:
    """1 s linear chirp 200 -> 3200 Hz at 0.1 amplitude, 16 kHz."""
    t = np.arange(16000) / 16000
    return (0.1 * np.sin(2 * np.pi * (200 * t + 1500 * t ** 2))).astype(np.float32)


# ---------------------------------------------------------------------------- front end
def test_mel_matches_librosa_melspectrogram_as_resemblyzer_calls_it(chirp):
    import librosa

    noisy = chirp + np.random.default_rng(0).normal(0, 0.01, chirp.size).astype(np.float32)
    for signal in (chirp, np.tile(noisy, 50)):  # 50 s: several STFT blocks
        mel = mel_frames(signal, sr=16000, normalize=False)
        reference = librosa.feature.melspectrogram(y=signal, sr=16000, n_fft=400, hop_length=160, n_mels=40).T
        assert mel.shape == reference.shape and mel.dtype == np.float32
        np.testing.assert_allclose(mel, reference, rtol=1e-4, atol=1e-6 * reference.max())
    # pinned values (computed with librosa 0.10.2, equal with 0.11.0), so a change of librosa's filters is noticed
    mel = mel_frames(chirp, sr=16000, normalize=False)
    assert int(mel[37].argmax()) == 16 and mel.sum() == pytest.approx(130.9063, rel=1e-5)


def test_mel_is_power_and_frames_are_10ms(chirp):
    quiet = mel_frames(chirp, sr=16000, normalize=False)
    loud = mel_frames(2 * chirp, sr=16000, normalize=False)
    np.testing.assert_allclose(loud, 4 * quiet, rtol=1e-5, atol=1e-9)  # |X|^2, not log
    assert mel_frames(np.zeros(16000 * 3 + 17, np.float32), sr=16000).shape == (1 + (16000 * 3 + 17) // 160, 40)
    # 48 kHz input is resampled: same frames, same spectrum to within the resampler's accuracy
    t = np.arange(48000) / 48000
    tone48 = (0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    tone16 = (0.1 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)).astype(np.float32)
    m48, m16 = mel_frames(tone48, sr=48000), mel_frames(tone16, sr=16000)
    assert m48.shape == m16.shape
    np.testing.assert_allclose(m48[5:-5], m16[5:-5], rtol=0.02, atol=1e-3 * m16.max())
    assert int(m48[50].argmax()) == int(m16[50].argmax())


def test_volume_raised_to_minus_30_dbfs_never_lowered(chirp):
    quiet = chirp * 0.001  # about -83 dBFS
    raised = normalize_volume(quiet)
    assert 20 * np.log10(np.sqrt(np.mean(raised.astype(np.float64) ** 2))) == pytest.approx(-30.0, abs=1e-4)
    np.testing.assert_array_equal(normalize_volume(chirp), chirp)  # -23 dBFS: left as it is
    np.testing.assert_array_equal(normalize_volume(np.zeros(100, np.float32)), np.zeros(100))  # silence: no NaN
    # the encoder's input does not depend on the recording level below -30 dBFS
    np.testing.assert_allclose(mel_frames(quiet, sr=16000), mel_frames(chirp * 0.01, sr=16000), rtol=1e-4, atol=1e-9)


def test_mel_bad_input():
    with pytest.raises(ParameterError, match="mono"):
        mel_frames(np.zeros((2, 100)), sr=16000)
    with pytest.raises(ParameterError, match="sample rate"):
        mel_frames(np.zeros(100), sr=0)
    with pytest.raises(ParameterError, match="NaN"):
        mel_frames(np.array([0.0, np.nan, 0.1]), sr=16000)


# ---------------------------------------------------------------------------- network
def _numpy_dvector(state: dict[str, np.ndarray], window: np.ndarray) -> np.ndarray:
    """The d-vector by a plain per-step LSTM (PyTorch gate order i, f, g, o), in float64."""
    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    inputs = window.astype(np.float64)
    for layer in range(3):
        w_ih, w_hh = state[f"lstm.weight_ih_l{layer}"], state[f"lstm.weight_hh_l{layer}"]
        bias = state[f"lstm.bias_ih_l{layer}"] + state[f"lstm.bias_hh_l{layer}"]
        h, c, outputs = np.zeros(256), np.zeros(256), []
        for x in inputs:
            i, f, g, o = np.split(w_ih @ x + w_hh @ h + bias, 4)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
            outputs.append(h)
        inputs = np.array(outputs)
    raw = np.maximum(state["linear.weight"] @ h + state["linear.bias"], 0.0)
    return raw / np.linalg.norm(raw)


def test_embedding_equals_per_step_numpy_lstm(encoder, state, chirp):
    mel = mel_frames(chirp, sr=16000)
    starts, lengths = np.array([0, 30, 50]), np.array([12, 7, 12])
    got = encoder.embed(mel, starts=starts, lengths=lengths)
    assert got.shape == (3, 256) and got.dtype == np.float32
    for row, (s, n) in enumerate(zip(starts, lengths)):
        np.testing.assert_allclose(got[row], _numpy_dvector(state, mel[s:s + n]), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    assert (got >= 0).all()


def test_embedding_deterministic_and_batch_independent(encoder, chirp):
    import torch

    mel = mel_frames(chirp, sr=16000)
    starts = np.arange(0, 60, 5)
    lengths = np.where(np.arange(starts.size) % 2, 40, 25)
    threads = torch.get_num_threads()
    a = encoder.embed(mel, starts=starts, lengths=lengths)
    b = encoder.embed(mel, starts=starts, lengths=lengths)
    c = encoder.embed(mel, starts=starts, lengths=lengths, batch_size=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, c, atol=1e-6)  # grouping windows by length keeps the order of starts
    assert torch.get_num_threads() == threads  # restored
    assert encoder.embed(mel, starts=np.array([], int), lengths=160).shape == (0, 256)
    assert SpeakerEncoder.from_path() is encoder  # cached


def test_embed_bad_windows(encoder, chirp):
    mel = mel_frames(chirp, sr=16000)
    with pytest.raises(ParameterError, match="outside"):
        encoder.embed(mel, starts=np.array([95]), lengths=10)
    with pytest.raises(ParameterError, match="outside"):
        encoder.embed(mel, starts=np.array([0]), lengths=0)
    with pytest.raises(ParameterError, match="shape"):
        encoder.embed(mel[:, :20], starts=np.array([0]), lengths=5)
    with pytest.raises(ParameterError, match="integer"):
        encoder.embed(mel, starts=np.array([0.5]), lengths=5)


def _pocketsphinx(pattern: str) -> list[np.ndarray]:
    import soundfile as sf

    files = sorted(glob.glob(str(PS / pattern)))
    if not files:
        pytest.skip("pocketsphinx-testdata is not installed (make test installs it)")
    return [sf.read(f, dtype="float32")[0] for f in files]


def test_same_real_voice_closer_than_another(encoder):
    """LibriVox reader vs the 'cards' speaker (real recordings): 1.5 s windows every 0.5 s."""
    def windows(clips):
        mel = mel_frames(np.concatenate(clips), sr=16000)
        return encoder.embed(mel, starts=np.arange(0, mel.shape[0] - 150, 50), lengths=150)

    reader = windows(_pocketsphinx("librivox/*.wav")[:3])
    other = windows(_pocketsphinx("cards/*.wav"))
    within = reader @ reader.T
    within = within[np.triu_indices(len(reader), 1)]
    across = reader @ other.T
    assert len(reader) >= 20 and len(other) >= 8
    assert np.median(within) > np.median(across) + 0.08
    centroid = reader.mean(0) / np.linalg.norm(reader.mean(0))
    assert np.min(reader @ centroid) > np.max(other @ centroid)  # every window nearer its own voice


# ---------------------------------------------------------------------------- model files
def test_locate_order_and_install_hint(monkeypatch, tmp_path, encoder):
    monkeypatch.setattr(enc, "PACKAGED_MODEL", tmp_path / "missing.pt")
    monkeypatch.setattr(enc, "find_spec", lambda name: None)
    with pytest.raises(ModelFileError, match=r"tools/speaker_model.py.*pip install --no-deps resemblyzer==0.1.4"):
        enc.locate_model()
    package = tmp_path / "site" / "resemblyzer"
    package.mkdir(parents=True)
    (package / "pretrained.pt").symlink_to(encoder.path)

    class Spec:
        submodule_search_locations = [str(package)]

    monkeypatch.setattr(enc, "find_spec", lambda name: Spec() if name == "resemblyzer" else None)
    assert enc.locate_model() == (package / "pretrained.pt", "resemblyzer package")
    assert enc.locate_model(encoder.path) == (encoder.path, "user file")
    with pytest.raises(ModelFileError, match="does not exist"):
        enc.locate_model(tmp_path / "nope.pt")


def test_damaged_packaged_file_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "speaker_encoder.pt"
    fake.write_bytes(b"not the encoder")
    monkeypatch.setattr(enc, "PACKAGED_MODEL", fake)
    enc._packaged_sha256.cache_clear()
    try:
        with pytest.raises(ModelFileError, match=r"SHA-256 .* damaged or was replaced.*tools/speaker_model.py"):
            enc.locate_model()
    finally:
        enc._packaged_sha256.cache_clear()


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def test_wrong_model_files(tmp_path, encoder):
    import torch

    text = tmp_path / "notes.pt"
    text.write_text("these are not weights\n")
    with pytest.raises(ModelFileError, match="not a PyTorch weights file"):
        SpeakerEncoder.from_path(text)

    marker = tmp_path / "ran.txt"
    evil = tmp_path / "evil.pt"
    torch.save({"model_state": _RunsCode(marker)}, evil)
    with pytest.raises(ModelFileError, match="weights_only"):
        SpeakerEncoder.from_path(evil)
    assert not marker.exists()  # nothing in the file was run

    good = {k: v.clone() for k, v in enc._load_state(encoder.path).items()}
    wrong = dict(good, **{"linear.weight": torch.zeros(128, 256)})
    torch.save({"model_state": wrong}, tmp_path / "shape.pt")
    with pytest.raises(ModelFileError, match=r"linear.weight has shape \(128, 256\), expected \(256, 256\)"):
        SpeakerEncoder.from_path(tmp_path / "shape.pt")

    missing = {k: v for k, v in good.items() if not k.endswith("_l2")}
    torch.save({"model_state": missing}, tmp_path / "missing.pt")
    with pytest.raises(ModelFileError, match="lacks lstm.weight_ih_l2"):
        SpeakerEncoder.from_path(tmp_path / "missing.pt")

    torch.save(good, tmp_path / "bare.pt")  # a state dict without the "model_state" wrapper
    with pytest.raises(ModelFileError, match="no 'model_state'"):
        SpeakerEncoder.from_path(tmp_path / "bare.pt")

    # a user's own file of the same format loads, and is reported as such
    torch.save({"model_state": good}, tmp_path / "mine.pt")
    mine = SpeakerEncoder.from_path(tmp_path / "mine.pt")
    assert mine.source == "user file" and mine.sha256 != enc.MODEL_SHA256


def test_install_tool_check(tmp_path, encoder):
    from tools import speaker_model

    assert speaker_model.MODEL_SHA256 == enc.MODEL_SHA256
    assert "is missing" in speaker_model.check(tmp_path / "speaker_encoder.pt")
    wrong = tmp_path / "speaker_encoder.pt"
    wrong.write_bytes(b"x")
    assert "expected 39373b86" in speaker_model.check(wrong)
    assert speaker_model.main(["--check", "--target", str(wrong)]) == 1
    if encoder.source == "bitbox package data":
        assert speaker_model.check(encoder.path) is None
        assert "nothing to do" in speaker_model.install(encoder.path)  # offline when the file is right
