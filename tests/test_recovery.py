"""Takes on disk while they are recorded (l2i_desktop/recovery.py): a writer killed with
SIGKILL leaves a file whose samples are read back up to (at least) its last flush, and
the Recorder hands its blocks to the writer from the UI thread only."""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from l2i_desktop import recovery
from l2i_desktop.recorder import Recorder

ROOT = Path(__file__).resolve().parents[1]
RATE = 8000


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def as_left_by_a_crash(take: recovery.Take) -> None:
    meta = json.loads(take.meta_path.read_text())
    meta["pid"] = dead_pid()
    take.meta_path.write_text(json.dumps(meta))


def test_a_closed_take_reads_back_whole_and_is_not_offered_while_its_process_lives(tmp_path):
    wave = np.random.default_rng(1).uniform(-1, 1, 3 * RATE).astype(np.float32)
    writer = recovery.TakeWriter(tmp_path, RATE, "live", interval=0.01)
    for i in range(0, len(wave), 100):
        writer.append(wave[i:i + 100])
    take = writer.close()
    assert take is not None and take.path.is_file() and take.meta_path.is_file()
    got, rate = take.read()
    assert rate == RATE and np.array_equal(got, wave)
    assert take.duration == pytest.approx(3.0)
    assert recovery.leftovers(tmp_path) == []  # this process is alive: not a leftover
    as_left_by_a_crash(take)
    (found,) = recovery.leftovers(tmp_path)
    assert found.path == take.path and found.source == "live" and found.rate == RATE
    found.discard()
    assert list(tmp_path.iterdir()) == []


def test_an_empty_take_leaves_nothing(tmp_path):
    assert recovery.TakeWriter(tmp_path, RATE, "record").close() is None
    assert list(tmp_path.iterdir()) == []


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import numpy as np
    from l2i_desktop.recovery import TakeWriter
    wave = np.random.default_rng(7).uniform(-1, 1, 600 * {rate}).astype(np.float32)
    writer = TakeWriter(Path(sys.argv[1]), {rate}, "record", interval=0.05)
    seen, i = 0, 0
    while True:
        writer.append(wave[i:i + 160])
        i += 160
        if writer.frames != seen:
            seen = writer.frames
            print(seen, flush=True)
        time.sleep(0.002)
""").format(rate=RATE)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_take_killed_mid_way_is_recovered_up_to_its_last_flush(tmp_path, seed):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        flushed, need = 0, RATE // 2 + random.Random(seed).randrange(RATE)
        deadline = time.monotonic() + 120
        while flushed < need and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, "the writer stopped by itself"
            flushed = int(line)
        time.sleep(random.Random(seed).uniform(0, 0.2))  # anywhere between two flushes
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert flushed >= need
    (take,) = recovery.leftovers(tmp_path)
    assert take.pid == child.pid and take.source == "record"
    got, rate = take.read()
    expected = np.random.default_rng(7).uniform(-1, 1, 600 * RATE).astype(np.float32)
    assert rate == RATE and len(got) >= flushed
    assert np.array_equal(got, expected[:len(got)])
    assert take.duration == pytest.approx(len(got) / RATE)


def test_a_header_never_written_and_a_torn_last_sample_still_read(tmp_path):
    wave = np.linspace(-1, 1, 1000, dtype=np.float32)
    writer = recovery.TakeWriter(tmp_path, RATE, "record")
    writer.append(wave)
    take = writer.close()
    data = bytearray(take.path.read_bytes())
    riff_at, data_at = 4, data.index(b"data") + 4
    data[riff_at:riff_at + 4] = struct.pack("<I", 0)  # what a header left at open says
    data[data_at:data_at + 4] = struct.pack("<I", 0)
    take.path.write_bytes(bytes(data) + b"\x01\x02")  # half a sample more
    assert np.array_equal(recovery.read_take(take.path), wave)


def test_unusable_files_are_dropped(tmp_path):
    (tmp_path / "take-a.json").write_text("{not json")
    (tmp_path / "take-a.wav").write_bytes(b"RIFF")
    (tmp_path / "take-b.json").write_text(json.dumps(
        {"rate": RATE, "started": 0, "source": "record", "pid": dead_pid()}))
    assert recovery.leftovers(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


# --- the Recorder hands its blocks to the writer -----------------------------------------

class FakeStream:
    def __init__(self, **kw) -> None:
        self.active = False

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        pass


class FakeSoundDevice:
    InputStream = FakeStream

    @staticmethod
    def query_devices(device=None, kind=None):
        info = {"index": 0, "name": "fake mic", "max_input_channels": 1,
                "default_samplerate": RATE}
        return info if kind or device is not None else [info]


def test_the_recorder_writes_its_take_and_keeps_it_after_stop(qapp, tmp_path):
    rec = Recorder(RATE)
    rec._sd = FakeSoundDevice()
    rec.spool_folder = tmp_path
    assert rec.start()
    blocks = [np.random.default_rng(i).uniform(-1, 1, (256, 1)).astype(np.float32)
              for i in range(20)]
    for i, block in enumerate(blocks):
        rec._callback(block, len(block), None, None)  # PortAudio's thread: no file I/O
        if i == 9:
            rec._tick()  # the UI thread hands the first ten over
    assert rec._writer is not None and len(rec._writer._pending) + rec._writer.frames > 0
    wave = rec.stop()
    take = rec.last_take
    assert take is not None and take.source == "record" and take.rate == RATE
    assert np.array_equal(take.read()[0], wave)
    assert np.array_equal(wave, np.concatenate(blocks)[:, 0])
    assert take.path.is_file()  # until the recording is saved or discarded


def test_recording_goes_on_without_a_writable_state_folder(qapp, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rec = Recorder(RATE)
    rec._sd = FakeSoundDevice()
    rec.spool_folder = blocker / "recordings"  # cannot be made
    assert rec.start()
    rec._callback(np.ones((100, 1), np.float32), 100, None, None)
    assert len(rec.stop()) == 100 and rec.last_take is None


def _fake_recorder(tmp_path) -> Recorder:
    rec = Recorder(RATE)
    rec._sd = FakeSoundDevice()
    rec.spool_folder = tmp_path
    return rec


def _take_once(dialog, n: int = 800) -> None:
    assert dialog.start_recording()
    dialog.recorder._callback(np.full((n, 1), 0.25, np.float32), n, None, None)
    dialog.stop_recording()


def test_the_record_dialog_keeps_only_the_take_it_hands_on(qtbot, tmp_path):
    from l2i_desktop.record_dialog import RecordDialog

    dialog = RecordDialog(recorder=_fake_recorder(tmp_path))
    qtbot.addWidget(dialog)
    _take_once(dialog)
    first = dialog.take
    assert first is not None and first.path.is_file()
    _take_once(dialog, 400)  # recorded again: the first take is not wanted
    assert not first.path.exists() and dialog.take.path.is_file()
    assert dialog.save_to(tmp_path / "saved.wav") and dialog.take is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved.wav"]
    _take_once(dialog)
    kept = dialog.take
    dialog.accept()  # handed on: the window removes it once saved or discarded
    assert kept.path.is_file()
    kept.discard()

    cancelled = RecordDialog(recorder=_fake_recorder(tmp_path))
    qtbot.addWidget(cancelled)
    _take_once(cancelled)
    cancelled.reject()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved.wav"]


def _record_while_flushing(rec: Recorder, blocks: list[np.ndarray]) -> list[int]:
    """Feed ``blocks`` through the callback; every ten, the UI thread's tick hands them
    over, waits for the writer's flush and ticks again. Returns the frames held in
    memory after each of those ticks."""
    held = []
    for i, block in enumerate(blocks):
        rec._callback(block, len(block), None, None)
        if i % 10 == 9:
            rec._tick()
            handed = rec._frames
            deadline = time.monotonic() + 5
            while (rec._writer.frames < handed and not rec._writer.failed
                   and time.monotonic() < deadline):
                time.sleep(0.02)
            rec._tick()
            held.append(sum(len(c) for c in rec._chunks))
    return held


def test_a_long_take_keeps_only_its_newest_seconds_in_memory_and_is_returned_whole(
        qapp, tmp_path):
    rec = _fake_recorder(tmp_path)
    rec.keep_s = 0.5  # 4000 samples
    assert rec.start()
    blocks = [np.random.default_rng(i).uniform(-1, 1, (256, 1)).astype(np.float32)
              for i in range(60)]  # 1.9 s
    held = _record_while_flushing(rec, blocks)
    assert rec._dropped > 0 and max(held[2:]) < 4000 + 256 * 10, held  # bounded
    assert min(held[2:]) >= 4000  # the newest half second stays for the level meter
    assert rec.duration == pytest.approx(60 * 256 / RATE)
    wave = rec.stop()
    expected = np.concatenate(blocks)[:, 0]
    assert np.array_equal(wave, expected)  # the start read back from the take's file
    assert np.array_equal(rec.last_take.read()[0], expected)
    rec.last_take.discard()


class BrokenFile:
    def write(self, _data) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        pass


def test_a_disk_that_fills_mid_take_keeps_the_rest_in_memory_and_loses_nothing(qapp,
                                                                              tmp_path):
    rec = _fake_recorder(tmp_path)
    rec.keep_s = 0.25
    assert rec.start()
    blocks = [np.random.default_rng(i).uniform(-1, 1, (256, 1)).astype(np.float32)
              for i in range(80)]
    _record_while_flushing(rec, blocks[:40])
    assert rec._dropped > 0
    rec._writer._file = BrokenFile()  # the disk is full from now on
    _record_while_flushing(rec, blocks[40:50])
    assert rec._writer.failed
    dropped = rec._dropped  # flushed before the failure: on disk
    _record_while_flushing(rec, blocks[50:])
    assert rec._dropped == dropped  # nothing more leaves memory
    wave = rec.stop()
    assert np.array_equal(wave, np.concatenate(blocks)[:, 0])
    assert rec.last_take is None and list(tmp_path.iterdir()) == []  # no partial copy
