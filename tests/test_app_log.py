"""The app's log file, and the audio-backend failures that reach only it: the window
works around them (no device: "unavailable"), the log keeps the reason for a bug report."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from l2i_desktop import logs
from l2i_desktop.audio import Player
from l2i_desktop.recorder import Recorder


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    levels = {name: logging.getLogger(name).level for name in logs.PACKAGES}
    before = list(logging.getLogger().handlers)
    yield tmp_path
    for handler in logging.getLogger().handlers:
        if handler not in before:
            logging.getLogger().removeHandler(handler)
            handler.close()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_starting_the_log_writes_to_the_state_folder_once(state_home):
    handler = logs.start_logging()
    assert handler is not None
    path = state_home / "l2i-desktop" / "app.log"
    assert logs.log_path() == path
    assert logs.start_logging() is handler  # a second start adds no second file
    logging.getLogger("l2i_desktop.somewhere").info("hello from the app")
    logging.getLogger("some_library").info("library chatter")  # below WARNING: not kept
    handler.flush()
    text = path.read_text()
    assert "INFO l2i_desktop.somewhere" in text and "hello from the app" in text
    assert "library chatter" not in text
    assert handler.maxBytes == logs.MAX_BYTES and handler.backupCount == logs.BACKUPS


def test_a_state_folder_that_cannot_be_made_is_no_failure(state_home):
    (state_home / "l2i-desktop").write_text("a file where the folder goes")
    assert logs.start_logging() is None


class _BrokenBackend:
    """A sounddevice whose every call fails the way PortAudio does."""

    class PortAudioError(Exception):
        pass

    def query_devices(self, *args, **kwargs):
        raise self.PortAudioError("Error querying device -1")

    def OutputStream(self, **kwargs):  # noqa: N802 - sounddevice's name
        raise self.PortAudioError("Invalid sample rate [PaErrorCode -9997]")


def test_a_player_that_cannot_play_logs_why(qtbot, caplog):
    player = Player()
    player._sd = _BrokenBackend()
    errors = []
    player.error.connect(errors.append)
    caplog.clear()  # a machine without PortAudio logs that on creation
    with caplog.at_level(logging.WARNING, logger="l2i_desktop.audio"):
        assert player.available is False
        player.play(np.zeros(100, np.float32), 12345)
    assert errors and "Invalid sample rate" in errors[0]
    records = [r for r in caplog.records if r.name == "l2i_desktop.audio"]
    assert [r.exc_info is not None for r in records] == [True, True]
    assert "12345 Hz" in records[1].getMessage()


def test_a_recorder_that_cannot_list_devices_logs_why(qtbot, caplog, state_home):
    handler = logs.start_logging()
    recorder = Recorder()
    recorder._sd = _BrokenBackend()
    with caplog.at_level(logging.WARNING, logger="l2i_desktop.recorder"):
        assert recorder.input_devices() == [] and not recorder.available
    assert any(r.name == "l2i_desktop.recorder" and r.exc_info for r in caplog.records)
    handler.flush()
    text = (state_home / "l2i-desktop" / "app.log").read_text()
    assert "cannot list the audio devices" in text and "Error querying device" in text
