"""At start, takes left by a crash are offered (l2i_desktop/recovery_dialog.py): Recover
opens one as the window's unsaved recording (its file kept until it is saved), Save to
folder writes several as WAV files, Discard deletes, Later keeps; with no bundle yet,
the take waits for one."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QListWidget,
    QMessageBox,
    QPushButton,
)
from test_recovery import as_left_by_a_crash

from l2i_desktop.main_window import MainWindow
from l2i_desktop.recovery import TakeWriter, leftovers
from l2i_desktop.recovery_dialog import RecoveryDialog, describe, offer_recovery
from l2i_desktop.settings import Settings

RATE = 44100
TIMEOUT = 60_000


def left_take(folder, wave, source="record"):
    writer = TakeWriter(folder, RATE, source)
    writer.append(wave)
    take = writer.close()
    as_left_by_a_crash(take)
    return take


@pytest.fixture
def make_window(qtbot, tmp_path_factory):
    made = []

    def make(bundle):
        folder = tmp_path_factory.mktemp("settings")
        settings = Settings(QSettings(str(folder / "s.ini"), QSettings.Format.IniFormat))
        win = MainWindow(bundle, settings)  # not qtbot.addWidget: it closes before us
        made.append(win)
        return win

    yield make
    for win in made:
        win.recordings.unsaved = None  # let the window close without asking
        win.close()
        win.deleteLater()


def answer(button: str, select_all: bool = False) -> None:
    """Press ``button`` of the recovery dialog once it is shown (it runs modally)."""
    def press() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, RecoveryDialog):
            QTimer.singleShot(20, press)
            return
        if select_all:
            dialog.findChild(QListWidget, "takes").selectAll()
        dialog.findChild(QPushButton, button).click()

    QTimer.singleShot(0, press)


def test_recover_opens_the_take_unsaved_and_saving_removes_it(qtbot, make_window, tiny_bundle,
                                                              tone, tmp_path):
    folder = tmp_path / "takes"
    take = left_take(folder, tone)
    win = make_window(tiny_bundle)
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    answer("recover")
    got = offer_recovery(win, folder)
    assert got is not None and got.path == take.path
    wave, rate = win.recordings.unsaved
    assert rate == RATE and np.array_equal(wave, tone)
    qtbot.waitUntil(lambda: win.session.clip is not None, timeout=TIMEOUT)
    assert win.session.clip.path is None  # a recording, not a file
    assert take.path.is_file()  # until saved: a second crash still finds it
    assert win.recordings.save_to(tmp_path / "saved.wav")
    assert leftovers(folder) == [] and not take.path.exists()


def test_without_a_bundle_the_take_waits_for_one(qtbot, make_window, tiny_bundle, tone,
                                                 tmp_path):
    folder = tmp_path / "takes"
    left_take(folder, tone, "live")
    win = make_window(None)
    answer("recover")
    assert offer_recovery(win, folder) is not None
    assert win.recordings.unsaved is not None and win.session.clip is None
    win.open_bundle(tiny_bundle)
    qtbot.waitUntil(lambda: win.session.clip is not None, timeout=TIMEOUT)
    assert np.array_equal(win.recordings.unsaved[0], tone)


def test_discard_deletes_and_later_keeps(qtbot, make_window, tone, tmp_path):
    folder = tmp_path / "takes"
    first, second = left_take(folder, tone), left_take(folder, tone[:RATE // 2], "live")
    win = make_window(None)
    answer("later")
    assert offer_recovery(win, folder) is None
    assert [t.path for t in leftovers(folder)] == [first.path, second.path]
    answer("discard", select_all=True)
    assert offer_recovery(win, folder) is None
    assert leftovers(folder) == [] and list(folder.iterdir()) == []
    assert win.recordings.unsaved is None
    assert offer_recovery(win, folder) is None  # nothing left: no dialog at all


def test_the_dialog_lists_when_how_long_and_from_where(qtbot, tone, tmp_path):
    takes = [left_take(tmp_path, tone), left_take(tmp_path, tone[:RATE // 4], "live")]
    dialog = RecoveryDialog(leftovers(tmp_path))
    qtbot.addWidget(dialog)
    rows = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert rows == [describe(t) for t in takes]
    assert "1.0 s" in rows[0] and "File > Record" in rows[0]
    assert "0.2 s" in rows[1] and "live" in rows[1]
    assert dialog.recover_button.isEnabled()  # the newest is selected
    dialog.list.selectAll()
    assert not dialog.recover_button.isEnabled() and dialog.discard_button.isEnabled()


def test_several_takes_are_saved_to_a_folder_at_once(qtbot, tone, tmp_path, monkeypatch):
    takes_dir, out = tmp_path / "takes", tmp_path / "saved"
    out.mkdir()
    waves = [tone, tone[:RATE // 2] * 0.5, tone[:RATE // 4] * 0.25]
    takes = [left_take(takes_dir, w, src) for w, src in zip(waves, ["record", "live", "live"])]
    dialog = RecoveryDialog(leftovers(takes_dir))
    qtbot.addWidget(dialog)
    dialog.list.item(0).setSelected(True)
    dialog.list.item(1).setSelected(True)
    dialog.list.item(2).setSelected(False)
    assert dialog.save_button.isEnabled() and not dialog.recover_button.isEnabled()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    dialog.save_button.click()
    files = sorted(out.iterdir())
    assert len(files) == 2 and all(f.name.startswith("recording-") for f in files)
    got = sorted((sf.read(f, dtype="float32") for f in files), key=lambda x: -len(x[0]))
    for (wave, rate), want in zip(got, waves[:2]):
        assert rate == RATE and np.array_equal(wave, want)
    assert not takes[0].path.exists() and not takes[1].path.exists()  # recovered
    assert [t.path for t in dialog.takes] == [takes[2].path]  # still offered
    assert dialog.list.count() == 1

    # a folder that cannot take files: one message naming the take and why; it is kept
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    dialog.list.selectAll()
    assert dialog.save_selected(blocker) == []
    box = dialog.findChild(QMessageBox, "save_failed")
    assert box is not None and takes[2].path.name in box.text()
    assert "could not be saved" in box.text() and takes[2].path.is_file()
    assert [t.path for t in leftovers(takes_dir)] == [takes[2].path]
