"""The one way files are written: all or nothing, flushed to the disk, with the mode the
umask asks for, and no temporary file left behind whatever happens."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.runtime import atomic


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_writes_replace_the_file_and_leave_nothing_else(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    assert atomic.write_json(path, {"a": [1, 2]}) == path
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    atomic.write_text(tmp_path / "t.csv", "a,b\r\n1,2\n")  # line ends kept as given
    assert (tmp_path / "t.csv").read_bytes() == b"a,b\r\n1,2\n"
    atomic.write_bytes(tmp_path / "b.bin", b"\0\1")
    assert (tmp_path / "b.bin").read_bytes() == b"\0\1"
    assert _names(tmp_path) == ["b.bin", "out.json", "t.csv"]


def test_the_writer_gets_a_hidden_file_beside_the_target_with_its_suffix(tmp_path):
    seen = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_text("x")

    atomic.write_atomically(tmp_path / "clip.wav", write)
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".clip.wav.")
    assert seen[0].suffix == ".wav" and not seen[0].exists()


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "data.json"
    path.write_text("old")

    def write(tmp: Path) -> None:
        tmp.write_text("half of the n")
        raise ValueError("the writer broke")

    with pytest.raises(ValueError, match="the writer broke"):  # passed on unchanged
        atomic.write_atomically(path, write)
    assert path.read_text() == "old" and _names(tmp_path) == ["data.json"]
    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomically(path, lambda tmp: (_ for _ in ()).throw(KeyboardInterrupt))
    assert path.read_text() == "old" and _names(tmp_path) == ["data.json"]


def test_a_crash_mid_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"step": 1}')
    child = textwrap.dedent(f"""
        import os
        from engine.runtime import atomic

        def write(tmp):
            with open(tmp, "w") as f:
                f.write('{{"step": 2, "wei')
                f.flush()
            os._exit(9)  # killed in the middle: no cleanup runs at all

        atomic.write_atomically({str(path)!r}, write)
    """)
    done = subprocess.run([sys.executable, "-c", child], cwd=Path(__file__).parents[1])
    assert done.returncode == 9
    assert json.loads(path.read_text()) == {"step": 1}
    leftovers = [n for n in _names(tmp_path) if n != "state.json"]
    assert all(n.startswith(".state.json.") for n in leftovers)  # hidden, never the file


def test_an_error_about_the_temporary_file_names_the_target(tmp_path):
    path = tmp_path / "out.bin"

    def full_disk(tmp: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

    with pytest.raises(OSError) as info:
        atomic.write_atomically(path, full_disk)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert _names(tmp_path) == []
    with pytest.raises(FileNotFoundError) as info:
        atomic.write_bytes(tmp_path / "no" / "such" / "x.bin", b"x")
    assert info.value.filename == str(tmp_path / "no" / "such" / "x.bin")
    assert not (tmp_path / "no").exists()  # the folder is the caller's to make


def test_an_error_about_another_file_keeps_that_files_name(tmp_path):
    def reads_a_missing_input(tmp: Path) -> None:
        (tmp_path / "input.wav").read_bytes()

    with pytest.raises(FileNotFoundError) as info:
        atomic.write_atomically(tmp_path / "out.wav", reads_a_missing_input)
    assert info.value.filename == str(tmp_path / "input.wav")
    assert _names(tmp_path) == []


def test_the_file_and_its_folder_are_flushed_to_the_disk(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    path = tmp_path / "x.txt"
    seen = []
    atomic.write_atomically(path, lambda tmp: (seen.append(tmp), tmp.write_text("x")))
    assert synced == [str(seen[0]), str(tmp_path)]


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_the_mode_is_what_the_umask_gives_whatever_the_writer_did(tmp_path, mask):
    def private(tmp: Path) -> None:  # like safetensors: a new file, 0600
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)

    old = os.umask(mask)
    try:
        atomic.write_bytes(tmp_path / "a", b"x")
        atomic.write_atomically(tmp_path / "b", private)
        existing = tmp_path / "c"
        existing.write_text("old")
        os.chmod(existing, 0o600)
        atomic.write_text(existing, "new")
    finally:
        os.umask(old)
    for name in ("a", "b", "c"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask, name
