"""One lab session, start to finish: the protocol, the recorder and the finaliser.

:func:`run_session` is the single entry point used by ``python -m study.run`` and by the
simulator (``study.simulate``). Order of a session (issue spec):

1. participant info screen (only the fields the config declares; no names);
2. calibration (5 or 9 points) and 3. validation (4-9 points; accuracy = mean angular
   offset, precision = RMS sample-to-sample, in degrees), repeated while the mean
   accuracy exceeds ``tracker.accuracy_threshold_deg`` (at most
   ``max_calibration_attempts`` times; then the session continues with the last
   calibration, which is the one active on the tracker);
4. instructions and one practice trial (a neutral noise image, not a study stimulus);
5. the trials of the participant's planned order: fixation cross (``fixation_s``),
   stimulus (``viewing_s``), blank inter-trial interval (``iti_s``);
6. a drift check after every ``drift_check_every`` trials (recalibration when it fails),
   then an end screen.

Everything is recorded through :class:`study.recorder.Recorder` into
``sub-XX/ses-N/.recording/``; the planned order is written to ``state.json`` before the
first trial and every completed trial is marked there once its events are on disk. A
resumed session (``resume=True``) recalibrates, then continues at the next unfinished
trial. When all trials are done, :func:`study.bids.finalise` writes the BIDS files and
removes ``.recording/``.
"""

from __future__ import annotations

import hashlib
import logging
import errno
import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from study import bids
from study.config import INSTRUCTIONS_TEXT, START_TEXT, StudyConfig, load_config
from study.counterbalance import check_label, check_participant, participant_number, plan_order
from study.errors import RecordingStopped, StudyError
from study.manifest import Stimulus, read_manifest
from study.presenters import HeadlessPresenter, Presenter, PsychoPyPresenter
from study.recorder import Recorder, SessionLock, is_storage_error, read_state, repair_tail, write_state
from study.trackers.base import Scene, Tracker, concat_gaze_blocks, system_time_us
from study.validation import CALIBRATION_POINTS, ValidationResult, point_quality, validation_points

log = logging.getLogger(__name__)

STATE_VERSION = 1

#: Session label ``ses-<digits>`` (full match; the number itself is checked by :func:`check_session`).
SESSION_RE = re.compile(r"ses-[0-9]+")


def fit_image(width: int, height: int, max_w: int, max_h: int, screen_px: tuple[int, int]) -> tuple[tuple[int, int], tuple[float, float, float, float]]:
    """Scale an image to fit ``max_w x max_h`` keeping its aspect ratio, centred on the screen.

    Returns
    -------
    ((w, h), (left, top, right, bottom))
        Drawn size in px and the on-screen rectangle (screen px, top-left origin): the AOI.
    """
    scale = min(max_w / width, max_h / height)
    w, h = max(1, int(round(width * scale))), max(1, int(round(height * scale)))
    left = (screen_px[0] - w) / 2.0
    top = (screen_px[1] - h) / 2.0
    return (w, h), (left, top, left + w, top + h)


def practice_image(folder: Path, size: int = 512) -> Path:
    """A neutral practice image (smoothed grey noise, seed 0), written once into ``folder``."""
    from PIL import Image, ImageFilter

    path = folder / "practice.png"
    if not path.exists():
        rng = np.random.default_rng(0)
        arr = (rng.random((size // 8, size // 8)) * 255).astype(np.uint8)
        img = Image.fromarray(arr).resize((size, size), Image.BICUBIC).filter(ImageFilter.GaussianBlur(2))
        img.convert("RGB").save(path)
    return path


def session_dir(data_root: Path, participant: str, session: int) -> Path:
    return Path(data_root) / participant / f"ses-{session}"


def check_session(session: object) -> int:
    """A session number: a positive integer whose ``ses-N`` label has at most 64 characters."""
    if not isinstance(session, int) or isinstance(session, bool) or session < 1:
        raise StudyError(f"session {ascii(session)[:80]} is not a positive integer", column="--session",
                         expected="1, 2, ...")
    check_label(f"ses-{session}", SESSION_RE, what="session label", option="--session", example="1")
    return session


def check_data_root(data_root: Path) -> Path:
    """Refuse a dataset root that is a file, lies under a file, or cannot be written.

    Checked before anything is shown or written, so a bad ``--data`` costs nothing.
    """
    root = Path(data_root)
    fix = "give a folder for the dataset, e.g. --data data/raw (it is created if missing)"
    if root.exists() and not root.is_dir():
        raise StudyError("the dataset root is not a folder", file=root, column="--data",
                         expected="a folder (or a path that does not exist yet)", fix=fix)
    probe = root
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise StudyError(f"the dataset root lies under {probe}, which is a file", file=root, column="--data",
                         expected="a path whose existing part is a folder", fix=fix)
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise StudyError(f"no permission to write in {probe}", file=root, column="--data",
                         expected="a folder you can write to", fix=fix + ", or fix the folder's permissions")
    return root


def _sha256_text(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def last_sample_us(samples_path: Path) -> int | None:
    """Timestamp of the last complete sample line of an in-progress recording."""
    if not samples_path.exists():
        return None
    repair_tail(samples_path)
    with open(samples_path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 8192))
        lines = fh.read().splitlines()
    for line in reversed(lines):
        first = line.split(b"\t", 1)[0]
        if first.isdigit():
            return int(first)
    return None


def make_tracker(cfg: StudyConfig, kind: str, *, seed: int, realtime: bool) -> Tracker:
    """Build the tracker named by ``kind`` from the config (not yet connected)."""
    sc, tr = cfg.screen, cfg.tracker
    if kind == "tobii":
        from study.trackers.tobii import TobiiTracker

        return TobiiTracker(rate_hz=tr.sampling_rate_hz, model=tr.model, address=tr.address, screen_mm=sc.size_mm)
    if kind == "simulated":
        from study.oculomotor import GazeModel, OculomotorParams
        from study.trackers.simulated import SimulatedTracker

        model = GazeModel(OculomotorParams(), seed=seed, screen_px=sc.resolution_px, screen_mm=sc.size_mm,
                          distance_mm=sc.distance_mm, rate_hz=tr.sampling_rate_hz)
        return SimulatedTracker(model, rate_hz=tr.sampling_rate_hz, screen_mm=sc.size_mm, realtime=realtime,
                                serial=f"SIM-{seed % 100000:05d}")
    if kind == "mouse":
        from study.trackers.mouse import MouseTracker

        return MouseTracker(screen_px=sc.resolution_px, screen_mm=sc.size_mm, refresh_hz=sc.refresh_hz)
    raise StudyError(f"unknown tracker {kind!r}", column="--tracker", expected="tobii | simulated | mouse")


class _Tap:
    """Fan-out sink: every block to the recorder; a copy to the validation capture while on."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.capturing = False
        self.blocks: list[dict[str, np.ndarray]] = []

    def __call__(self, block: dict[str, np.ndarray]) -> None:
        self.recorder.push_samples(block)
        if self.capturing:
            self.blocks.append(block)

    def begin(self) -> None:
        self.blocks = []
        self.capturing = True

    def end(self) -> dict[str, np.ndarray]:
        self.capturing = False
        return concat_gaze_blocks(list(self.blocks))


class _Protocol:
    """The steps of one session segment (see module docstring)."""

    def __init__(self, cfg: StudyConfig, state: dict[str, Any], stimuli: dict[str, Stimulus], tracker: Tracker,
                 presenter: Presenter, recorder: Recorder, tap: _Tap, rec_dir: Path,
                 status: Callable[[str], None] | None) -> None:
        self.cfg, self.state, self.stimuli = cfg, state, stimuli
        self.tracker, self.p, self.rec, self.tap, self.rec_dir = tracker, presenter, recorder, tap, rec_dir
        self.status = status
        self._last_status = 0.0
        self.current_trial = 0
        self.n_trials = len(state["plan"])
        presenter.on_tick = self._tick

    # -- helpers ------------------------------------------------------------------
    def _us(self, seconds: float) -> int:
        return int(round(seconds * 1e6))

    def _tick(self, force: bool = False) -> None:
        self.rec.check()   # a storage fault in the writer stops the session at the next frame
        now = time.monotonic()
        if self.status is None or (not force and now - self._last_status < self.cfg.recorder.status_interval_s):
            return
        self._last_status = now
        rate = self.rec.live_rate_hz()
        valid = self.rec.valid_percent()
        self.status(
            f"{self.state['participant']} ses-{self.state['session']} | trial {self.current_trial}/{self.n_trials} | "
            f"{'n/a' if math.isnan(rate) else f'{rate:6.1f}'} Hz | valid {'n/a' if math.isnan(valid) else f'{valid:5.1f}'}% | "
            f"samples {self.rec.n_written} | dropped frames {self.p.dropped_frames}")

    def event(self, trial_type: str, onset_us: int, offset_us: int, *, trial: int | None = None,
              stim: Stimulus | None = None, aoi: tuple[float, float, float, float] | None = None,
              dropped: int = 0, stim_file: str | None = None) -> None:
        ev: dict[str, Any] = {"trial_type": trial_type, "trial": trial, "onset_us": int(onset_us),
                              "offset_us": int(offset_us), "dropped_frames": int(dropped)}
        if stim is not None:
            ev.update(stimulus_id=stim.stimulus_id, artwork=stim.artwork, category=stim.category, method=stim.method,
                      stim_file=Path(stim.file).name)
        if stim_file is not None:
            ev["stim_file"] = stim_file
        if aoi is not None:
            ev.update(aoi_left=aoi[0], aoi_top=aoi[1], aoi_right=aoi[2], aoi_bottom=aoi[3])
        self.rec.push_event(ev)

    def save_state(self) -> None:
        self.rec.sync()
        write_state(self.rec_dir, self.state)

    def text_screen(self, text: str, trial_type: str | None = "instructions") -> None:
        on = self.p.show(Scene("text", aoi_px=(self.p.screen_px[0] * 0.1, self.p.screen_px[1] * 0.3,
                                               self.p.screen_px[0] * 0.9, self.p.screen_px[1] * 0.7)), text=text)
        d0 = self.p.dropped_frames
        self.p.wait_response(("space",))
        if trial_type:
            self.event(trial_type, on, self.p.now_us(), dropped=self.p.dropped_frames - d0)

    # -- steps ----------------------------------------------------------------------
    def participant_info(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for f in self.cfg.participant.fields:
            hint = f" ({' / '.join(f.choices)})" if f.choices else (
                f" ({f.min:g}-{f.max:g})" if f.min is not None and f.max is not None else "")
            prompt = f"{f.description or f.name}{hint}\n[Return to confirm; empty = n/a]"
            while True:
                text = self.p.text_entry(prompt, f.auto)
                try:
                    values[f.name] = f.parse(text)
                    break
                except StudyError as exc:
                    if self.p.responder == "auto":
                        raise
                    prompt = f"{exc.problem}\n{f.description or f.name}{hint}"
        return values

    def _show_points(self, points: list[tuple[float, float]], point_s: float, collect: bool) -> list[tuple[int, int]]:
        W, H = self.p.screen_px
        windows = []
        for (nx, ny) in points:
            on = self.p.show(Scene("calibration_point", point_px=(nx * W, ny * H), expected_duration_s=point_s))
            end = self.p.hold_until(on + self._us(point_s))
            if collect:
                self.tracker.calibration_collect((nx, ny))
            windows.append((on, max(end, on + self._us(point_s))))
        return windows

    def _measure(self, points: list[tuple[float, float]], windows: list[tuple[int, int]],
                 block: dict[str, np.ndarray]) -> ValidationResult:
        ts = block["system_time_stamp"]
        settle = self._us(self.cfg.tracker.validation_settle_s)
        res = ValidationResult()
        for pt, (on, off) in zip(points, windows):
            sel = (ts >= on + settle) & (ts < off)
            sub = {k: v[sel] for k, v in block.items()}
            res.points.append(point_quality(sub, pt, self.tracker.display_area, self.cfg.screen.distance_mm))
        return res

    def _settle_stream(self) -> None:
        # real-time trackers deliver samples with a short latency (SDK buffer, polling thread)
        if not self.p.virtual:
            time.sleep(0.1)

    def calibrate_and_validate(self, reason: str) -> ValidationResult:
        tr, tm = self.cfg.tracker, self.cfg.timing
        cal_points = list(CALIBRATION_POINTS[tr.calibration_points])
        val_points = list(validation_points(tr.validation_points))
        res: ValidationResult | None = None
        for attempt in range(1, tr.max_calibration_attempts + 1):
            self.text_screen("Calibration: please look at each dot until it disappears.\n\nPress SPACE to start.", None)
            c0 = self.p.now_us()
            self.tracker.calibration_begin()
            self._show_points(cal_points, tm.calibration_point_s, collect=True)
            cal = self.tracker.calibration_end()
            c1 = self.p.now_us()
            self.event("calibration", c0, c1)
            self.tap.begin()
            windows = self._show_points(val_points, tm.validation_point_s, collect=False)
            self._settle_stream()
            block = self.tap.end()
            v1 = self.p.now_us()
            self.event("validation", windows[0][0], v1)
            res = self._measure(val_points, windows, block)
            passed = res.passed(tr.accuracy_threshold_deg)
            entry = {"reason": reason, "attempt": attempt, "segment": self.rec.segment,
                     "CalibrationType": f"HV{tr.calibration_points}", "calibration_status": cal.get("status"),
                     "validation_points": tr.validation_points, "onset_us": c0, "passed": passed,
                     "threshold_deg": tr.accuracy_threshold_deg, **res.to_dict()}
            self.state["calibration_log"].append(entry)
            self.save_state()
            log.info("calibration %s attempt %d: accuracy %.2f deg, precision %.2f deg (%s)", reason, attempt,
                     res.accuracy_deg, res.precision_rms_deg, "ok" if passed else "above threshold")
            if passed:
                break
            if attempt < tr.max_calibration_attempts:
                self.text_screen(f"Accuracy {res.accuracy_deg:.2f} deg is worse than {tr.accuracy_threshold_deg:g} deg:"
                                 " recalibrating.\n\nPress SPACE.", None)
            else:
                log.warning("accuracy still above %.2f deg after %d attempts (last %.2f deg); continuing with the "
                            "last calibration", tr.accuracy_threshold_deg, attempt, res.accuracy_deg)
        assert res is not None
        return res

    def drift_check(self, after_trial: int) -> None:
        tm, tr = self.cfg.timing, self.cfg.tracker
        self.tap.begin()
        windows = self._show_points([(0.5, 0.5)], tm.drift_check_s, collect=False)
        self._settle_stream()
        block = self.tap.end()
        self.event("drift_check", windows[0][0], windows[0][1])
        res = self._measure([(0.5, 0.5)], windows, block)
        ok = res.passed(tr.accuracy_threshold_deg)
        self.state["calibration_log"].append({"reason": "drift_check", "after_trial": after_trial, "segment": self.rec.segment,
                                              "onset_us": windows[0][0], "passed": ok, **res.to_dict()})
        self.save_state()
        if not ok:
            log.info("drift check after trial %d failed (%.2f deg): recalibrating", after_trial, res.accuracy_deg)
            self.calibrate_and_validate("drift")

    def show_trial(self, trial: int, stim: Stimulus | None, image: Path, width: int, height: int,
                   viewing_s: float, kind: str) -> None:
        cfg = self.cfg
        size, aoi = fit_image(width, height, cfg.stimuli.max_width_px, cfg.stimuli.max_height_px, self.p.screen_px)
        if isinstance(self.p, PsychoPyPresenter):
            self.p.preload(image, size)
            self.p.clock.sync()
        d0 = self.p.dropped_frames
        cross_on = self.p.show(Scene("cross", point_px=self.p.centre, expected_duration_s=cfg.timing.fixation_s))
        self.p.hold_until(cross_on + self._us(cfg.timing.fixation_s))
        d1 = self.p.dropped_frames
        sid = stim.stimulus_id if stim is not None else "practice"
        stim_on = self.p.show(Scene("stimulus", aoi_px=aoi, stimulus_id=sid, expected_duration_s=viewing_s),
                              image=image, size_px=size)
        self.p.hold_until(stim_on + self._us(viewing_s))
        d2 = self.p.dropped_frames
        blank_on = self.p.show(Scene("blank", expected_duration_s=cfg.timing.iti_s))
        blank_end = self.p.hold_until(blank_on + self._us(cfg.timing.iti_s))
        d3 = self.p.dropped_frames
        self.event("fixation_cross", cross_on, stim_on, trial=trial, dropped=d1 - d0)
        self.event(kind, stim_on, blank_on, trial=trial, stim=stim, aoi=aoi, dropped=d2 - d1,
                   stim_file=None if stim is not None else image.name)
        self.event("blank", blank_on, max(blank_end, blank_on + self._us(cfg.timing.iti_s)), trial=trial, dropped=d3 - d2)
        self.state["dropped_frames"] = self.state.get("dropped_frames", 0) + (d3 - d0)

    def run(self) -> None:
        """Run the remaining steps; what was done already (state.json) is not repeated."""
        cfg = self.cfg
        resumed = bool(self.state.get("intro_done"))
        if not self.state.get("participant_info_done"):
            self.state["participant_info"] = self.participant_info()
            self.state["participant_info_done"] = True
            self.save_state()
        self.calibrate_and_validate("resume" if resumed else "initial")
        if not resumed:
            self.text_screen(INSTRUCTIONS_TEXT)
            if cfg.study.practice:
                img = practice_image(self.rec_dir)
                self.show_trial(0, None, img, 512, 512, cfg.timing.practice_viewing_s, "practice")
            self.text_screen(START_TEXT)
            self.state["intro_done"] = True
            self.save_state()
        else:
            self.text_screen("Welcome back: the experiment continues.\n\nPress SPACE to continue.")
        done = self.state["completed"]
        every = cfg.timing.drift_check_every
        for pt in self.state["plan"]:
            k = pt["trial"]
            if str(k) in done:
                continue
            self.current_trial = k
            self._tick(force=True)
            stim = self.stimuli[pt["stimulus_id"]]
            self.show_trial(k, stim, stim.path, stim.width_px, stim.height_px, cfg.timing.viewing_s, "stimulus")
            done[str(k)] = self.rec.segment
            self.save_state()
            if every and k % every == 0 and k < self.n_trials:
                self.drift_check(k)
        on = self.p.show(Scene("text"), text="Thank you! The session is over.")
        end = self.p.hold_until(on + self._us(min(1.0, cfg.timing.auto_response_s)))
        self.event("end", on, end)
        self._tick(force=True)


def _package_version(name: str) -> str:
    """The installed version of a distribution ("" when unknown)."""
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001 - metadata missing: the key is left out
        return ""


def _close_segment(trk: Tracker, recorder: Recorder, pres: Presenter | None, state: dict[str, Any], segment: int,
                   rec_dir: Path) -> list[BaseException]:
    """End a segment: stop the tracker, close the recorder and the window, save the state.

    Every step runs even when an earlier one fails (a full disk makes the recorder and the
    state write fail, yet the window must close and the tracker disconnect); the errors
    are returned (logged here) for the caller to raise when nothing else went wrong.
    """
    errors: list[BaseException] = []

    def step(what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - collected; the first is raised by the caller
            if not errors:
                log.debug("%s failed: %s", what, exc)
            errors.append(exc)

    def close_pres() -> None:
        if pres is not None:
            if isinstance(pres, PsychoPyPresenter) and state["segments"]:
                state["segments"][-1]["clock_sync"] = pres.clock.syncs[-5:]
            pres.close()

    def save() -> None:
        if state["segments"] and state["segments"][-1]["segment"] == segment:
            state["segments"][-1]["end_us"] = recorder.last_ts_us
            state["segments"][-1]["samples"] = recorder.n_written
            state["segments"][-1]["dropped_samples"] = recorder.n_pushed - recorder.n_written
        write_state(rec_dir, state)

    step("stopping the tracker", trk.stop)
    step("closing the recorder", recorder.close)
    step("closing the window", close_pres)
    step("saving state.json", save)
    step("closing the tracker", trk.close)
    return errors


def _storage_message(exc: OSError, phase: str, participant: str, session: int, data_root: Path,
                     ses_dir: Path | None) -> str:
    """The experimenter's message for a storage fault: what stopped, what was kept, what to do."""
    storage = is_storage_error(exc)
    what = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system became read-only", errno.EFBIG: "a file grew too large",
            errno.EIO: "the disk reported an I/O error",
            }.get(exc.errno or 0, "a file operation failed")
    remedy = (f"free space on the disk holding {data_root} (check with: df -h {data_root})" if storage else
              f"fix the cause ({exc.strerror or exc}; e.g. the permissions of {data_root} or a removed drive)")
    where = f" ({exc.filename})" if exc.filename else ""
    resume = (f"python -m study.run --participant {participant} --session {session} --data {data_root} --resume")
    rec = ses_dir / bids.RECORDING_DIR if ses_dir is not None else None
    state = None
    if rec is not None and rec.is_dir():
        try:
            state = read_state(rec)
        except (OSError, ValueError):
            state = None
    if phase == "finalising":
        kept = (f"every trial is recorded and kept unchanged in {rec}; the final files are rewritten "
                "from it, so nothing is lost")
        todo = (f"free space, then finalise with: {resume}" if storage else
                f"{remedy}, then finalise with: {resume}")
    elif state is not None:
        n_done, n_plan = len(state.get("completed", {})), len(state.get("plan", []))
        size = (rec / "samples.tsv").stat().st_size if (rec / "samples.tsv").is_file() else 0
        amount = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"
        kept = (f"kept in {rec}: {n_done} of {n_plan} trials completed, and every sample written before the stop "
                f"({amount} in samples.tsv); nothing recorded was deleted, the trial in progress is repeated on "
                "resume")
        todo = f"{remedy}, then continue with: {resume}"
    else:
        kept = "nothing was recorded yet"
        todo = f"{remedy}, then start the session again"
    return (f"{what}{where} while {phase} {participant} ses-{session} ({exc.strerror or exc}): the session stopped. "
            f"{kept[0].upper() + kept[1:]}.\n  fix: {todo}")


#: Format of the segment start stamp ``started_utc`` (UTC).
_UTC_STAMP = "%Y-%m-%dT%H:%M:%SZ"


def run_session(config: StudyConfig | str | Path | None, participant: str, session: int = 1, *,
                tracker: Tracker | str | None = None, presenter: str | None = None,
                data_root: str | Path = "data/raw", clock: str | None = None, responder: str | None = None,
                resume: bool = False, manifest: str | Path | None = None,
                status: Callable[[str], None] | None = None, start_us: int | None = None,
                started_utc: str | None = None) -> Path:
    """Run (or resume) one session and finalise it into the BIDS dataset.

    Parameters
    ----------
    config : StudyConfig, path or None
        The study configuration (a path/name is loaded with :func:`study.config.load_config`).
    participant : str
        Pseudonym label ``sub-[A-Za-z0-9]+``.
    session : int
        Session number (>= 1), the ``ses-N`` label.
    tracker : Tracker or str, optional
        A tracker instance (e.g. a :class:`~study.trackers.simulated.SimulatedTracker`
        built by the simulator around its own GazeModel), or ``"tobii"``,
        ``"simulated"``, ``"mouse"``; default ``config.tracker.kind``.
    presenter : ``"psychopy"`` or ``"headless"``, optional
        Default ``config.run.presenter``. Headless: no window, same protocol steps,
        same recorder and finaliser.
    data_root : path
        Dataset root (``data/raw``).
    clock : ``"real"``, ``"virtual"`` or ``"auto"``, optional
        Virtual = faster than real time (headless with a simulated tracker only).
    responder : ``"keyboard"`` or ``"auto"``, optional
        Automatic key presses (tests, CI, simulation) or a person at the keyboard.
    resume : bool
        Continue an unfinished session (``.recording/`` present) at its next unfinished
        trial, keeping what was recorded.
    manifest : path, optional
        Stimulus manifest; default ``config.stimuli.manifest``.
    status : callable, optional
        Receives the experimenter's status line (live sample rate, valid %, progress)
        about once per ``recorder.status_interval_s``.
    start_us : int, optional
        Tracker-clock time (us) at which the virtual clock starts; virtual clock only
        (a :class:`StudyError` otherwise). Default: the system clock now
        (:func:`study.trackers.base.system_time_us`). On resume the clock still starts
        at least 1 s after the last recorded sample. The simulator passes a fixed value
        so that its files are byte-identical from run to run.
    started_utc : str, optional
        The segment's start stamp ``YYYY-MM-DDTHH:MM:SSZ`` (UTC) kept in ``state.json``
        and written into the sidecars. Default: the wall clock now.

    Returns
    -------
    Path
        The finalised session folder ``data_root/sub-XX/ses-N``.

    Raises
    ------
    StudyError
        Bad participant id, existing session (never overwritten), nothing to resume,
        changed stimuli (SHA-256 mismatch), no tracker found, bad config.
    study.presenters.SessionAborted
        Escape pressed; the recording stays in ``.recording/`` for ``resume=True``.
    """
    cfg = config if isinstance(config, StudyConfig) else load_config(config)
    check_participant(participant)
    check_session(session)
    pres_kind = presenter or cfg.run.presenter
    resp = responder or cfg.run.responder
    clk = clock or cfg.run.clock
    if clk == "auto":
        clk = "virtual" if pres_kind == "headless" else "real"
    if pres_kind == "psychopy" and clk == "virtual":
        raise StudyError("a PsychoPy window runs on the real clock", column="--clock", expected="real (or --headless)")
    if start_us is not None and clk != "virtual":
        raise StudyError(f"start_us is only used with the virtual clock (clock is {clk!r})", column="start_us",
                         expected="None on the real clock")
    if started_utc is not None:
        try:
            time.strptime(started_utc, _UTC_STAMP)
        except (TypeError, ValueError):
            raise StudyError(f"started_utc {started_utc!r} is not a UTC stamp", column="started_utc",
                             expected="YYYY-MM-DDTHH:MM:SSZ, e.g. 2025-09-25T00:00:00Z") from None
    data_root = check_data_root(Path(data_root))
    ses_dir = session_dir(data_root, participant, session)
    created_root = not data_root.exists()
    lock = SessionLock(data_root, participant, session)
    phase = "starting"
    try:
        lock.acquire()
    except OSError as exc:  # disk full, read-only, permission denied ...: stop cleanly, keep the data
        raise RecordingStopped(_storage_message(exc, phase, participant, session, data_root, None)) from None
    try:
        rec_dir = ses_dir / bids.RECORDING_DIR
        if ses_dir.exists():
            if rec_dir.exists() and not resume:
                raise StudyError(f"{participant} ses-{session} is unfinished (it has {bids.RECORDING_DIR}/)", file=ses_dir,
                                 fix=f"continue it with --resume (python -m study.run --participant {participant} "
                                     f"--session {session} --resume)")
            if not rec_dir.exists():
                if (ses_dir / bids.FINALISED_DIR).exists():
                    if resume:
                        bids.complete_cleanup(ses_dir)
                        log.warning("%s ses-%d was already finalised; the last run stopped while removing the old "
                                    "recording: checksums verified, cleanup completed (removed %s/)", participant,
                                    session, bids.FINALISED_DIR)
                        return ses_dir
                    raise StudyError(f"{participant} ses-{session} is finished, but the last run stopped while removing "
                                     f"the old recording ({bids.FINALISED_DIR}/)", file=ses_dir,
                                     fix=f"complete the cleanup with --resume (python -m study.run --participant "
                                         f"{participant} --session {session} --resume); sessions are never "
                                         f"overwritten")
                raise StudyError(f"{participant} ses-{session} already exists and is finished; sessions are never overwritten",
                                 file=ses_dir, fix="use another --session number, or move the old folder away yourself")
        elif resume:
            raise StudyError(f"nothing to resume: {ses_dir} does not exist", file=ses_dir, fix="run without --resume")

        manifest_path = Path(manifest or cfg.stimuli.manifest)
        stimuli_list = read_manifest(manifest_path, verify=True)
        stimuli = {s.stimulus_id: s for s in stimuli_list}
        state = read_state(rec_dir) if resume else None
        if resume and state is None:
            if last_sample_us(rec_dir / "samples.tsv") is not None:   # pragma: no cover - state.json is written first
                raise StudyError("the unfinished session has samples but no state.json", file=rec_dir,
                                 fix=f"keep {rec_dir} for inspection and record the session under another --session")
            log.warning("the last run of %s ses-%d stopped before it recorded anything: starting the session anew",
                        participant, session)
            bids._remove_tree(rec_dir)
        if state is not None:
            if state.get("manifest_sha256") != _sha256_text(manifest_path):
                raise StudyError("the stimulus manifest changed since this session started", file=manifest_path,
                                 fix="restore the manifest the session started with")
            missing = [p["stimulus_id"] for p in state["plan"] if p["stimulus_id"] not in stimuli]
            if missing:
                raise StudyError(f"planned stimuli missing from the manifest: {missing}", file=manifest_path)
            if state["segments"] and all(str(p["trial"]) in state["completed"] for p in state["plan"]):
                log.warning("every trial of %s ses-%d is recorded (the last run stopped while finalising): "
                            "finalising only", participant, session)
                phase = "finalising"
                bids.finalise(ses_dir, cfg, [s.path for s in stimuli_list])
                return ses_dir
        else:
            plan, seed = plan_order(stimuli_list, participant, cfg.study.seed, cfg.study.n_trials)
            if cfg.study.n_trials > len(stimuli_list):
                raise StudyError(f"n_trials = {cfg.study.n_trials} but the manifest has {len(stimuli_list)} stimuli",
                                 column="study.n_trials", expected=f"0 (all) .. {len(stimuli_list)}")
            bids.check_stimuli(data_root, [s.path for s in stimuli_list])
            state = {
                "version": STATE_VERSION, "participant": participant, "session": session, "task": cfg.study.task,
                "participant_number": participant_number(participant), "seed": seed,
                "manifest": str(manifest_path.resolve()), "manifest_sha256": _sha256_text(manifest_path),
                "plan": [p.__dict__ for p in plan], "completed": {}, "segments": [], "calibration_log": [],
                "participant_info": {}, "dropped_frames": 0, "config": cfg.to_dict(), "config_source": cfg.source,
            }
        seed = int(state["seed"])
        segment = len(state["segments"]) + 1
        virtual = clk == "virtual"

        if tracker is None or isinstance(tracker, str):
            kind = tracker or cfg.tracker.kind
            trk = make_tracker(cfg, kind, seed=seed + 7919 * (segment - 1), realtime=not virtual)
        else:
            trk = tracker
            kind = "simulated" if trk.supports_virtual_clock else type(trk).__name__
        if kind == "mouse" and pres_kind != "psychopy":
            raise StudyError("the mouse tracker needs the PsychoPy window", column="--tracker mouse", fix="drop --headless")
        info = trk.connect()   # raises StudyError when no tracker is found (before any file is written)

        prev_last = last_sample_us(rec_dir / "samples.tsv") if rec_dir.exists() else None
        sc = cfg.screen
        # the window is opened before anything is written: a session that cannot show anything leaves no trace
        pres: Presenter | None = None
        if pres_kind == "headless":
            t0 = int(start_us) if start_us is not None else system_time_us()
            if virtual and prev_last is not None:
                t0 = max(t0, prev_last + 1_000_000)
            pres = HeadlessPresenter(trk, sc.resolution_px, clock=clk, auto_response_s=cfg.timing.auto_response_s,
                                     responder=resp, t0_us=t0)
        else:
            pres = PsychoPyPresenter(trk, sc.resolution_px, fullscreen=sc.fullscreen, screen_index=sc.screen_index,
                                     refresh_hz=sc.refresh_hz, background=sc.background, foreground=sc.foreground,
                                     auto_response_s=cfg.timing.auto_response_s, responder=resp,
                                     screen_mm=sc.size_mm, distance_mm=sc.distance_mm)
        try:
            rec_dir.mkdir(parents=True, exist_ok=True)
            write_state(rec_dir, state)  # the planned order is on disk before anything is shown
            recorder = Recorder(rec_dir, segment=segment, flush_interval_s=cfg.recorder.flush_interval_s)
        except BaseException:
            pres.close()
            trk.close()
            raise
        phase = "recording"
        tap = _Tap(recorder)
        trk.set_sink(tap)
        try:
            recorder.start()
            if trk.supports_virtual_clock:
                trk.start(pres.now_us()) if virtual else trk.start()
            else:
                trk.start()
            stamp = started_utc if started_utc is not None else time.strftime(_UTC_STAMP, time.gmtime())
            state["segments"].append({
                "segment": segment, "start_us": pres.now_us(), "started_utc": stamp,
                "presenter": pres_kind, "presenter_version": _package_version("psychopy") if pres_kind == "psychopy"
                else "", "clock": clk, "responder": resp, "tracker_kind": kind,
                "tracker": {"manufacturer": info.manufacturer, "model": info.model, "serial": info.serial,
                            "firmware": info.firmware, "sampling_rate_hz": info.sampling_rate_hz, "address": info.address,
                            "software": info.software},
                "display_area_ucs_mm": {"top_left": list(trk.display_area.top_left),
                                        "top_right": list(trk.display_area.top_right),
                                        "bottom_left": list(trk.display_area.bottom_left)},
            })
            write_state(rec_dir, state)
            proto = _Protocol(cfg, state, stimuli, trk, pres, recorder, tap, rec_dir, status)
            proto.run()
        finally:
            cleanup_errors = _close_segment(trk, recorder, pres, state, segment, rec_dir)
        if cleanup_errors:   # (only reached when the protocol itself succeeded)
            raise cleanup_errors[0]
        missing = [p["trial"] for p in state["plan"] if str(p["trial"]) not in state["completed"]]
        if missing:  # pragma: no cover - run() returns only after every trial
            raise RuntimeError(f"trials {missing} not completed")
        log.info("session complete: %d samples this segment, %d dropped frames in total", recorder.n_written,
                 state.get("dropped_frames", 0))
        phase = "finalising"
        bids.finalise(ses_dir, cfg, [s.path for s in stimuli_list])
        return ses_dir
    except OSError as exc:  # disk full, read-only, permission denied ...: stop cleanly, keep the data
        raise RecordingStopped(_storage_message(exc, phase, participant, session, data_root, ses_dir)) from None
    finally:
        lock.release()
        if created_root:
            try:
                data_root.rmdir()   # only when empty: a session that could not start leaves no trace
            except OSError:
                pass
