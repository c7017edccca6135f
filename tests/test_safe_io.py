"""Files written safely and one writer per folder: atomic writes that never follow a planted
link, folders swapped in whole (a SIGKILL at any step leaves the old or the new one), full
disks, and the lock (a second writer refused with the holder's name, a SIGKILLed holder never
blocking)."""
import errno
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from diskfaults import mounts, subprocess_env, temp_files, tree  # noqa: F401 -- a fixture
from rnnbench.disk import writing as safe_io
from rnnbench.disk.lock import FolderBusy, FolderLock
from rnnbench.disk.writing import WriteError, atomic_write_bytes, sweep_temps, write_folder

OLD = {"a.txt": b"old a", "summary.json": b"old summary"}
NEW = {"a.txt": b"new a", "b.txt": b"new b", "summary.json": b"new summary"}


def contents(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_atomic_write_replaces_a_planted_link_not_its_target(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_bytes(b"keep me")
    link = tmp_path / "run" / "error.txt"
    link.parent.mkdir()
    link.symlink_to(outside)
    atomic_write_bytes(link, b"the traceback")
    assert outside.read_bytes() == b"keep me"
    assert not link.is_symlink() and link.read_bytes() == b"the traceback"
    assert temp_files(tmp_path) == []


def test_write_folder_replaces_the_old_folder_and_its_links(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_bytes(b"keep me")
    folder = tmp_path / "run"
    write_folder(folder, OLD)
    (folder / "error.txt").symlink_to(outside)
    write_folder(folder, NEW)
    assert contents(folder) == NEW and outside.read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == ["precious.txt", "run"]


def test_write_folder_without_rename_exchange(tmp_path, monkeypatch):
    monkeypatch.setattr(safe_io, "_renameat2", None)
    folder = tmp_path / "run"
    write_folder(folder, OLD)
    write_folder(folder, NEW)
    assert contents(folder) == NEW and os.listdir(tmp_path) == ["run"]


@pytest.mark.parametrize("writer", ["file", "folder"])
def test_injected_enospc_is_one_line_and_leaves_no_temp_file(tmp_path, monkeypatch, writer):
    target = tmp_path / ("t.bin" if writer == "file" else "run")
    if writer == "file":
        atomic_write_bytes(target, b"old")
    else:
        write_folder(target, OLD)
    before = tree(tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError) as info:
        if writer == "file":
            atomic_write_bytes(target, b"new")
        else:
            write_folder(target, NEW)
    assert str(info.value) == f"cannot write {target}: No space left on device"
    assert tree(tmp_path) == before  # the old one intact, no temp files
    assert (target.read_bytes() == b"old") if writer == "file" else contents(target) == OLD


def test_a_full_tmpfs_is_one_line_and_leaves_no_temp_file(mounts):
    disk = mounts.tmpfs("256k")
    atomic_write_bytes(disk / "small", b"x" * 1000)
    with pytest.raises(WriteError, match=f"cannot write {disk}/big: No space left on device"):
        atomic_write_bytes(disk / "big", b"x" * 400_000)
    with pytest.raises(WriteError, match=f"cannot write {disk}/run: No space left on device"):
        write_folder(disk / "run", {"a": b"x" * 200_000, "b": b"x" * 200_000})
    assert tree(disk) == ["small"]


# -- a SIGKILL at each step of replacing a folder --------------------------------------------

KILLABLE = textwrap.dedent("""
    import os, sys, time
    from rnnbench.disk import writing as safe_io
    stop, calls, real = int(sys.argv[2]), [0], os.fsync
    def fsync(fd):  # every step of write_folder ends in an fsync: pause at the chosen one
        real(fd)
        calls[0] += 1
        if calls[0] == stop:
            print("paused", flush=True)
            time.sleep(60)
    os.fsync = fsync
    safe_io.write_folder(sys.argv[1], {NEW!r})
    print("done", flush=True)
""").replace("{NEW!r}", repr(NEW))
# fsyncs: the three files, the new folder, its parent after the swap; 6 is never reached
STEPS = range(1, 7)


def test_sigkill_at_any_step_leaves_the_old_or_the_new_folder(tmp_path):
    seen = set()
    for step in STEPS:
        parent = tmp_path / f"step{step}"
        parent.mkdir()
        folder = parent / "run"
        write_folder(folder, OLD)
        proc = subprocess.Popen([sys.executable, "-c", KILLABLE, str(folder), str(step)],
                                stdout=subprocess.PIPE, text=True, env=subprocess_env())
        state = proc.stdout.readline().strip()
        if state == "paused":
            proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) in (0, -signal.SIGKILL)
        found = contents(folder)
        assert found in (OLD, NEW), (step, found)
        seen.add("new" if found == NEW else "old")
        # what the killed writer left is the debris of a dead process: swept, nothing else
        sweep_temps(parent)
        assert os.listdir(parent) == ["run"], step
        assert contents(folder) == found
    assert seen == {"old", "new"}


def test_sweep_keeps_the_temp_files_of_live_processes(tmp_path):
    mine = safe_io.temp_path(tmp_path / "x")
    mine.write_bytes(b"in progress")
    dead = tmp_path / ".x.999999999.0123abcd.tmp"
    dead.write_bytes(b"left by a dead writer")
    other = tmp_path / ".notes.tmp"  # not ours: no pid, no token
    other.write_bytes(b"")
    assert sweep_temps(tmp_path) == 1
    assert sorted(os.listdir(tmp_path)) == sorted([mine.name, other.name])


# -- the lock -----------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from rnnbench.disk.lock import FolderLock
    lock = FolderLock(sys.argv[1], sys.argv[2]).acquire()
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
""")


def hold(tmp_path, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "f" / ".lock"),
                             str(tmp_path / "f"), str(seconds)], stdout=subprocess.PIPE,
                            text=True, env=subprocess_env())
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_with_the_holder_and_a_killed_holder_blocks_nothing(tmp_path):
    proc = hold(tmp_path, 60)
    lock = FolderLock(tmp_path / "f" / ".lock", tmp_path / "f", hint="add --wait")
    with pytest.raises(FolderBusy) as info:
        lock.acquire()
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'f'} is in use by 'rnnbench")
    assert f"pid {proc.pid}" in message and message.endswith("; add --wait")
    assert "\n" not in message
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "f" / ".lock").exists()  # left behind by the killed holder ...
    with lock:  # ... and yet no obstacle: the kernel dropped its flock
        assert f'"pid": {os.getpid()}' in (tmp_path / "f" / ".lock").read_text()
    assert not (tmp_path / "f" / ".lock").exists()


def test_wait_waits_for_the_holder(tmp_path):
    proc = hold(tmp_path, 0.5)
    told = []
    start = time.monotonic()
    with FolderLock(tmp_path / "f" / ".lock", tmp_path / "f", wait=True, on_wait=told.append):
        assert time.monotonic() - start >= 0.4  # not before the holder let go
    proc.wait()
    assert len(told) == 1 and f"pid {proc.pid}" in told[0] and "waiting" in told[0]


def test_lock_removes_what_it_created_and_refuses_a_planted_link(tmp_path):
    lock = FolderLock(tmp_path / "a" / "b" / ".lock", tmp_path / "a" / "b")
    with lock:
        assert (tmp_path / "a" / "b" / ".lock").is_file()
    assert os.listdir(tmp_path) == []
    (tmp_path / ".lock").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(WriteError, match="is a symbolic link"):
        FolderLock(tmp_path / ".lock", tmp_path).acquire()
    assert not (tmp_path / "elsewhere").exists()
