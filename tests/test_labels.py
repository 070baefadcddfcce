"""Labels without Qt: the evented LabelSet on the session's undo stack, Audacity and CSV
label files, and the share of energy inside the labels (engine/explanation/localisation)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.explanation.localisation import energy_shares, frame_coverage, merged
from engine.runtime.errors import L2IError
from l2i_desktop.model.labels import (
    Label,
    LabelSet,
    describe,
    parse_audacity,
    parse_csv,
    read_labels,
    write_labels,
)
from l2i_desktop.model.session import Session

LABELS = [Label(0.25, 0.9, "first crow"), Label(1.123456, 2.5, "second, longer 'call'"),
          Label(3.0, 3.0, "a point"), Label(3.5, 4.0, "")]

# as Audacity 3 writes a label track with spectral selections (and CRLF on Windows)
AUDACITY = ("0.250000\t0.900000\tfirst crow\r\n"
            "\\\t500.000000\t4000.000000\r\n"
            "1.123456\t2.500000\tsecond, longer 'call'\r\n"
            "\\\t-1.000000\t-1.000000\r\n"
            "3.000000\t3.000000\ta point\r\n"
            "3.500000\t4.000000\t\r\n")


# ---- files ------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_round_trip_keeps_every_label(tmp_path, suffix):
    path = write_labels(tmp_path / f"labels{suffix}", LABELS)
    assert read_labels(path) == LABELS


def test_audacity_file_is_tab_separated_with_six_decimals(tmp_path):
    path = write_labels(tmp_path / "l.txt", [Label(1 / 3, 2.0, "a\ttab\nand newline")])
    assert path.read_text() == "0.333333\t2.000000\ta tab and newline\n"


def test_a_real_audacity_file_with_spectral_lines_and_a_bom(tmp_path):
    path = tmp_path / "audacity.txt"
    path.write_bytes(b"\xef\xbb\xbf" + AUDACITY.encode())
    assert read_labels(path) == LABELS


def test_csv_has_a_header_and_quotes_text_with_commas(tmp_path):
    text = write_labels(tmp_path / "l.csv", LABELS[:2]).read_text()
    assert text.splitlines()[0] == "start,end,label"
    assert text.splitlines()[2] == "1.123456,2.500000,\"second, longer 'call'\""


def test_csv_columns_follow_the_header_and_may_come_without_one():
    assert parse_csv("label,end,start\ncrow,2,1\n") == [Label(1.0, 2.0, "crow")]
    assert parse_csv("1,2,crow\n\n3,4\n") == [Label(1.0, 2.0, "crow"), Label(3.0, 4.0, "")]


@pytest.mark.parametrize("text, line, words", [
    ("0.1\t0.2\tok\n0.3\t0.4\tok\n0.5\tsoon\tbad\n", 3, "'soon' is not a number"),
    ("0.1\t0.2\tok\n\n0.5 0.7 spaces\n", 3, "separated by tabs"),
    ("2.0\t1.0\tbackwards\n", 1, "ends (1 s) before it starts (2 s)"),
    ("0.1\tnan\tx\n", 1, "not finite"),
])
def test_a_bad_audacity_line_is_named(text, line, words):
    with pytest.raises(L2IError) as err:
        parse_audacity(text, "mine.txt")
    message = str(err.value)
    assert message.startswith(f"mine.txt, line {line}: ") and words in message
    assert "\n" not in message


@pytest.mark.parametrize("text, line, words", [
    ("start,end,label\n1,2,a\n1,x,b\n", 3, "'x' is not a number"),
    ("begin,stop,label\n1,2,a\n", 1, "must name the columns start, end"),
    ("start,end,label\n1\n", 2, "expected start,end,label"),
])
def test_a_bad_csv_line_is_named(text, line, words):
    with pytest.raises(L2IError, match=f"^l.csv, line {line}: .*{words}"):
        parse_csv(text, "l.csv")


def test_unreadable_files_say_so_in_one_line(tmp_path):
    binary = tmp_path / "noise.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81 not text")
    with pytest.raises(L2IError, match="noise.txt is not a text file of labels"):
        read_labels(binary)
    with pytest.raises(L2IError, match="cannot read missing.csv"):
        read_labels(tmp_path / "missing.csv")
    (tmp_path / "file").write_text("x")
    with pytest.raises(L2IError, match="cannot write labels.txt"):
        write_labels(tmp_path / "file" / "labels.txt", LABELS)


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = write_labels(tmp_path / "l.txt", LABELS)
    before = path.read_bytes()

    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(type(path), "write_text", full)
    with pytest.raises(L2IError, match="^cannot write l.txt: No space left on device$"):
        write_labels(path, LABELS[:1])
    assert path.read_bytes() == before and read_labels(path) == LABELS


# ---- the label set on the session -----------------------------------------------------
def test_add_edit_remove_are_sorted_evented_and_undoable():
    s = Session()
    labels, seen = LabelSet(s), []
    labels.changed.connect(seen.append)
    assert labels.add(Label(2.0, 3.0, "late")) == 0
    assert labels.add(Label(0.5, 1.0, "early")) == 0  # sorted by time
    assert [x.text for x in labels.labels] == ["early", "late"] and len(seen) == 2
    assert s.history.undo_text() == 'add label "early"'
    assert labels.edit(0, start=2.5, end=2.8) == 1  # moved after "late": a new index
    assert labels.edit(1, text="moved") == 1
    assert s.history.undo_text() == 'edit label "moved"'
    assert labels.remove(0) == Label(2.0, 3.0, "late")
    assert labels.labels == (Label(2.5, 2.8, "moved"),)
    assert s.history.undo_text() == 'delete label "late"'
    s.history.undo()
    assert [x.text for x in labels.labels] == ["late", "moved"] and seen[-1] == labels.labels
    s.history.undo()
    s.history.undo()
    assert labels.labels == (Label(0.5, 1.0, "early"), Label(2.0, 3.0, "late"))
    s.history.redo()
    assert labels[1] == Label(2.5, 2.8, "early")
    with pytest.raises(ValueError, match="before it starts"):
        labels.edit(0, end=1.0)
    assert len(labels) == 2  # a refused edit changes nothing


def test_an_import_is_one_edit_that_skips_labels_already_there():
    s = Session()
    labels = LabelSet(s)
    labels.add(LABELS[0])
    assert labels.add_many(LABELS + LABELS[:1]) == 3
    assert labels.labels == tuple(sorted(LABELS))
    assert s.history.undo_text() == "import 3 labels"
    s.history.undo()
    assert labels.labels == (LABELS[0],)
    assert labels.add_many([LABELS[0]]) == 0 and s.history.undo_text() == 'add label "first crow"'


def test_describe_says_what_changed():
    a, b = Label(0, 1, "a"), Label(1, 2, "b")
    assert describe((), (a,)) == 'add label "a"'
    assert describe((a,), ()) == 'delete label "a"'
    assert describe((a,), (Label(0, 1, "A"),)) == 'edit label "A"'
    assert describe((), (a, b)) == "import 2 labels"
    assert describe((a, b), ()) == "labels"
    assert describe((), (Label(0, 1, "x" * 40),)).endswith('\u2026"')


# ---- energy inside the labels ----------------------------------------------------------
def _log_mag(per_frame: list[float], bins: int = 3) -> np.ndarray:
    """A spectrogram whose frame t has energy per_frame[t] (split over the bins)."""
    mag = np.sqrt(np.asarray(per_frame, float) / bins)
    return np.log1p(np.repeat(mag[None], bins, axis=0))


def test_all_none_and_half_of_the_energy_inside():
    # a centred STFT of 4 s at 0.5 s per frame has 9 frames: frame t stands for
    # [t/2 - 1/4, t/2 + 1/4] cut to 0..4
    spf = 0.5
    burst = _log_mag([0, 0, 4, 4, 0, 0, 0, 0, 0])  # frames 2 and 3: 0.75 s to 1.75 s
    flat = _log_mag([1] * 9)
    inside = energy_shares(burst, flat, spf, [(0.75, 1.75)], duration=4.0)
    assert inside.interpretation == pytest.approx(1.0)
    assert inside.duration == pytest.approx(0.25)
    assert inside.input == pytest.approx(2 / 9)  # 2 of 9 equal frames
    outside = energy_shares(burst, flat, spf, [(2.0, 4.0)], duration=4.0)
    assert outside.interpretation == pytest.approx(0.0) and outside.duration == 0.5
    half = energy_shares(burst, None, spf, [(0.75, 1.25)], duration=4.0)
    assert half.interpretation == pytest.approx(0.5) and half.input is None
    part = energy_shares(burst, None, spf, [(0.75, 1.0)], duration=4.0)
    assert part.interpretation == pytest.approx(0.25)  # half of one frame's cell


def test_overlaps_count_once_and_the_outside_of_the_clip_not_at_all():
    spf, lm = 0.5, _log_mag([1] * 9)
    once = energy_shares(lm, lm, spf, [(0.0, 2.0), (1.0, 2.0), (1.5, 1.8)], duration=4.0)
    assert once.duration == pytest.approx(0.5)
    assert once.interpretation == pytest.approx(4.5 / 9)  # frames 0-3, half of frame 4
    beyond = energy_shares(lm, lm, spf, [(-5.0, 1.0), (3.0, 9.0), (10.0, 11.0)], 4.0)
    # 0..1 s: frames 0, 1 and half of 2; 3..4 s: half of 6, frames 7 and 8
    assert beyond.duration == pytest.approx(0.5) and beyond.input == pytest.approx(5 / 9)
    whole = energy_shares(lm, lm, spf, [(0.0, 4.0)], duration=4.0)
    assert whole.interpretation == pytest.approx(1.0) and whole.duration == 1.0
    assert merged([(3, 9), (-1, 1)], 4.0).tolist() == [[0.0, 1.0], [3.0, 4.0]]


def test_a_silent_interpretation_has_no_share_and_padding_frames_count():
    silent = energy_shares(_log_mag([0] * 4), None, 1.0, [(0.0, 1.0)], duration=4.0)
    assert silent.interpretation is None and silent.duration == 0.25
    # a centred STFT of a 2.2 s clip at 1 s per frame: frame 3 is centred past the end,
    # its cell is cut to nothing; it counts as inside when the clip's end is labelled
    cover = frame_coverage(4, 1.0, merged([(1.5, 2.2)], 2.2), 2.2)
    assert cover.tolist() == pytest.approx([0.0, 0.0, 1.0, 1.0])
    assert frame_coverage(4, 1.0, merged([], 2.2), 2.2).tolist() == [0.0] * 4
