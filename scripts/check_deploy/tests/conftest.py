"""A throwaway copy of the repository per test: deploy/, scripts/ and .dockerignore copied (the
tests break them, and docs/), the workspace (crates/, config/, manifests) linked, read-only in effect."""

import os
import shutil
import subprocess

import pytest

from check_deploy.repo import Repo

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class Copy:
    def __init__(self, root):
        self.root = str(root)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def edit(self, rel, old, new):
        """Replaces `old` (which must be there) by `new` in the copy's file `rel`."""
        path = self.path(rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        assert old in text, f"{rel} no longer contains {old!r}: update the test case"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, 1))

    def write(self, rel, text):
        os.makedirs(os.path.dirname(self.path(rel)), exist_ok=True)
        with open(self.path(rel), "w", encoding="utf-8") as f:
            f.write(text)

    def repo(self):
        return Repo(self.root)


@pytest.fixture
def copy(tmp_path):
    for name in ("Cargo.toml", "Cargo.lock", "crates", "config", "web"):
        os.symlink(os.path.join(ROOT, name), tmp_path / name)
    shutil.copytree(os.path.join(ROOT, "deploy"), tmp_path / "deploy", symlinks=True)
    # The metrics tables the rules and the dashboard are checked against; tests edit them.
    shutil.copytree(os.path.join(ROOT, "docs"), tmp_path / "docs", symlinks=True)
    shutil.copy(os.path.join(ROOT, ".dockerignore"), tmp_path / ".dockerignore")
    (tmp_path / "scripts").mkdir()
    for path in committed_scripts():
        shutil.copy2(path, tmp_path / "scripts" / os.path.basename(path))
    return Copy(tmp_path)


def committed_scripts():
    """The files directly in scripts/ that git knows: a colleague's half-written script in the
    shared checkout is the real run's business, not a reason for these tests to fail."""
    listed = subprocess.run(["git", "ls-files", "scripts"], cwd=ROOT, capture_output=True, text=True)
    names = {os.path.join(ROOT, n) for n in listed.stdout.split()} if listed.returncode == 0 else None
    for entry in os.scandir(os.path.join(ROOT, "scripts")):
        if entry.is_file() and (names is None or entry.path in names):
            yield entry.path
