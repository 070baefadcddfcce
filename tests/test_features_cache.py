"""The feature cache: computed once, reused, recomputed when a file or its mtime changes,
and clips cut or padded to the clip length (small generated files in temporary folders)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.dsp.features import FrontEndConfig
from trainer import features_cache
from trainer.datasets import load_dataset
from trainer.features_cache import compute_features

# --- the feature cache --------------------------------------------------------------------

def _synthetic(root: Path, seed: int = 0) -> None:
    """Four short generated clips in two class folders."""
    rng = np.random.default_rng(seed)
    sr = 44100
    t = np.arange(sr // 2) / sr
    for c, freq in (("low", 220.0), ("high", 1760.0)):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            wave = 0.3 * np.sin(2 * np.pi * freq * (1 + 0.1 * i) * t) \
                + 0.01 * rng.standard_normal(t.size)
            sf.write(root / c / f"{i + 1}-clip.wav", wave.astype(np.float32), sr)


@pytest.fixture
def count_analyse(monkeypatch):
    calls = []
    real = features_cache.analyse

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(features_cache, "analyse", counted)
    return calls


def _stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_feature_cache_is_reused(tmp_path, count_analyse):
    _synthetic(tmp_path / "data")
    ds = load_dataset(tmp_path / "data")
    fe = FrontEndConfig()
    first = compute_features(ds, fe, clip_seconds=0.5, cache_dir=tmp_path / "cache")
    assert len(count_analyse) == 4
    assert sorted(p.name for p in first.folder.iterdir()) == \
        ["done.json", "log_mag.npy", "log_mel.npy"]
    stamps = _stamps(first.folder)
    mel = np.array(first.log_mel)

    second = compute_features(load_dataset(tmp_path / "data"), fe, clip_seconds=0.5,
                              cache_dir=tmp_path / "cache")
    assert len(count_analyse) == 4  # nothing analysed again
    assert second.folder == first.folder
    assert _stamps(second.folder) == stamps
    np.testing.assert_array_equal(np.asarray(second.log_mel), mel)
    assert len(list((tmp_path / "cache" / "features").iterdir())) == 1

    # other settings are another cache entry
    third = compute_features(ds, fe, clip_seconds=0.25, cache_dir=tmp_path / "cache")
    assert third.folder != first.folder and len(count_analyse) == 8
    assert third.log_mel.shape[-1] < first.log_mel.shape[-1]


def test_feature_cache_recomputes_when_a_file_changes(tmp_path, count_analyse):
    _synthetic(tmp_path / "data")
    fe = FrontEndConfig()
    ds = load_dataset(tmp_path / "data")
    first = compute_features(ds, fe, clip_seconds=0.5, cache_dir=tmp_path / "cache")
    before = np.array(first.log_mel)
    changed = ds.paths.index(tmp_path / "data" / "high" / "2-clip.wav")
    st = ds.paths[changed].stat()
    rng = np.random.default_rng(5)
    sf.write(ds.paths[changed], (0.2 * rng.standard_normal(22050)).astype(np.float32), 44100)
    os.utime(ds.paths[changed], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))

    second = compute_features(load_dataset(tmp_path / "data"), fe, clip_seconds=0.5,
                              cache_dir=tmp_path / "cache")
    assert second.folder != first.folder
    assert len(count_analyse) == 8
    after = np.asarray(second.log_mel)
    assert not np.allclose(after[changed], before[changed])
    others = [i for i in range(4) if i != changed]
    np.testing.assert_allclose(after[others], before[others])


def test_feature_cache_recomputes_when_only_the_mtime_changes(tmp_path, count_analyse):
    _synthetic(tmp_path / "data")
    fe = FrontEndConfig()
    ds = load_dataset(tmp_path / "data")
    first = compute_features(ds, fe, clip_seconds=0.5, cache_dir=tmp_path / "cache")
    st = ds.paths[0].stat()
    os.utime(ds.paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 5 * 10**9))
    second = compute_features(ds, fe, clip_seconds=0.5, cache_dir=tmp_path / "cache")
    assert second.folder != first.folder and len(count_analyse) == 8


def test_features_are_cut_or_padded_to_the_clip_length(tmp_path):
    _synthetic(tmp_path / "data")
    fe = FrontEndConfig()
    ds = load_dataset(tmp_path / "data")
    feats = compute_features(ds, fe, clip_seconds=1.0, cache_dir=tmp_path / "cache")
    n_frames = fe.n_frames(44100)
    assert feats.log_mel.shape == (4, fe.n_mels, n_frames)
    assert feats.log_mag.shape == (4, fe.n_freqs, n_frames)
    assert feats.log_mag.dtype == np.float16
    # the second half second is zero padding: no energy in log-magnitude
    tail = np.asarray(feats.log_mag[:, :, n_frames // 2 + 2:], dtype=np.float32)
    assert float(tail.max()) == 0.0
    head = np.asarray(feats.log_mag[:, :, 2:n_frames // 2 - 2], dtype=np.float32)
    assert float(head.min(axis=(1, 2)).min()) >= 0.0 and float(head.mean()) > 0.0
