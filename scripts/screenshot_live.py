"""Screenshot of live interpretation (run under Xvfb): a private PulseAudio server with a
null sink (tests/sound_server.py) whose monitor is the default input; a dog bark, then
a rooster (real ESC-10 clips) are played into it while the window listens, and the
window is captured when the live window holds the end of the dog and most of the
rooster:

    xvfb-run -a -s "-screen 0 1400x1000x24" python scripts/screenshot_live.py \
        --data ../shared/data/esc10 --out docs/live.png
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from sound_server import pulse_server  # noqa: E402

from engine.dsp.audio import load_audio  # noqa: E402
from l2i_desktop.audio import Player  # noqa: E402
from l2i_desktop.live_panel import LivePanel  # noqa: E402
from l2i_desktop.main_window import MainWindow  # noqa: E402
from resources import default_bundle_path  # noqa: E402

CLIPS = ("001 - Dog bark/2-114280-A.ogg", "009 - Rooster/2-100786-A.ogg")
RATE = 44100


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "esc10")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "live.png")
    ap.add_argument("--rooster-seconds", type=float, default=2.6,
                    help="how much of the second clip the captured window holds")
    a = ap.parse_args()
    clips = [load_audio(a.data / c, RATE) for c in CLIPS]
    # the app's settings go to a throw-away folder, never to the user's configuration
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="l2i-screenshot-")
    with pulse_server():
        app = QApplication(sys.argv[:1])
        win = MainWindow(default_bundle_path())
        win.resize(1360, 940)
        win.show()
        panel = win.findChild(LivePanel)
        player = Player()
        state = {"step": "wait bundle", "t_second": None}

        def poll() -> None:
            if state["step"] == "wait bundle" and win.session.explainer is not None:
                panel.start()
                state["step"] = "lead-in"
            elif state["step"] == "lead-in" and panel.recorder.duration > 0.5:
                player.play(clips[0], RATE)
                state["step"] = "first"
            elif state["step"] == "first" and not player.is_playing:
                state["t_second"] = panel.recorder.duration
                player.play(clips[1], RATE)
                state["step"] = "second"
            elif state["step"] == "second" and panel.last is not None and \
                    panel.last.start_s + panel.last.duration_s >= \
                    state["t_second"] + a.rooster_seconds:
                timer.stop()
                state["step"] = "done"
                QTimer.singleShot(300, finish)  # the deferred panels have painted

        def finish() -> None:
            a.out.parent.mkdir(parents=True, exist_ok=True)
            win.grab().save(str(a.out))
            c = panel.gate.counts()
            top = np.argsort(-panel.last.analysis.probabilities)[:2]
            names = [f"{win.session.explainer.bundle.classes[i]} "
                     f"{panel.last.analysis.probabilities[i]:.2f}" for i in top]
            print(f"-> {a.out}: {c.done} analysed, {c.dropped} dropped, "
                  f"{panel.recorder.overflows} input overflows; window "
                  f"{panel.last.start_s:.1f}-{panel.last.start_s + 5:.1f} s: {names}")
            player.stop()
            panel.stop(analyse=False)
            win.recordings.unsaved = None
            win.close()
            app.quit()

        timer = QTimer()
        timer.timeout.connect(poll)
        timer.start(50)
        QTimer.singleShot(120_000, app.quit)
        return app.exec()


if __name__ == "__main__":
    sys.exit(main())
