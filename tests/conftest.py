"""Shared fixtures: real data from ../shared/data (skipped when absent), tiny datasets
made of links to real clips, and small bundles built in the test session."""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("L2I_DATA", ROOT.parent / "shared" / "data"))
ESC10 = DATA / "esc10"
ESC50 = DATA / "esc50-subset"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the app's QSettings go to a throw-away folder, never to the user's configuration
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="l2i-test-config-")
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="l2i-test-state-")  # logs
# caches a test does not name (train_interpreter's classifier outputs) go to a throw-away
# folder too, never to the user's
os.environ["L2I_CACHE"] = tempfile.mkdtemp(prefix="l2i-test-cache-")
# The tests use small tensors: one thread avoids two OpenMP threads waiting on each
# other, which made them several times slower on a busy two-core machine.
torch.set_num_threads(1)


def one_error_line(capsys) -> str:
    """The one line a command's error leaves on stderr (progress bars aside), checked as
    one and without a traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("l2i")]
    assert len(lines) == 1, err
    return lines[0]


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def esc10() -> Path:
    return need(ESC10)


@pytest.fixture(scope="session")
def esc50() -> Path:
    return need(ESC50)


EXAMPLES = ROOT / "resources" / "examples"  # ten ESC-10 clips that ship with the app


@pytest.fixture(scope="session")
def esc10_clip() -> Path:
    """The first dog bark of ESC-10, which also ships as an example: tests that need one
    real clip run on a fresh clone without ../shared."""
    if ESC10.exists():
        return sorted((ESC10 / "001 - Dog bark").glob("*.ogg"))[0]
    return need(EXAMPLES / "dog_bark-1-100032-A.ogg")


def link_subset(src: Path, dst: Path, classes: int = 3, per_fold: dict[int, int] | None = None
                ) -> Path:
    """A folder-per-class dataset of symbolic links to real ESC-10 clips (no copies)."""
    per_fold = per_fold or {1: 2, 2: 3, 3: 3}
    for class_dir in sorted(p for p in src.iterdir() if p.is_dir())[:classes]:
        out = dst / class_dir.name
        out.mkdir(parents=True, exist_ok=True)
        for fold, n in per_fold.items():
            for f in sorted(class_dir.glob(f"{fold}-*"))[:n]:
                (out / f.name).symlink_to(f.resolve())
    return dst


def examples_subset(dst: Path, classes: int = 3, per_fold: dict[int, int] | None = None
                    ) -> Path:
    """link_subset's layout (same class folders, folds and counts) made from the shipped
    examples alone: each clip of a class is that class's real example, circularly shifted
    and scaled differently (a recording id of its own per copy), written as WAV."""
    import soundfile as sf

    per_fold = per_fold or {1: 2, 2: 3, 3: 3}
    rng = np.random.default_rng(0)
    shipped = sorted(EXAMPLES.glob("*.ogg"))
    order = ["dog_bark", "rain", "sea_waves", "baby_cry", "clock_tick", "person_sneeze",
             "helicopter", "chainsaw", "rooster", "fire_crackling"]
    for c, slug in enumerate(order[:classes]):
        src = next(p for p in shipped if p.name.startswith(slug + "-"))
        wave, rate = sf.read(src, dtype="float32")
        out = dst / f"{c + 1:03d} - {slug.replace('_', ' ').capitalize()}"
        out.mkdir(parents=True, exist_ok=True)
        j = 0
        for fold, n in per_fold.items():
            for _ in range(n):
                copy = np.roll(wave, int(rng.integers(len(wave)))) * rng.uniform(0.5, 1.0)
                sf.write(out / f"{fold}-{900 + 10 * c + j}-A.wav", copy, rate)
                j += 1
    return dst


def without_labels(labelled: Path, dst: Path) -> Path:
    """Every other clip of a labelled tiny set, under neutral names (rec00.ogg, ...) with
    no class anywhere in their paths; every fourth in a subfolder, two deep."""
    clips = sorted(p for p in labelled.rglob("*") if p.is_file())[::2]
    for i, clip in enumerate(clips):
        folder = dst / ("day2/morning" if i % 4 == 3 else "day1" if i % 4 == 2 else "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"rec{i:02d}{clip.suffix}").symlink_to(clip.resolve())
    return dst


@pytest.fixture(scope="session")
def tiny_esc10(tmp_path_factory) -> Path:
    """Three classes of real clips: links into ESC-10, or (without ../shared) copies
    made from the shipped examples."""
    if ESC10.exists():
        return link_subset(ESC10, tmp_path_factory.mktemp("tiny_esc10"))
    need(EXAMPLES)
    return examples_subset(tmp_path_factory.mktemp("tiny_esc10"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feature_cache")


TINY_WIDTHS = [8, 16, 16, 32]


@pytest.fixture(scope="session")
def tiny_bundle(tiny_esc10, cache_dir, tmp_path_factory) -> Path:
    """A real (if tiny) bundle trained on real clips with the project's own trainer."""
    from trainer.cli import main

    out = tmp_path_factory.mktemp("bundles") / "tiny.l2i"
    rc = main(["train", "all", "--data", str(tiny_esc10), "--out", str(out),
               "--test-fold", "1", "--epochs", "2", "--widths", ",".join(map(str, TINY_WIDTHS)),
               "--k", "16", "--iterations", "10", "--interpreter-epochs", "2",
               "--cache", str(cache_dir), "--device", "cpu"])
    assert rc == 0 and out.is_file()
    return out


@pytest.fixture(scope="session")
def dictionary(tiny_esc10, cache_dir, tmp_path_factory) -> Path:
    """A small dictionary W (K = 8) learned on the tiny dataset by ``l2i train
    dictionary``, for interpreters trained on other classifiers (bring your own)."""
    from trainer.cli import main

    out = tmp_path_factory.mktemp("dictionary") / "W.safetensors"
    assert main(["train", "dictionary", "--data", str(tiny_esc10), "--test-fold", "1",
                 "--out", str(out), "--k", "8", "--iterations", "5", "--cache",
                 str(cache_dir), "--device", "cpu"]) == 0
    return out


def random_bundle(n_classes: int = 3, k: int = 12, widths=None, seed: int = 0,
                  multilabel: bool = False):
    """An untrained but complete and valid in-memory bundle (for format tests)."""
    from engine.bundles.bundle import Bundle, make_manifest
    from engine.dsp.features import FrontEndConfig
    from engine.models.classifier import VGGClassifier, VGGConfig, default_taps
    from engine.models.interpreter import Interpreter, InterpreterConfig
    from engine.models.taps import LayerTaps

    torch.manual_seed(seed)
    fe = FrontEndConfig()
    clf = VGGClassifier(n_classes, VGGConfig(widths=list(widths or TINY_WIDTHS))).eval()
    layers = default_taps(clf)
    with LayerTaps(clf, layers) as taps, torch.no_grad():
        _, maps = taps(torch.zeros(1, fe.n_mels, 100))
    icfg = InterpreterConfig(k=k, n_classes=n_classes,
                             map_shapes=[list(m.shape[1:]) for m in maps])
    interp = Interpreter(icfg).eval()
    W = torch.rand(fe.n_freqs, k)
    W = W / W.norm(dim=0, keepdim=True)
    classes = [f"class {i}" for i in range(n_classes)]
    manifest = make_manifest(name="random", frontend=fe, classes=classes,
                             multilabel=multilabel, classifier_arch="vgg",
                             classifier_config=clf.config.to_dict(), layers=layers,
                             dictionary={"k": k}, interpreter=icfg)
    return Bundle(manifest, clf, interp, W)


@pytest.fixture
def tone() -> np.ndarray:
    """One second of a 440 Hz tone with a little noise, 44.1 kHz."""
    t = np.arange(44100) / 44100
    rng = np.random.default_rng(0)
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(t.size)
            ).astype(np.float32)


@pytest.fixture(scope="session", autouse=True)
def gc_on_main_thread():
    """Python's cyclic GC only on the main thread, as the app runs it
    (l2i_desktop.main): collected on an engine thread, a closed window's Qt objects
    deadlocked with the main thread (~QObject's mutex against the GIL)."""
    gc.disable()
    yield
    gc.enable()


def _collect_due() -> None:
    """The generations the interpreter would have collected by now (as pyqtgraph's
    GarbageCollector does on its timer)."""
    (t0, t1, t2), (c0, c1, c2) = gc.get_threshold(), gc.get_count()
    if c0 > t0:
        gc.collect(2 if c1 > t1 and c2 > t2 else 1 if c1 > t1 else 0)


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves non-daemon threads running behind it."""
    before = set(threading.enumerate())
    yield
    _collect_due()  # here, on the main thread
    leaked = [t for t in threading.enumerate()
              if t not in before and t.is_alive() and not t.daemon]
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


@pytest.fixture(scope="module")
def server():
    """A private PulseAudio server for the module's playback tests (skips without one)."""
    from sound_server import pulse_server

    with contextlib.ExitStack() as stack:
        try:
            srv = stack.enter_context(pulse_server())
        except RuntimeError as exc:
            pytest.skip(f"no sound server: {exc}")
        yield srv


@pytest.fixture
def window(qtbot, tiny_bundle, tmp_path):
    """The analysis window on the tiny bundle, shown, with settings of its own; closed
    after the test. (Modules that need another window define their own ``window``.)"""
    from PySide6.QtCore import QSettings

    from l2i_desktop.main_window import MainWindow
    from l2i_desktop.settings import Settings
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(tiny_bundle, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=60_000)
    yield win
    win.close()


def pytest_terminal_summary(terminalreporter) -> None:
    """One line saying how many tests skipped for lack of the shared data."""
    skipped = terminalreporter.stats.get("skipped", [])
    missing = [r for r in skipped if "real data not found" in str(r.longrepr)]
    if missing:
        terminalreporter.write_line(
            f"{len(missing)} of {len(skipped)} skipped tests need the real audio in "
            f"{DATA} (see ../shared/data/README.md)")
