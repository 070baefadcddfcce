"""The settings file survives a crash (Qt writes it through a temporary file renamed over
it: a writer killed mid-sync leaves the old or the new file, never a torn one), and a file
of garbage is replaced by the defaults and said once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from PySide6.QtCore import QSettings

from l2i_desktop.recovery_dialog import after_start
from l2i_desktop.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SIZE = 400_000  # long enough that one sync takes a while

WRITER = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QSettings
    store = QSettings(sys.argv[1], QSettings.Format.IniFormat)
    i = 0
    while True:
        i += 1
        store.setValue("blob", f"{{i:09d}}" + chr(97 + i % 26) * {size})
        store.setValue("count", i)
        store.sync()
        print(i, flush=True)
""").format(size=SIZE)


def _read(path: Path) -> tuple[QSettings.Status, int, str]:
    store = QSettings(str(path), QSettings.Format.IniFormat)
    return store.status(), int(store.value("count", 0)), str(store.value("blob", ""))


def test_a_writer_killed_mid_sync_never_leaves_a_torn_file(tmp_path):
    path = tmp_path / "settings.ini"
    rng = random.Random(3)
    for _ in range(4):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                 stdout=subprocess.PIPE, text=True,
                                 env=dict(os.environ, PYTHONPATH=str(ROOT)))
        try:
            for _ in range(rng.randrange(2, 6)):
                assert child.stdout.readline(), "the writer stopped by itself"
            time.sleep(rng.uniform(0, 0.05))  # inside a sync, most likely
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
        status, count, blob = _read(path)
        assert status == QSettings.Status.NoError
        assert count >= 1 and len(blob) == 9 + SIZE, "a torn settings file"
        n = int(blob[:9])
        assert n in (count, count + 1) and blob[9:] == chr(97 + n % 26) * SIZE
    assert not [p.name for p in tmp_path.iterdir() if p.name != "settings.ini"
                and not p.name.startswith("settings.ini.")]


def test_garbage_is_replaced_by_the_defaults_and_said_once(qapp, tmp_path, caplog):
    path = tmp_path / "settings.ini"
    path.write_bytes(os.urandom(3000) + b"\x00[[[garbage")
    settings = Settings(QSettings(str(path), QSettings.Format.IniFormat))
    assert str(path) in settings.reset_note and "defaults" in settings.reset_note
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    assert settings.tau() == 0.1 and settings.recent_files() == []
    assert not settings.has_tau()
    assert (tmp_path / "settings.ini.corrupt").is_file()  # kept for a bug report
    settings.set_tau(0.4)
    settings.store.sync()
    again = Settings(QSettings(str(path), QSettings.Format.IniFormat))
    assert again.reset_note == "" and again.tau() == 0.4


def test_the_reset_is_told_once_in_the_window(qtbot, tmp_path):
    from PySide6.QtWidgets import QMainWindow, QMessageBox

    path = tmp_path / "settings.ini"
    path.write_bytes(b"\x00\xff\xfe garbage [[[ = \n\x01\x02")
    settings = Settings(QSettings(str(path), QSettings.Format.IniFormat))
    assert settings.reset_note
    win = QMainWindow()
    qtbot.addWidget(win)
    after_start(win, settings, folder=tmp_path / "none")
    boxes = [b for b in win.findChildren(QMessageBox) if b.objectName() == "settings_reset"]
    assert len(boxes) == 1 and str(path) in boxes[0].text()
    assert str(path) in win.statusBar().currentMessage()
    boxes[0].accept()
    after_start(win, settings, folder=tmp_path / "none")  # said once
    assert len([b for b in win.findChildren(QMessageBox)
                if b.objectName() == "settings_reset" and b.isVisible()]) == 0
