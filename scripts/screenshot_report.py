"""Pictures of the batch report (issue #9): the page in headless Chromium and the dialog
in a real window (run under Xvfb):

    xvfb-run -a -s "-screen 0 1400x1000x24" python scripts/screenshot_report.py \
        --page docs/report.png --dialog docs/report_dialog.png

The clips are links to the first fold-1 clip of a few ESC-10 classes (held out from the
shipped bundle's training) and one unreadable file, in a temporary folder.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "esc10"
CLASSES = ("001 - Dog bark", "009 - Rooster", "002 - Rain", "008 - Chainsaw")
CHROMIUM = "/usr/bin/chromium"


def make_folder(dst: Path) -> Path:
    for cls in CLASSES:
        clip = sorted((DATA / cls).glob("1-*.ogg"))[0]
        (dst / clip.name).symlink_to(clip)
    (dst / "truncated.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVE")
    return dst


def page_shot(index: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={out.resolve()}",
                        "--window-size=1280,1600", index.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
    print(f"-> {out}")


def dialog_shot(folder: Path, report: Path, out: Path, bundle: Path) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from l2i_desktop.report_dialog import ReportDialog

    app = QApplication(sys.argv[:1])
    dlg = ReportDialog(bundle, tau=0.1, folder=str(folder))
    dlg.out_edit.setText(str(report))
    dlg.show()

    def finish() -> None:
        dlg.grab().save(str(out))
        print(f"-> {out}")
        dlg.close()
        app.quit()

    dlg.runner.finished.connect(lambda _r: QTimer.singleShot(300, finish))
    dlg.runner.failed.connect(lambda m: (print(m), app.quit()))
    dlg.start()
    QTimer.singleShot(300_000, app.quit)
    app.exec()


def main() -> int:
    from resources import default_bundle_path

    ap = argparse.ArgumentParser()
    ap.add_argument("--page", type=Path, default=ROOT / "docs" / "report.png")
    ap.add_argument("--dialog", type=Path, default=None)
    ap.add_argument("--bundle", type=Path, default=default_bundle_path())
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "esc10-fold1").mkdir()
        folder = make_folder(Path(tmp) / "esc10-fold1")
        report = Path(tmp) / "report"
        if a.dialog is not None:  # the dialog writes the report the page shows
            dialog_shot(folder, report, a.dialog, a.bundle)
        else:
            from engine.tools.report import batch_report

            batch_report(folder, report, a.bundle, tau=0.1)
        page_shot(report / "index.html", a.page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
