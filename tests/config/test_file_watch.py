"""FileWatcher: one `changed()` per edit of the content, looked at no more often than the interval."""

import os

from pyuniproc.config.file_watch import FileWatcher


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_edit_counts_once_and_a_same_content_save_not_at_all(tmp_path):
    path = tmp_path / "module.yml"
    path.write_text("threshold: 0.45\n")
    watcher = FileWatcher(path, interval_seconds=0)
    assert not watcher.changed()
    path.write_text("threshold: 0.55\n")  # same size, within the mtime granularity of the first write
    assert watcher.changed() and not watcher.changed()
    path.write_text("threshold: 0.55\n")  # saved again, same bytes
    os.utime(path, ns=(0, 0))
    assert not watcher.changed()


def test_the_file_is_looked_at_once_per_interval(tmp_path):
    path = tmp_path / "module.yml"
    path.write_text("a: 1\n")
    clock = Clock()
    watcher = FileWatcher(path, interval_seconds=2.0, clock=clock)
    assert not watcher.changed()  # the first call looks
    path.write_text("a: 2\n")
    clock.now = 1.9
    assert not watcher.changed()
    clock.now = 2.0
    assert watcher.changed()


def test_a_missing_file_is_no_edit_until_it_is_back(tmp_path):
    path = tmp_path / "module.yml"
    path.write_text("a: 1\n")
    watcher = FileWatcher(path, interval_seconds=0)
    path.unlink()  # an editor saving by rename
    assert not watcher.changed()
    path.write_text("a: 2\n")
    assert watcher.changed()
