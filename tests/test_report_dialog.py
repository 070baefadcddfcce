"""File > Batch report... driven for real (offscreen): real ESC-10 clips, the shipped
bundle, the report running on its own thread."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QDesktopServices

from l2i_desktop.report_dialog import ReportDialog
from resources import default_bundle_path

TIMEOUT = 120_000


def link_clips(esc10: Path, dst: Path, n: int) -> Path:
    dst.mkdir(parents=True)
    classes = sorted(p for p in esc10.iterdir() if p.is_dir())
    for cls in classes[:n]:
        clip = sorted(cls.glob("1-*.ogg"))[0]
        (dst / clip.name).symlink_to(clip)
    return dst


@pytest.fixture
def dialog(qtbot):
    dlg = ReportDialog(default_bundle_path(), tau=0.2)
    qtbot.addWidget(dlg)
    dlg.show()
    yield dlg
    dlg.close()


def test_a_two_clip_report_runs_and_opens(qtbot, dialog, esc10, tmp_path, monkeypatch):
    folder = link_clips(esc10, tmp_path / "clips", 2)
    dialog.folder_edit.setText(str(folder))
    assert dialog.out_edit.text() == str(tmp_path / "clips-report")  # suggested beside it
    out = tmp_path / "my report"
    dialog.out_edit.setText(str(out))
    assert not dialog.open_button.isEnabled()
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert dialog.cancel_button.isEnabled() and not dialog.run_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.open_button.isEnabled(), timeout=TIMEOUT)
    assert dialog.bar.value() == dialog.bar.maximum() == 2
    assert dialog.status.text().startswith("Done: 2 clips (2 explained now")
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()
    with open(out / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["file"] for r in rows) == sorted(p.name for p in folder.iterdir())
    assert all(r["error"] == "" and 0 < float(r["probability"]) <= 1 for r in rows)
    assert all(r["file"] in (out / "index.html").read_text() for r in rows)

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened] == [str(out / "index.html")]


def test_cancel_stops_a_run_and_run_continues_it(qtbot, dialog, esc10, tmp_path):
    folder = link_clips(esc10, tmp_path / "clips", 5)
    out = tmp_path / "out"
    dialog.folder_edit.setText(str(folder))
    dialog.out_edit.setText(str(out))
    armed = [True]

    def cancel_after_the_first_clip(rep) -> None:
        if armed[0] and rep.done >= 1:
            armed[0] = False
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)

    dialog.runner.progress.connect(cancel_after_the_first_clip)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Stopped."), timeout=TIMEOUT)
    kept = [p for p in (out / "clips").iterdir()]
    assert 1 <= len(kept) < 5 and not any(p.name.startswith(".") for p in kept)
    assert all((p / "record.json").is_file() for p in kept)
    assert dialog.run_button.isEnabled() and dialog.open_button.isEnabled()  # what is done
    assert "not yet done" in (out / "index.html").read_text()

    dialog.start()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Done:"), timeout=TIMEOUT)
    assert f"({5 - len(kept)} explained now, {len(kept)} from an earlier run" \
        in dialog.status.text()


def test_closing_while_running_stops_the_thread(qtbot, esc10, tmp_path):
    folder = link_clips(esc10, tmp_path / "clips", 5)
    dlg = ReportDialog(default_bundle_path())
    qtbot.addWidget(dlg)
    dlg.folder_edit.setText(str(folder))
    dlg.start()
    qtbot.waitUntil(lambda: dlg.bar.value() >= 1, timeout=TIMEOUT)
    dlg.reject()
    assert not dlg.runner.running  # joined: no thread outlives the dialog


def test_the_file_menu_has_batch_report(qtbot, tmp_path):
    from l2i_desktop.main_window import MainWindow
    from l2i_desktop.settings import Settings

    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win = MainWindow(None, settings)
    qtbot.addWidget(win)
    file_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&File")
    acts = [a for a in file_menu.actions() if a.objectName() == "batch_report"]
    assert len(acts) == 1 and acts[0].text() == "Batch &report..."
    assert file_menu.actions().index(acts[0]) < [a.text() for a in file_menu.actions()].index(
        "&Quit")
    acts[0].trigger()
    dlg = win.findChild(ReportDialog, "report_dialog")
    assert dlg is not None and dlg.bundle == Path(default_bundle_path())
    dlg.close()
    win.close()


def test_the_report_entry_is_once_in_file_after_export(qtbot, tmp_path):
    """Installed through the tool host, found by the File menu's id, not its title."""
    from PySide6.QtCore import QSettings

    from l2i_desktop.main_window import MainWindow
    from l2i_desktop.settings import Settings

    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(None, Settings(store))
    qtbot.addWidget(win)
    try:
        names = [a.objectName() for a in win.menus["file"].actions()]
        assert names.count("batch_report") == 1
        # after the exports (the explanation, then its figure)
        assert names.index("batch_report") == names.index("export_figure") + 1
        assert names.index("export_figure") == names.index("export") + 1
    finally:
        win.close()
