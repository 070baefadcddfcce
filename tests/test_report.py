"""The batch report (engine/report, `l2i report`) on real ESC-10 clips and a broken file,
and the page opened in a real headless Chromium."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio
from engine.explanation.explain import Explainer
from engine.runtime.errors import Cancelled
from engine.runtime.progress import TaskState
from engine.tools.report import batch_report
from engine.tools.report.page import CSV_COLUMNS
from resources import default_bundle_path
from trainer.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
TAU = 0.1
PICKS = (("001 - Dog bark", "dog"), ("009 - Rooster", "more/rooster"), ("002 - Rain", "."))


@pytest.fixture(scope="session")
def first_clips() -> dict[str, Path]:
    """The first fold-1 clip of each class in PICKS: from ESC-10, or (the same files)
    from the shipped examples when ../shared is absent."""
    from conftest import ESC10, EXAMPLES

    if ESC10.exists():
        return {cls: sorted((ESC10 / cls).glob("1-*.ogg"))[0] for cls, _ in PICKS}
    slug = {cls: cls.split(" - ", 1)[1].lower().replace(" ", "_") for cls, _ in PICKS}
    return {cls: next(EXAMPLES.glob(f"{slug[cls]}-1-*.ogg")) for cls, _ in PICKS}


def make_folder(first_clips: dict[str, Path], dst: Path) -> Path:
    """Three real clips (links, in nested folders), a broken 'WAV' and a text file."""
    for cls, sub in PICKS:
        clip = first_clips[cls]
        (dst / sub).mkdir(parents=True, exist_ok=True)
        name = clip.name if clip.name[0].isdigit() else clip.name.split("-", 1)[1]  # ESC's
        (dst / sub / name).symlink_to(clip)
    (dst / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEthis is not audio")
    (dst / "notes.txt").write_text("not a clip")
    return dst


def clip_names(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.suffix in (".ogg", ".wav") and "report" not in p.parts)


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(default_bundle_path())


@pytest.fixture(scope="module")
def report(first_clips, bundle, tmp_path_factory):
    folder = make_folder(first_clips, tmp_path_factory.mktemp("clips"))
    out = folder / "report"  # inside the folder: its WAVs must never be taken for clips
    reports = []
    result = batch_report(folder, out, bundle, tau=TAU, task=TaskState(reports.append))
    return folder, out, result, reports


class Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.h2: list[str] = []
        self._in_h2 = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)
            self._in_h2 = False

    def attrs(self, tag: str, name: str) -> list[str]:
        return [a[name] for t, a in self.tags if t == tag and name in a]


def test_the_page_lists_every_clip_and_its_players_point_at_existing_wavs(report):
    folder, out, result, _ = report
    names = clip_names(folder)
    # one of the four cannot be read: the counts add up to the clips found
    assert len(names) == 4 and (result.total, result.explained, result.failed) == (4, 3, 1)
    text = (out / "index.html").read_text()
    page = Page(text)
    assert sorted(page.h2) == names
    audio, images = page.attrs("audio", "src"), page.attrs("img", "src")
    assert len(audio) == len(images) == 9  # three per readable clip
    for src in audio + images:
        assert not src.startswith(("http:", "https:", "//", "/")), src
        assert (out / unquote(src)).is_file(), src
    assert "<script" not in text and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert text.count("<svg") == 3
    ids = set(page.attrs("section", "id"))
    assert {h[1:] for h in page.attrs("a", "href")} == ids and len(ids) == 4
    assert "broken.wav: not a readable audio file" in text


def test_the_wavs_hold_the_clip_the_interpretation_and_the_residual(report, bundle):
    folder, out, result, _ = report
    rec = next(r for r in result.records if r["file"].startswith("dog/"))
    clip_dir = out / "clips" / rec["slug"]
    wave = load_audio(folder / rec["file"], bundle.frontend.sample_rate)
    played, rate = sf.read(str(clip_dir / "input.wav"), dtype="float32")
    assert rate == bundle.frontend.sample_rate and played.shape == wave.shape
    assert np.abs(played - np.clip(wave, -1, 1)).max() < 1.5 / 32768  # 16-bit PCM
    interp, _ = sf.read(str(clip_dir / "interpretation.wav"), dtype="float32")
    resid, _ = sf.read(str(clip_dir / "residual.wav"), dtype="float32")
    assert interp.shape == resid.shape == wave.shape
    assert 0 < np.abs(interp).max() and 0 < np.abs(resid).max()


def test_the_csv_matches_the_engine(report, bundle):
    folder, out, result, _ = report
    with open(out / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [r["file"] for r in rows] == clip_names(folder)
    with Explainer(bundle) as ex, torch.no_grad():
        for row in rows:
            if row["file"] == "broken.wav":
                assert "not a readable audio file" in row["error"]
                assert row["prediction"] == row["probability"] == row["ff"] == ""
                continue
            a = ex.analyse(load_audio(folder / row["file"], ex.cfg.sample_rate))
            exp = ex.explain(a, None, TAU, with_components=False)
            c = a.predicted
            p_res = float(ex.classify_waves(torch.as_tensor(exp.residual)[None])[0, c])
            assert row["prediction"] == row["explained_class"] == a.classes[c]
            assert float(row["probability"]) == pytest.approx(a.probabilities[c], abs=1e-5)
            assert int(row["selected_components"]) == len(exp.selected) > 0
            assert float(row["ff"]) == pytest.approx(a.probabilities[c] - p_res, abs=1e-4)
            assert row["error"] == ""


def test_progress_is_reported_clip_by_clip(report):
    folder, _, _, reports = report
    assert [r.done for r in reports] == [0, 1, 2, 3, 4]
    assert {r.total for r in reports} == {4}
    assert [r.message for r in reports[1:]] == clip_names(folder)


def test_the_spectrograms_are_pngs_of_the_clip(report, bundle):
    from PySide6.QtGui import QImage

    folder, out, result, _ = report
    rec = next(r for r in result.records if not r["error"])
    cfg = bundle.frontend
    frames = cfg.n_frames(len(load_audio(folder / rec["file"], cfg.sample_rate)))
    for kind in ("input", "interpretation", "residual"):
        img = QImage(str(out / "clips" / rec["slug"] / f"{kind}.png"))
        assert not img.isNull()
        assert (img.width(), img.height()) == (frames, 257)  # 513 bins pooled in pairs


def test_a_rerun_skips_done_clips_and_a_new_tau_redoes_them(report, bundle, tmp_path):
    folder, out, _, _ = report
    records = sorted((out / "clips").glob("*/record.json"))
    assert len(records) == 4
    stamps = [p.stat().st_mtime_ns for p in records]
    again = batch_report(folder, out, bundle, tau=TAU)
    assert (again.explained, again.reused, again.total, again.failed) == (0, 3, 4, 1)
    assert [p.stat().st_mtime_ns for p in records] == stamps
    assert [r["file"] for r in again.records] == clip_names(folder)

    other = tmp_path / "report"  # (the first report, inside the folder, is no clip)
    shutil.copytree(out, other)
    changed = batch_report(folder, other, bundle, tau=0.5)
    assert (changed.explained, changed.reused, changed.failed) == (3, 0, 1)
    assert all(r["tau"] == 0.5 for r in changed.records)


class CancelInsideAClip(TaskState):
    """Cancels at the third check after ``after`` clips are done: inside the next clip's
    analysis, while its folder is being prepared."""

    def __init__(self, root: Path, after: int) -> None:
        super().__init__()
        self.root, self.after = root, after
        self.since: int | None = None
        self.seen_partial: list[str] = []

    def report(self, stage, done, total, message="", **metrics):
        self.since = -1 if done >= self.after else None  # report() checks once itself
        super().report(stage, done, total, message, **metrics)

    def check(self) -> None:
        if self.since is not None:
            self.since += 1
            if self.since == 3:
                self.seen_partial = [p.name for p in self.root.iterdir()]
                self.cancel()
        super().check()


def test_cancel_inside_a_clip_leaves_no_half_written_clip(first_clips, bundle, tmp_path):
    folder = make_folder(first_clips, tmp_path / "clips")
    out = tmp_path / "out"
    task = CancelInsideAClip(out / "clips", after=2)
    with pytest.raises(Cancelled, match="after 2 of 4 clips"):
        batch_report(folder, out, bundle, tau=TAU, task=task)
    assert any(n.startswith(".tmp-") for n in task.seen_partial)  # it was mid-clip
    left = sorted(p.name for p in (out / "clips").iterdir())
    assert len(left) == 2 and not any(n.startswith(".") for n in left)
    for d in (out / "clips").iterdir():
        assert (d / "record.json").is_file()
    with open(out / "summary.csv", newline="") as f:
        assert [r["file"] for r in csv.DictReader(f)] == clip_names(folder)[:2]
    assert "2 not yet done" in (out / "index.html").read_text()

    rest = batch_report(folder, out, bundle, tau=TAU)
    assert rest.total == rest.explained + rest.reused + rest.failed == 4
    assert rest.explained + rest.reused == 3 and rest.reused <= 2


def _a_file(d: Path) -> Path:
    (d / "a.wav").write_bytes(b"x")
    return d / "a.wav"


@pytest.mark.parametrize("make, says", [
    (lambda d: d / "missing", "no such folder"),
    (_a_file, "is a file"),
    (lambda d: d, "no audio files"),
])
def test_a_bad_folder_is_one_line(tmp_path, capsys, make, says):
    rc = main(["report", str(make(tmp_path)), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("l2i: error:") and says in err[0]
    assert not (tmp_path / "out").exists()


def test_ctrl_c_stops_the_command_cleanly_and_the_same_command_continues(first_clips, tmp_path,
                                                                         capsys):
    folder = make_folder(first_clips, tmp_path / "clips")
    out = tmp_path / "out"
    cmd = ["report", str(folder), "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "trainer.cli", *cmd], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while proc.poll() is None and not [
                p for p in (out / "clips").glob("*") if not p.name.startswith(".")]:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("l2i: report stopped after") and "run the same command" in last
    done = [p for p in (out / "clips").iterdir()]
    assert 1 <= len(done) < 4 and not any(p.name.startswith(".") for p in done)

    assert main(cmd) == 0
    said = capsys.readouterr().out
    m = re.search(r"4 clips: (\d+) explained, (\d+) already done, 1 failed", said)
    assert m and int(m[1]) + int(m[2]) == 3 and int(m[2]) <= len(done), said  # adds up


def _chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             *args], capture_output=True, text=True, timeout=120)


def test_chromium_renders_the_report(report, tmp_path):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (Debian package chromium)")
    from PySide6.QtGui import QImage

    _, out, _, _ = report
    url = (out / "index.html").as_uri()
    dom = _chromium("--dump-dom", url).stdout
    assert dom.count("<audio") == 9 and dom.count("<img") == 9 and dom.count("<svg") == 3
    assert "broken.wav: not a readable audio file" in dom

    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1280,1600", url)
    img = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    assert (img.width(), img.height()) == (1280, 1600)
    pixels = np.frombuffer(img.constBits(), np.uint8).reshape(
        img.height(), img.bytesPerLine())[:, : img.width() * 3].reshape(1600, 1280, 3)
    # the spectrograms' silence is pure black, which nothing else on the page uses: a
    # broken image would leave the page light
    dark = int((pixels.max(axis=2) < 6).sum())
    assert dark > 30_000, dark
