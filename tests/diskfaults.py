"""Helpers for tests of faults on disk: small tmpfs mounts (a real full disk, a read-only file
system) where the machine allows them, and listings of what was left behind."""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def subprocess_env():
    """The environment of a child process that runs the code under test (this checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


class Mounts:
    """tmpfs mounts made by one test, unmounted after it."""

    def __init__(self, base):
        self.base, self.mounted = base, []

    def tmpfs(self, size):
        """A new empty tmpfs of ``size`` (e.g. "300k"); skips the test where mounting fails."""
        where = self.base / f"tmpfs{len(self.mounted)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs",
                               str(where)], capture_output=True)
        if done.returncode:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        self.mounted.append(where)
        return where

    def read_only(self):
        """An empty folder nobody may write (a read-only tmpfs as root, else a 0555 folder)."""
        if os.geteuid() != 0:
            where = self.base / "read-only"
            where.mkdir()
            where.chmod(0o555)
            return where
        where = self.tmpfs("64k")
        if subprocess.run(["mount", "-o", "remount,ro", str(where)]).returncode:
            pytest.skip("cannot remount a tmpfs read-only here")
        return where

    def unmount(self):
        for where in reversed(self.mounted):
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(folder, leave=0):
    """Fill the file system of ``folder`` until at most ``leave`` bytes are free."""
    with open(Path(folder) / "filler", "ab") as f:
        while True:
            free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
            if free <= leave:
                return
            try:
                f.write(b"\0" * min(free - leave, 1 << 20))
                f.flush()
            except OSError:
                return


def tree(folder):
    """Every path under ``folder`` (relative, sorted), dot files included."""
    folder = Path(folder)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def temp_files(folder):
    """Temporary files and folders under ``folder`` (rnnbench's, older versions', lock files)."""
    return [p for p in tree(folder) if Path(p).name.endswith((".tmp", ".lock"))]


@pytest.fixture
def mounts(tmp_path):
    """Mounts (tmpfs, read-only folders) for one test, undone after it."""
    made = Mounts(tmp_path)
    yield made
    made.unmount()
