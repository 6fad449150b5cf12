"""Crash-safe recording: queue -> writer thread -> append-only TSV, flushed and fsynced.

Trackers call :meth:`Recorder.push_samples` from their own thread with a gaze sample
block (:data:`study.trackers.base.GAZE_FIELDS`); the protocol calls
:meth:`Recorder.push_event`. Both only put the object on an unbounded queue (no
formatting, no I/O, no lock held by the caller), so the tracker callback never blocks
and no sample is dropped. A writer thread wakes at least every ``flush_interval_s``
(default 0.25 s), formats everything queued, appends it to
``.recording/samples.tsv`` / ``.recording/events.tsv`` (uncompressed, header written
once), then ``flush()`` + ``os.fsync()``. A SIGKILL therefore loses at most what was
queued since the last fsync: one flush interval. A line cut short by a kill is removed
by :func:`repair_tail` when the session resumes or is finalised.

Both files carry a ``segment`` column: 1 for the first run of a session, +1 for each
``--resume``, so the finaliser can keep exactly one copy of every trial.

``state.json`` (the session's progress: plan, completed trials, calibration log) is
written atomically (temporary file, fsync, rename) by :func:`write_state`.

Storage faults (disk full ``ENOSPC``, quota ``EDQUOT``, ``EIO``, a file system turned
read-only, :data:`STORAGE_ERRNOS`): the files are written unbuffered (``os.write``), so
what is on disk is always a prefix of what was queued (a cut last line is removed on
resume). The writer thread stops at the first error and keeps it; the session's next
check (every presenter frame/step, :meth:`Recorder.check`) re-raises it in the main
thread, which stops the session at once (``study.session``).
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import queue
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from study.trackers.base import GAZE_FIELD_NAMES, GAZE_FIELDS, check_gaze_block

log = logging.getLogger(__name__)

SAMPLES_FILE = "samples.tsv"
EVENTS_FILE = "events.tsv"
STATE_FILE = "state.json"

#: Columns of the in-progress events file (tracker-clock µs; converted by study.bids).
EVENT_FIELDS: tuple[str, ...] = (
    "segment", "trial_type", "trial", "stimulus_id", "artwork", "category", "method", "stim_file",
    "onset_us", "offset_us", "aoi_left", "aoi_top", "aoi_right", "aoi_bottom", "dropped_frames",
)

#: printf format per sample field (normalised coordinates to 1e-7 of the screen, mm to 1 µm).
_FORMATS = {
    "int64": "%d",
    "bool": "%d",
}
_FLOAT_FORMATS = {
    "gaze_point_on_display_area": "%.7f",
    "pupil_diameter": "%.4f",
    "gaze_origin_in_user_coordinates": "%.3f",
}


#: errno values that mean the storage cannot take more data (the session stops; --resume once fixed).
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG})


def is_storage_error(exc: BaseException) -> bool:
    """True for an OSError that means the disk is full, over quota, failing or read-only."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a short write is retried; an error raises)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _float_fmt(name: str) -> str:
    for key, fmt in _FLOAT_FORMATS.items():
        if key in name:
            return fmt
    return "%.6g"


SAMPLE_HEADER = "\t".join((*GAZE_FIELD_NAMES, "segment"))
_ROW_FMT = "\t".join(
    _FORMATS.get(GAZE_FIELDS[f], None) or _float_fmt(f) for f in GAZE_FIELD_NAMES
) + "\t%d"


def format_samples(block: dict[str, np.ndarray], segment: int) -> str:
    """Format a sample block as TSV lines (no header), ``nan`` for missing values."""
    n = len(block["system_time_stamp"])
    if n == 0:
        return ""
    cols = [block[f].astype(np.int64) if GAZE_FIELDS[f] == "bool" else block[f] for f in GAZE_FIELD_NAMES]
    rows = zip(*(c.tolist() for c in cols), [segment] * n)
    return "\n".join(_ROW_FMT % r for r in rows) + "\n"


def _fmt_event_value(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if np.isnan(v):
            return "n/a"
        return repr(round(v, 3)) if not v.is_integer() else str(int(v))
    return str(v).replace("\t", " ").replace("\n", " ")


def format_event(event: dict[str, Any]) -> str:
    """One event dict -> one TSV line in :data:`EVENT_FIELDS` order (``n/a`` when absent)."""
    unknown = set(event) - set(EVENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown event fields {sorted(unknown)}")
    return "\t".join(_fmt_event_value(event.get(f)) for f in EVENT_FIELDS) + "\n"


def repair_tail(path: Path) -> int:
    """Cut a trailing partial line (left by a kill mid-write); return the bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as fh:
        back = min(size, 1 << 16)
        fh.seek(size - back)
        tail = fh.read(back)
        if tail.endswith(b"\n"):
            return 0
        cut = tail.rfind(b"\n")
        new_size = size - back + cut + 1 if cut >= 0 else 0
        fh.truncate(new_size)
        fh.flush()
        os.fsync(fh.fileno())
    log.warning("removed a partial last line (%d bytes) from %s", size - new_size, path)
    return size - new_size


def write_state(folder: Path, state: dict[str, Any]) -> None:
    """Atomically replace ``folder/state.json`` (tmp + fsync + rename + dir fsync)."""
    target = folder / STATE_FILE
    tmp = folder / (STATE_FILE + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError:   # disk full etc.: the previous state.json stays as it was
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def read_state(folder: Path) -> dict[str, Any] | None:
    """The session state, or None when there is none."""
    p = folder / STATE_FILE
    if not p.exists():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Barrier:
    def __init__(self) -> None:
        self.done = threading.Event()


class Recorder:
    """Queue + writer thread appending samples and events to the ``.recording`` folder.

    Parameters
    ----------
    folder : Path
        The session's ``.recording/`` folder (created if needed).
    segment : int
        1 for a new session, +1 per resume (written in every row).
    flush_interval_s : float
        Longest time between fsyncs (default 0.25 s, the issue's bound on crash loss).
    """

    def __init__(self, folder: Path, *, segment: int = 1, flush_interval_s: float = 0.25) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.segment = int(segment)
        self.flush_interval_s = float(flush_interval_s)
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.samples_path = self.folder / SAMPLES_FILE
        self.events_path = self.folder / EVENTS_FILE
        for path, header in ((self.samples_path, SAMPLE_HEADER), (self.events_path, "\t".join(EVENT_FIELDS))):
            repair_tail(path)
            if not path.exists() or path.stat().st_size == 0:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    _write_all(fd, (header + "\n").encode("utf-8"))
                    os.fsync(fd)
                except OSError:
                    os.ftruncate(fd, 0)   # no half header: the next run writes it again
                    raise
                finally:
                    os.close(fd)
        _fsync_dir(self.folder)
        self._fs = os.open(self.samples_path, os.O_WRONLY | os.O_APPEND)
        self._fe = os.open(self.events_path, os.O_WRONLY | os.O_APPEND)
        self._closed = False
        self.failed = threading.Event()   # set when the writer stopped on an error (kept in self._error)
        self.n_unwritten = 0              # samples pushed after the writer stopped
        # statistics (updated by the writer thread only)
        self.n_pushed = 0          # incremented by the pushing thread (int += is atomic enough under the GIL)
        self.n_written = 0
        self.n_valid = 0
        self.n_events = 0
        self.n_flushes = 0
        self.max_flush_gap_s = 0.0
        self.n_late_flushes = 0    # gaps between writes longer than 1.2 flush intervals (CPU starvation)
        self.last_ts_us: int | None = None
        self._rate_window: deque[tuple[int, int]] = deque(maxlen=64)

    # -- producer side -----------------------------------------------------------
    def push_samples(self, block: dict[str, np.ndarray]) -> None:
        """Queue a gaze sample block (called from the tracker thread; never blocks)."""
        self.n_pushed += len(block["system_time_stamp"])
        if self.failed.is_set():   # nothing more can be written; the main thread stops the session
            self.n_unwritten += len(block["system_time_stamp"])
            return
        self._q.put(("s", block))

    def push_event(self, event: dict[str, Any]) -> None:
        """Queue one event row (keys from :data:`EVENT_FIELDS`; ``segment`` is filled in)."""
        self.check()
        ev = dict(event)
        ev["segment"] = self.segment
        format_event(ev)  # validate now, in the caller's thread
        self._q.put(("e", ev))

    def sync(self, timeout: float = 10.0) -> None:
        """Block until everything queued so far is written and fsynced (raises the writer's error)."""
        self.check()
        if self._thread is None or not self._thread.is_alive():
            try:
                self._drain_and_write()
            except BaseException as exc:
                self._error = exc
                self.failed.set()
                raise
            return
        b = _Barrier()
        self._q.put(("b", b))
        self._wake.set()
        deadline = time.monotonic() + timeout
        while not b.done.wait(0.05):
            self.check()
            if time.monotonic() > deadline:
                raise RuntimeError("recorder writer did not catch up in time")
        self.check()

    # -- writer side ----------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="study-recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # wake on a fixed schedule (not "interval after the last write"), so the time between
        # two fsyncs is the interval, not the interval plus the time spent writing
        last = time.monotonic()
        deadline = last + self.flush_interval_s
        try:
            while not self._stop.is_set():
                self._wake.wait(max(0.0, deadline - time.monotonic()))
                self._wake.clear()
                self._drain_and_write()
                now = time.monotonic()
                self.max_flush_gap_s = max(self.max_flush_gap_s, now - last)
                self.n_late_flushes += (now - last) > 1.2 * self.flush_interval_s
                last = now
                if now >= deadline:  # (woken early by sync(): keep the schedule)
                    deadline = max(deadline + self.flush_interval_s, now)
            self._drain_and_write()
        except BaseException as exc:  # disk full etc.: kept, re-raised in the main thread by check()
            self._error = exc
            self.failed.set()
            if isinstance(exc, OSError):   # reported to the experimenter by the session (no traceback)
                log.error("recorder: cannot write to %s: %s", self.folder, exc.strerror or exc)
            else:
                log.exception("recorder writer failed")

    def _drain_and_write(self) -> None:
        blocks: list[dict[str, np.ndarray]] = []
        events: list[dict[str, Any]] = []
        barriers: list[_Barrier] = []
        while True:
            try:
                kind, item = self._q.get_nowait()
            except queue.Empty:
                break
            if kind == "s":
                blocks.append(item)
            elif kind == "e":
                events.append(item)
            else:
                barriers.append(item)
        if blocks:
            buf = io.StringIO()
            for b in blocks:
                b = check_gaze_block(b)
                if self.last_ts_us is not None and len(b["system_time_stamp"]) and b["system_time_stamp"][0] <= self.last_ts_us:
                    log.warning("sample timestamps went backwards (%d <= %d)", b["system_time_stamp"][0], self.last_ts_us)
                buf.write(format_samples(b, self.segment))
                n = len(b["system_time_stamp"])
                self.n_written += n
                self.n_valid += int(np.count_nonzero(b["left_gaze_point_valid"] | b["right_gaze_point_valid"]))
                if n:
                    self.last_ts_us = int(b["system_time_stamp"][-1])
            self._write(self._fs, buf.getvalue())
            if self.last_ts_us is not None:
                self._rate_window.append((self.last_ts_us, self.n_written))
        if events:
            self._write(self._fe, "".join(format_event(e) for e in events))
            self.n_events += len(events)
        if blocks or events:
            self.n_flushes += 1
        for b in barriers:
            b.done.set()

    def _write(self, fd: int, text: str) -> None:
        try:
            _write_all(fd, text.encode("utf-8"))
            os.fsync(fd)
        except OSError as exc:   # name the file (os.write does not)
            if exc.filename is not None:
                raise
            path = self.samples_path if fd == self._fs else self.events_path
            raise OSError(exc.errno, exc.strerror, str(path)) from None

    def check(self) -> None:
        """Raise the writer's error in the caller's thread (the storage ``OSError`` itself)."""
        if self._error is None:
            return
        if isinstance(self._error, OSError):
            raise self._error
        raise RuntimeError(f"recorder writer failed: {self._error}") from self._error

    _raise_if_failed = check

    def close(self) -> None:
        """Stop the writer after writing everything queued; close the files; raise a writer error."""
        if self._closed:
            return
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            if self._error is None:
                try:
                    self._drain_and_write()
                except BaseException as exc:
                    self._error = exc
                    self.failed.set()
        finally:
            os.close(self._fs)
            os.close(self._fe)
            self._closed = True
        self.check()

    # -- live statistics ----------------------------------------------------------
    def live_rate_hz(self, window_s: float = 1.0) -> float:
        """Samples per second over (about) the last ``window_s`` of tracker time."""
        w = list(self._rate_window)
        if len(w) < 2:
            return float("nan")
        t_end, n_end = w[-1]
        for t, n in reversed(w[:-1]):
            if t_end - t >= window_s * 1e6:
                break
        if t_end == t:
            return float("nan")
        return (n_end - n) / ((t_end - t) / 1e6)

    def valid_percent(self) -> float:
        """Percentage of written samples with at least one valid eye."""
        return 100.0 * self.n_valid / self.n_written if self.n_written else float("nan")


#: Folder (under the dataset root) holding one lock file per session being recorded or finalised.
LOCK_DIR = ".locks"


class SessionLock:
    """Exclusive lock on one participant's session (``<root>/.locks/sub-XX_ses-N.lock``).

    The lock is an ``fcntl.flock`` on the lock file, held for the whole run (recording and
    finalising) and released by the kernel when the process dies, however it dies. The
    file records the holder (``pid``, ``host``, ``started_utc``, ``command``) so that a
    refused second process can say who holds the session. A lock file left by a process
    that no longer holds it (killed, power cut) is stale: it is taken over with a warning
    naming the previous holder. A lock file written on another host, whose process cannot
    be checked from here, is never taken over silently: the message names the file to
    delete once the experimenter has checked that host. The lock file is removed on
    release (the folder too when empty), so a finished dataset holds no trace of it.
    """

    def __init__(self, data_root: Path, participant: str, session: int) -> None:
        self.folder = Path(data_root) / LOCK_DIR
        self.path = self.folder / f"{participant}_ses-{session}.lock"
        self.label = f"{participant} ses-{session}"
        self._fd: int | None = None
        self.took_over: dict[str, Any] | None = None

    @staticmethod
    def _read(fd: int) -> dict[str, Any]:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = b""
        while chunk := os.read(fd, 65536):
            raw += chunk
        try:
            info = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            info = {}
        return info if isinstance(info, dict) else {}

    @staticmethod
    def describe(info: dict[str, Any]) -> str:
        return (f"PID {info.get('pid', '?')} on host {info.get('host', '?')}, started "
                f"{info.get('started_utc', '?')} ({info.get('command', '?')})")

    def acquire(self, command: str = "") -> SessionLock:
        """Take the lock or raise :class:`~study.errors.StudyError` naming the holder."""
        import fcntl
        import socket
        import sys

        from study.errors import StudyError

        self.folder.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname()
        for _ in range(10):   # retry when the file was replaced between open() and flock()
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:   # a releasing holder removed the empty folder just now
                self.folder.mkdir(parents=True, exist_ok=True)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                info = self._read(fd)
                os.close(fd)
                raise StudyError(f"{self.label} is in use by another process: {self.describe(info)}",
                                 file=self.path,
                                 fix="wait for that process to end (or stop it); two processes must never record "
                                     "one session") from None
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:       # the holder removed the file just before we locked it: open the new one
                os.close(fd)
                continue
            old = self._read(fd)
            if old and old.get("host") not in (None, host):
                os.close(fd)
                raise StudyError(f"{self.label} is locked by {self.describe(old)}, another computer; its process "
                                 "cannot be checked from here", file=self.path,
                                 fix=f"make sure no session runs on {old.get('host')}, then delete {self.path}")
            if old:
                self.took_over = old
                log.warning("took over a stale lock on %s: its holder (%s) is no longer running", self.label,
                            self.describe(old))
            info = {"pid": os.getpid(), "host": host,
                    "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "command": command or " ".join(sys.argv)}
            try:
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                _write_all(fd, (json.dumps(info) + "\n").encode("utf-8"))
                os.fsync(fd)
            except BaseException:   # e.g. a full disk: unlock; the caller reports it
                os.close(fd)
                raise
            self._fd = fd
            return self
        raise StudyError(f"could not lock {self.label}: the lock file keeps changing", file=self.path,
                         fix="check that no other session of this participant is starting, then try again")

    def release(self) -> None:
        """Remove the lock file, then unlock (waiters re-check the inode, see :meth:`acquire`)."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
            try:
                self.folder.rmdir()
            except OSError:
                pass
        except OSError as exc:  # e.g. a read-only or full file system: the lock is still released below
            log.warning("could not remove the lock file %s: %s", self.path, exc)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SessionLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
