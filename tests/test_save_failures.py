"""A read-only or full disk (#26 item 4): saving a recording, exporting and saving a bundle
each say one line naming the path and the reason, leave nothing partial behind, keep the
data, and a second try into a good folder works.

Tests run as root here, where chmod 0555 stops nothing: the folder is made read-only
anyway, and when it still accepts files the OS's refusal (EACCES) is injected where an
entry would be made in it (tempfile.mkstemp / mkdtemp, which every writer here uses).
A full disk is injected at the write call: half the data is written, then ENOSPC."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget
from test_export import window

from engine.bundles.bundle import load_bundle
from engine.runtime.errors import L2IError
from l2i_desktop import export, jobs
from l2i_desktop.model import Session
from l2i_desktop.recording_flow import RecordingFlow
from l2i_desktop.recovery import TakeWriter
from l2i_desktop.saving import save_bundle_to
from l2i_desktop.settings import Settings

__all__ = ["window"]  # a fixture shared with test_export
RATE = 16000
NO_SPACE = os.strerror(errno.ENOSPC)
DENIED = os.strerror(errno.EACCES)


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    probe = folder / "probe"
    try:
        probe.write_bytes(b"")  # root writes anyway: then the refusal is injected
        probe.unlink()
        inside = folder.resolve()

        def refusing(real):
            def make(*args, dir=None, **kw):
                if dir is not None and Path(dir).resolve().is_relative_to(inside):
                    raise PermissionError(errno.EACCES, DENIED, str(dir))
                return real(*args, dir=dir, **kw)
            return make

        monkeypatch.setattr(tempfile, "mkstemp", refusing(tempfile.mkstemp))
        monkeypatch.setattr(tempfile, "mkdtemp", refusing(tempfile.mkdtemp))
    except PermissionError:
        pass  # a real read-only folder
    yield folder
    folder.chmod(0o755)


@pytest.fixture
def disk_full(monkeypatch):
    """soundfile.write fails with ENOSPC (after writing half) from the n-th call on."""
    real = sf.write
    state = {"calls": 0, "fail_from": 1}

    def write(file, data, *args, **kw):
        state["calls"] += 1
        if state["calls"] < state["fail_from"]:
            return real(file, data, *args, **kw)
        real(file, data[: len(data) // 2], *args, **kw)
        raise OSError(errno.ENOSPC, NO_SPACE, str(file))

    monkeypatch.setattr(sf, "write", write)
    return state


def _all_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# --- saving a recording --------------------------------------------------------------------

@pytest.fixture
def flow(qtbot, tmp_path):
    parent = QWidget()
    qtbot.addWidget(parent)
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    errors: list[str] = []
    f = RecordingFlow(parent, Session(), settings, lambda *a: None, errors.append,
                      lambda _m: None)
    wave = np.sin(np.arange(RATE) / 7).astype(np.float32) * 0.5
    writer = TakeWriter(tmp_path / "takes", RATE, "record")
    writer.append(wave)
    f.keep_unsaved(wave, RATE, take=writer.close())
    f.errors = errors
    return f


@pytest.mark.parametrize("disk", ["read-only", "full"])
def test_a_recording_that_cannot_be_saved_is_kept_and_saved_elsewhere(
        request, flow, tmp_path, disk):
    folder = request.getfixturevalue("read_only") if disk == "read-only" else tmp_path / "d"
    if disk == "full":
        folder.mkdir()
        request.getfixturevalue("disk_full")
    wave, take = flow.unsaved[0], flow.take
    target = folder / "take.wav"
    assert flow.save_to(target) is False
    (message,) = flow.errors
    assert str(target) in message and (DENIED if disk == "read-only" else NO_SPACE) in message
    assert "\n" not in message
    assert _all_files(folder) == []  # no file, no temporary one
    assert flow.unsaved is not None and flow.take is take and take.path.is_file()
    assert flow.save_act.isEnabled()
    if disk == "full":
        request.getfixturevalue("disk_full")["fail_from"] = 10**9
    good = tmp_path / "good" / "take.wav"
    good.parent.mkdir()
    assert flow.save_to(good) is True and len(flow.errors) == 1
    assert np.array_equal(sf.read(str(good), dtype="float32")[0], wave)
    assert flow.unsaved is None and not take.path.exists() and not take.meta_path.exists()


def test_discarding_removes_the_recovery_file(flow, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    take = flow.take
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a: QMessageBox.StandardButton.Discard)
    assert flow.may_drop() and flow.unsaved is None
    assert not take.path.exists() and not take.meta_path.exists()


# --- exporting -----------------------------------------------------------------------------

def test_export_into_a_read_only_folder(qtbot, window, read_only, tmp_path):
    s = window.session
    with pytest.raises(L2IError) as err:
        jobs.export_data(read_only, s.explainer, s.clip, s.explanation, s.rendering)
    assert str(read_only) in str(err.value) and DENIED in str(err.value)
    window.export_to(read_only)  # the window's File > Export: one line under the views
    qtbot.waitUntil(lambda: DENIED in window.error_label.text(), timeout=30_000)
    assert str(read_only) in window.error_label.text()
    assert _all_files(read_only) == []
    window.export_to(tmp_path / "good")
    qtbot.waitUntil(lambda: (tmp_path / "good" / "activations.csv").is_file(), timeout=30_000)


def test_file_export_on_a_disk_that_fills_leaves_not_even_the_pictures(qtbot, window,
                                                                       disk_full, tmp_path):
    """File > Export draws its two pictures first; they are moved in with the rest or not
    at all."""
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "mine.txt").write_text("the user's own file")
    disk_full["fail_from"] = 2  # the interpretation is written, the residual is not
    window.export_to(folder)
    qtbot.waitUntil(lambda: NO_SPACE in window.error_label.text(), timeout=30_000)
    assert _all_files(folder) == ["mine.txt"]  # no views.png, no relevance.png
    disk_full["fail_from"] = 10**9
    window.export_to(folder)
    qtbot.waitUntil(lambda: (folder / "relevance.png").is_file(), timeout=30_000)
    assert (folder / "views.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"interpretation.wav", "relevance.csv", "mine.txt"} <= set(_all_files(folder))


def test_export_onto_a_full_disk_leaves_the_folder_as_it_was(window, disk_full, tmp_path):
    s = window.session
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "mine.txt").write_text("the user's own file")
    disk_full["fail_from"] = 3  # interpretation and residual are written, then ENOSPC
    with pytest.raises(L2IError) as err:
        jobs.export_data(folder, s.explainer, s.clip, s.explanation, s.rendering)
    message = str(err.value)
    assert NO_SPACE in message and str(folder / "components") in message, message
    assert _all_files(folder) == ["mine.txt"]  # nothing partial, no hidden staging
    disk_full["fail_from"] = 10**9
    written = export.export_audio(folder, s.explainer, s.clip, s.explanation, s.rendering)
    assert all(p.is_file() for p in written) and (folder / "interpretation.wav").is_file()
    assert not [p for p in folder.rglob(".*")]


# --- saving a bundle -----------------------------------------------------------------------

def test_a_bundle_that_cannot_be_saved_is_kept_and_saved_elsewhere(
        tiny_bundle, read_only, tmp_path, monkeypatch):
    import engine.bundles.bundle as bundle_module

    bundle = load_bundle(tiny_bundle)
    with pytest.raises(L2IError) as err:
        save_bundle_to(bundle, read_only / "mine.l2i")
    assert str(read_only / "mine.l2i") in str(err.value)
    assert DENIED.lower() in str(err.value).lower()
    assert _all_files(read_only) == []

    real = bundle_module.save_file

    def no_space(tensors, filename, *a, **kw):
        Path(filename).write_bytes(b"\0" * 1000)  # some of it got there
        raise OSError(errno.ENOSPC, NO_SPACE, filename)

    monkeypatch.setattr(bundle_module, "save_file", no_space)
    full = tmp_path / "full"
    full.mkdir()
    with pytest.raises(L2IError) as err:
        save_bundle_to(bundle, full / "mine.l2i")
    assert str(full / "mine.l2i") in str(err.value)
    assert NO_SPACE.lower() in str(err.value).lower()
    assert "\n" not in str(err.value) and _all_files(full) == []
    monkeypatch.setattr(bundle_module, "save_file", real)
    saved = save_bundle_to(bundle, tmp_path / "good" / "mine.l2i")
    assert load_bundle(saved).k == bundle.k


def test_export_all_moves_audio_and_tables_in_together(window, tmp_path, monkeypatch):
    s = window.session
    cfg = s.explainer.cfg
    frame = cfg.hop_length / cfg.sample_rate
    folder = tmp_path / "out"
    folder.mkdir()
    real = Path.write_text

    def no_space_for_tables(self, text, *a, **kw):
        if self.name == "activations.csv":
            real(self, text[: len(text) // 2], *a, **kw)
            raise OSError(errno.ENOSPC, NO_SPACE, str(self))
        return real(self, text, *a, **kw)

    monkeypatch.setattr(Path, "write_text", no_space_for_tables)
    with pytest.raises(L2IError) as err:
        export.export_all(folder, s.explainer, s.clip, s.explanation, s.rendering, frame)
    assert str(folder / "activations.csv") in str(err.value) and NO_SPACE in str(err.value)
    assert _all_files(folder) == []  # the audio, written before it, was not moved in
    monkeypatch.setattr(Path, "write_text", real)
    written = export.export_all(folder, s.explainer, s.clip, s.explanation, s.rendering, frame)
    reference = jobs.export_data(tmp_path / "ref", s.explainer, s.clip, s.explanation,
                                 s.rendering)
    assert sorted(p.relative_to(folder) for p in written) == sorted(
        p.relative_to(tmp_path / "ref") for p in reference)
    for name in ("relevance.csv", "activations.csv"):
        assert (folder / name).read_text() == (tmp_path / "ref" / name).read_text()
    assert not [p for p in folder.rglob(".*")]
