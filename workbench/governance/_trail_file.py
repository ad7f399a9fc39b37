"""The embedded audit-trail store: a JSON-lines file and its head file, serialised with ``filelock``.

Each record is one line appended with ``O_APPEND`` and ``fsync``; the head (count and last hash) is a small
file replaced atomically. A write cut short by a crash or a full disk leaves an unfinished last line that no
head counts: the next append removes it (:meth:`FileTrail.repair_tail`) and says so.
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path
from typing import Any

from filelock import FileLock

from workbench.governance._trail_storage import Line, TrailStorage


def _lock_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".lock"


class FileTrail(TrailStorage):
    """``audit.jsonl`` and ``audit.head.json``, locked with ``filelock`` (re-entrant within one process)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_suffix(".head.json")
        self.where, self.head_where = str(self.path), str(self.head_path)
        self._lock = FileLock(str(self.path.with_suffix(".lock")))
        self._parsed: tuple[tuple[int, int, int], list[Line]] | None = None

    def lines(self) -> list[Line]:
        """The parsed lines (cached while the file's size and change time stay the same)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return []
        stamp = (info.st_size, info.st_mtime_ns, info.st_ino)
        if self._parsed is not None and self._parsed[0] == stamp:
            return list(self._parsed[1])
        lines = self._parse()
        self._parsed = (stamp, lines)
        return list(lines)

    def _parse(self) -> list[Line]:
        if not self.path.is_file():
            return []
        text = self.path.read_text("utf-8", errors="replace")
        raw = text.split("\n")
        out = []
        for number, line in enumerate(raw, start=1):
            complete = number < len(raw)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            out.append(Line(number, record if isinstance(record, dict) else None, complete))
        return out

    def head(self) -> dict[str, Any] | None:
        if not self.head_path.is_file():
            return None
        try:
            head = json.loads(self.head_path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {"count": -1, "hash": "", "key_id": "", "mac": ""}
        return head if isinstance(head, dict) else {"count": -1, "hash": "", "key_id": "", "mac": ""}

    def stamp(self) -> tuple | None:
        """Size and change time of the trail and its head (any write changes them)."""
        try:
            trail, head = self.path.stat(), self.head_path.stat()
        except OSError:
            return None
        return trail.st_size, trail.st_mtime_ns, head.st_size, head.st_mtime_ns

    def lock(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._lock

    def model_lock(self, name: str) -> FileLock:
        folder = self.path.parent / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        return FileLock(str(folder / _lock_name(name)))

    def repair_tail(self, lines: list[Line], repairs: list[str]) -> list[Line]:
        """Remove an unfinished last line (a write cut short by a crash or a full disk) that no head counts."""
        if not lines or lines[-1].complete:
            return lines
        head = self.head() or {"count": 0}
        last_complete = next((ln.record for ln in reversed(lines[:-1]) if ln.record is not None), None)
        counted = int(last_complete["seq"]) if last_complete else 0
        if lines[-1].record is not None or head.get("count") != counted:
            return lines  # not an unfinished write: verify reports it
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        with open(self.path, "r+b") as handle:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
        repairs.append(f"removed an unfinished write at the end of {self.path} (line {lines[-1].number})")
        return lines[:-1]

    def write(self, line: bytes, record: dict[str, Any]) -> None:
        size = self.path.stat().st_size if self.path.exists() else 0
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                written = os.write(descriptor, line)
                if written != len(line):
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError:
            self._undo(size)
            raise

    def _undo(self, size: int) -> None:
        try:
            with open(self.path, "r+b") as handle:
                handle.truncate(size)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            pass  # left as an unfinished line: the next append removes it

    def write_head(self, head: dict[str, Any]) -> None:
        temporary = self.head_path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(head))
            handle.flush()
            os.fsync(handle.fileno())
        # the rename is not forced to disk: a head lost in a crash lags behind authenticated records, which the
        # next append detects and moves forward (one fsync fewer per action)
        temporary.replace(self.head_path)
