"""Faults at the recorder's edges: kill/exception at every finalisation step, a second process on the
same session (lock), a full disk while recording or finalising."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import study.bids as bids_mod
import study.recorder as recorder_mod
from analysis.io import read_recording
from analysis.io.bids import verify_checksums
from study.errors import RecordingStopped, StudyError, run_cli
from study.recorder import LOCK_DIR, SessionLock
from study.run import main as run_main
from study.session import run_session

ROOT = Path(__file__).resolve().parents[2]


class Injected(Exception):
    """The fault a test injects (not an error any code catches)."""


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones too), by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def unfinalised(fast_config, manifest, tmp_path, monkeypatch):
    """A dataset root whose one session is fully recorded but not finalised (the crash came first)."""
    root = tmp_path / "snapshot"

    def crash(*a, **k):
        raise Injected("killed before finalising")

    with monkeypatch.context() as m:
        m.setattr(bids_mod, "finalise", crash)
        with pytest.raises(Injected):
            run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest)
    assert (root / "sub-05" / "ses-1" / ".recording" / "state.json").is_file()
    assert not (root / LOCK_DIR).exists()                       # the lock went with the process' exception
    return root


def _resume(cfg, manifest, root):
    return run_session(cfg, "sub-05", 1, data_root=root, manifest=manifest, resume=True)


def test_a_fault_after_every_file_operation_of_finalising_ends_in_the_same_dataset(
        unfinalised, fast_config, manifest, tmp_path, monkeypatch, caplog):
    # the uninterrupted run, logging every file operation
    ref_root = tmp_path / "ref"
    shutil.copytree(unfinalised, ref_root)
    ops: list[str] = []
    monkeypatch.setattr(bids_mod, "FAULT_HOOK", ops.append)
    _resume(fast_config, manifest, ref_root)
    monkeypatch.setattr(bids_mod, "FAULT_HOOK", None)
    reference = tree(ref_root)
    assert not any(".recording" in name or name.endswith(".tmp") for name in reference)
    commit = ops.index(f"renamed {bids_mod.RECORDING_DIR} to {bids_mod.FINALISED_DIR}")
    assert 10 < commit < len(ops) - 3, ops                      # files before the commit point, removals after
    assert all(op.startswith("removed") for op in ops[commit + 1:])

    for k, op in enumerate(ops):
        root = tmp_path / f"fault{k}"
        shutil.copytree(unfinalised, root)

        def fault(what, k=k, seen=[0]):
            if seen[0] == k:
                raise Injected(f"fault after {what}")
            seen[0] += 1

        monkeypatch.setattr(bids_mod, "FAULT_HOOK", fault)
        with pytest.raises(Injected):
            _resume(fast_config, manifest, root)
        monkeypatch.setattr(bids_mod, "FAULT_HOOK", None)
        ses = root / "sub-05" / "ses-1"
        if k >= commit:          # finished at the commit point: analysis accepts it even before the cleanup
            assert not (ses / ".recording").exists() and verify_checksums(ses) == 6
        caplog.clear()
        if k == len(ops) - 1:    # the fault came after the last operation: nothing is left to do
            with pytest.raises(StudyError, match="already exists and is finished"):
                _resume(fast_config, manifest, root)
        else:
            _resume(fast_config, manifest, root)
        if commit <= k < len(ops) - 1:
            assert "cleanup completed" in caplog.text, op
        assert tree(root) == reference, f"fault after step {k} ({op}) left a different dataset"
        assert verify_checksums(ses) == 6
    assert len(read_recording(ref_root / "sub-05" / "ses-1", verify=True).trials) == 2


def test_a_plain_rerun_of_a_session_whose_cleanup_stopped_says_to_resume(unfinalised, fast_config, manifest,
                                                                       monkeypatch):
    def fault(what):
        if what.startswith("removed"):
            raise Injected(what)

    monkeypatch.setattr(bids_mod, "FAULT_HOOK", fault)
    with pytest.raises(Injected):
        _resume(fast_config, manifest, unfinalised)
    monkeypatch.setattr(bids_mod, "FAULT_HOOK", None)
    with pytest.raises(StudyError, match="--resume") as err:
        run_session(fast_config, "sub-05", 1, data_root=unfinalised, manifest=manifest)
    assert "remove the session" not in str(err.value) and "never overwritten" in str(err.value)
    _resume(fast_config, manifest, unfinalised)
    assert not (unfinalised / "sub-05" / "ses-1" / bids_mod.FINALISED_DIR).exists()


def test_a_changed_final_file_keeps_the_leftover_recording(unfinalised, fast_config, manifest, monkeypatch):
    def fault(what):
        if what.startswith("removed"):
            raise Injected(what)

    monkeypatch.setattr(bids_mod, "FAULT_HOOK", fault)
    with pytest.raises(Injected):
        _resume(fast_config, manifest, unfinalised)
    monkeypatch.setattr(bids_mod, "FAULT_HOOK", None)
    ses = unfinalised / "sub-05" / "ses-1"
    ev = next((ses / "beh").glob("*_events.tsv"))
    ev.write_text(ev.read_text() + "tampered\n")
    with pytest.raises(StudyError, match="checksums") as err:
        _resume(fast_config, manifest, unfinalised)
    assert ev.name in str(err.value)
    assert (ses / bids_mod.FINALISED_DIR).is_dir()                # the raw recording is not deleted


def _script(root: Path, config: Path, manifest: Path, kill_at: int | None, *extra: str) -> list[str]:
    """``python -m study.run`` in a child that SIGKILLs itself after file operation ``kill_at`` of finalising."""
    code = (
        "import os, signal, sys\n"
        "import study.bids as b\n"
        f"k = {kill_at!r}\n"
        "n = [0]\n"
        "def hook(what):\n"
        "    if k is not None and n[0] == k:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    n[0] += 1\n"
        "b.FAULT_HOOK = hook\n"
        "from study.errors import run_cli\n"
        "from study.run import main\n"
        "sys.exit(run_cli(main, sys.argv[1:]))\n"
    )
    return [sys.executable, "-c", code, "--participant", "sub-05", "--config", str(config), "--data", str(root),
            "--manifest", str(manifest), "--quiet", *extra]


@pytest.mark.parametrize("where", ["before the commit point", "after the commit point"])
def test_sigkill_while_finalising_then_resume(unfinalised, fast_config, manifest, tmp_path, where):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ref_root = tmp_path / "ref"
    shutil.copytree(unfinalised, ref_root)
    done = subprocess.run(_script(ref_root, fast_config, manifest, None, "--resume"), env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    reference = tree(ref_root)
    ops: list[str] = []                 # the steps, from an instrumented in-process run of the same finalisation
    probe = tmp_path / "probe"
    shutil.copytree(unfinalised, probe)
    bids_mod.FAULT_HOOK = ops.append
    try:
        _resume(fast_config, manifest, probe)
    finally:
        bids_mod.FAULT_HOOK = None
    if where.startswith("before"):      # the second physio file written to its temporary name, not yet renamed
        kill_at = ops.index("wrote sub-05_ses-1_task-artview_recording-eye2_physio.tsv.gz.tmp")
    else:                               # the second file removed after the commit rename
        kill_at = ops.index(f"renamed {bids_mod.RECORDING_DIR} to {bids_mod.FINALISED_DIR}") + 2
    assert kill_at < len(ops) - 1
    root = tmp_path / "killed"
    shutil.copytree(unfinalised, root)
    killed = subprocess.run(_script(root, fast_config, manifest, kill_at, "--resume"), env=env, capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = subprocess.run(_script(root, fast_config, manifest, None, "--resume"), env=env, capture_output=True,
                             text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    if where.startswith("after"):
        assert "cleanup completed" in resumed.stderr
    else:
        assert "finalising only" in resumed.stderr
    assert tree(root) == reference


# -- lock -------------------------------------------------------------------------------------------------------

def _cli(config, manifest, root, *extra):
    return [sys.executable, "-m", "study.run", "--participant", "sub-09", "--config", str(config), "--data",
            str(root), "--manifest", str(manifest), "--clock", "real", "--quiet", *extra]


def test_a_second_process_on_the_same_session_is_refused_and_a_dead_holder_is_taken_over(
        fast_config, manifest, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    root = tmp_path / "raw"
    lock_file = root / LOCK_DIR / "sub-09_ses-1.lock"
    slow = tmp_path / "slow.toml"            # long trials: the first process surely runs while the others start
    slow.write_text(fast_config.read_text().replace("viewing_s = 1.0", "viewing_s = 120.0"))
    first = subprocess.Popen(_cli(slow, manifest, root), env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            info = json.loads(lock_file.read_text()) if lock_file.is_file() and lock_file.stat().st_size else {}
            if info.get("pid") == first.pid and (root / "sub-09" / "ses-1" / ".recording" / "state.json").exists():
                break
            assert first.poll() is None, first.communicate()
            time.sleep(0.05)
        else:
            raise AssertionError("the first process never took the lock")
        assert info["host"] == socket.gethostname() and info["started_utc"].endswith("Z")
        for extra in ((), ("--resume",)):   # a new session and a resume are both refused while it runs
            second = subprocess.run(_cli(slow, manifest, root, *extra), env=env, capture_output=True,
                                    text=True, timeout=120)
            assert second.returncode == 2, second.stderr
            assert f"in use by another process: PID {first.pid} on host {socket.gethostname()}" in second.stderr
            assert "Traceback" not in second.stderr
        assert first.poll() is None
        samples = root / "sub-09" / "ses-1" / ".recording" / "samples.tsv"
        segs = {line.rsplit("\t", 1)[-1] for line in samples.read_text().splitlines()[1:] if line}
        assert segs <= {"1"}                                    # the refused processes recorded nothing
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert lock_file.is_file()                                  # a killed holder leaves its (stale) lock file
    resumed = subprocess.run(_cli(fast_config, manifest, root, "--resume"), env=env, capture_output=True,
                             text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert f"took over a stale lock on sub-09 ses-1: its holder (PID {first.pid}" in resumed.stderr
    assert not (root / LOCK_DIR).exists()                       # released and removed
    verify_checksums(root / "sub-09" / "ses-1")


def test_a_lock_from_another_host_is_not_taken_over(tmp_path):
    folder = tmp_path / LOCK_DIR
    folder.mkdir()
    (folder / "sub-01_ses-1.lock").write_text(json.dumps({"pid": 1234, "host": "lab-pc-2",
                                                          "started_utc": "2026-01-01T10:00:00Z",
                                                          "command": "python -m study.run"}))
    with pytest.raises(StudyError, match="lab-pc-2") as err:
        SessionLock(tmp_path, "sub-01", 1).acquire()
    assert "delete" in str(err.value) and "sub-01_ses-1.lock" in str(err.value)


def test_the_lock_is_exclusive_within_one_process_too_and_released(tmp_path):
    a = SessionLock(tmp_path, "sub-01", 1).acquire("a")
    with pytest.raises(StudyError, match="in use by another process"):
        SessionLock(tmp_path, "sub-01", 1).acquire("b")
    SessionLock(tmp_path, "sub-01", 2).acquire("c").release()     # another session is independent
    a.release()
    assert not (tmp_path / LOCK_DIR).exists()
    SessionLock(tmp_path, "sub-01", 1).acquire("d").release()


# -- disk full -----------------------------------------------------------------------------------------------

def _full_after(budget: list[int], err: int = errno.ENOSPC, on_fail=lambda: None):
    """A ``_write_all`` that writes until ``budget`` bytes are used, then the fitting prefix, then fails."""
    real = recorder_mod._write_all

    def write_all(fd, data):
        if len(data) <= budget[0]:
            budget[0] -= len(data)
            return real(fd, data)
        real(fd, bytes(data[: budget[0]]))
        budget[0] = 0
        on_fail()
        raise OSError(err, os.strerror(err))

    return write_all


def test_other_os_error_while_recording_stops_cleanly_without_traceback_and_resumes(
        fast_config, manifest, tmp_path, monkeypatch, capsys):
    """Permission denied (not a storage fault) mid-session: the same clean stop, no traceback, and resume."""
    root = tmp_path / "raw"
    argv = ["--participant", "sub-06", "--config", str(fast_config), "--data", str(root), "--manifest",
            str(manifest), "--quiet"]
    monkeypatch.setattr(recorder_mod, "_write_all", _full_after([20_000], errno.EACCES))
    assert run_cli(run_main, argv) == 1
    out = capsys.readouterr().err
    assert "Traceback" not in out and "the session stopped" in out and "--resume" in out
    assert "a file operation failed" in out and "Permission denied" in out and "free space" not in out
    monkeypatch.undo()
    assert run_cli(run_main, [*argv, "--resume"]) == 0, capsys.readouterr().err
    verify_checksums(root / "sub-06" / "ses-1")


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EDQUOT, errno.EIO])
def test_disk_full_while_recording_stops_at_once_keeps_the_data_and_resumes(
        fast_config, manifest, tmp_path, monkeypatch, capsys, err):
    root = tmp_path / "raw"
    rec = root / "sub-05" / "ses-1" / ".recording"
    argv = ["--participant", "sub-05", "--config", str(fast_config), "--data", str(root), "--manifest",
            str(manifest), "--quiet"]
    shown: list[str] = []
    import study.presenters as pres_mod

    real_show = pres_mod.HeadlessPresenter.show

    def show(self, scene, **kw):
        shown.append(scene.kind)
        return real_show(self, scene, **kw)

    monkeypatch.setattr(pres_mod.HeadlessPresenter, "show", show)
    at_fault: list[int] = []
    monkeypatch.setattr(recorder_mod, "_write_all", _full_after([20_000], err, lambda: at_fault.append(len(shown))))
    assert run_cli(run_main, argv) == 1
    out = capsys.readouterr().err
    assert "Traceback" not in out and "the session stopped" in out and "--resume" in out
    assert "nothing recorded was deleted" in out and "trials completed" in out
    assert {errno.ENOSPC: "disk is full", errno.EDQUOT: "quota", errno.EIO: "I/O error"}[err] in out
    state = json.loads((rec / "state.json").read_text())
    assert len(state["completed"]) < 2                          # it stopped mid-session ...
    assert len(at_fault) == 1 and len(shown) - at_fault[0] <= 1   # ... at once: at most the screen already due
    kept = (rec / "samples.tsv").read_bytes()
    assert len(kept) >= 15_000
    assert not list(rec.glob("*.tmp"))
    # space freed: resume finishes; every complete sample line kept at the stop is in the dataset
    monkeypatch.undo()
    monkeypatch.setattr(pres_mod.HeadlessPresenter, "show", show)
    assert run_cli(run_main, [*argv, "--resume"]) == 0, capsys.readouterr().err
    ses = root / "sub-05" / "ses-1"
    verify_checksums(ses)
    import gzip

    final_ts = {line.split("\t", 1)[0] for line in gzip.decompress(
        next((ses / "beh").glob("*eye1_physio.tsv.gz")).read_bytes()).decode().splitlines()}
    kept_lines = kept.decode().split("\n")[1:-1]                  # header; a cut last line is not a sample
    assert kept_lines and {line.split("\t", 1)[0] for line in kept_lines} <= final_ts


def test_disk_full_while_finalising_keeps_the_recording_and_resume_finalises(
        unfinalised, fast_config, manifest, tmp_path, monkeypatch, capsys):
    ref_root = tmp_path / "ref"
    shutil.copytree(unfinalised, ref_root)
    _resume(fast_config, manifest, ref_root)
    real = bids_mod._write_atomic

    def full(path, data):
        if path.name.endswith("_events.tsv"):
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data[:10])
            try:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
            finally:
                tmp.unlink()                                    # (what _write_atomic does on its own errors)
        return real(path, data)

    monkeypatch.setattr(bids_mod, "_write_atomic", full)
    argv = ["--participant", "sub-05", "--config", str(fast_config), "--data", str(unfinalised), "--manifest",
            str(manifest), "--quiet", "--resume"]
    assert run_cli(run_main, argv) == 1
    out = capsys.readouterr().err
    assert "while finalising" in out and "Every trial is recorded and kept" in out and "--resume" in out
    assert "Traceback" not in out
    assert (unfinalised / "sub-05" / "ses-1" / ".recording" / "samples.tsv").is_file()
    monkeypatch.setattr(bids_mod, "_write_atomic", real)
    assert run_cli(run_main, argv) == 0
    assert tree(unfinalised) == tree(ref_root)


def test_write_atomic_removes_its_temporary_file_on_a_storage_error(tmp_path, monkeypatch):
    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bids_mod.os, "fsync", fsync)
    with pytest.raises(OSError):
        bids_mod._write_atomic(tmp_path / "x.json", b"{}")
    assert list(tmp_path.iterdir()) == []


def _can_mount_tmpfs(target: Path) -> bool:
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    target.mkdir(parents=True, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(target)],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(target)], check=True)
    return ok


def test_a_real_full_file_system(fast_config, manifest, tmp_path, capsys):
    """A 1 MiB tmpfs filled up to 40 kB of free space (needs root and mount rights; skipped otherwise)."""
    mnt = tmp_path / "tiny"
    if not _can_mount_tmpfs(mnt):
        pytest.skip("mounting a tmpfs needs root and the mount capability")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        filler = mnt / "filler"
        free = shutil.disk_usage(mnt).free
        filler.write_bytes(b"\0" * (free - 40_000))
        root = mnt / "raw"
        argv = ["--participant", "sub-05", "--config", str(fast_config), "--data", str(root), "--manifest",
                str(manifest), "--quiet"]
        assert run_cli(run_main, argv) == 1
        out = capsys.readouterr().err
        assert "disk is full" in out and "--resume" in out and "Traceback" not in out
        assert (root / "sub-05" / "ses-1" / ".recording" / "state.json").is_file()
        filler.unlink()
        assert run_cli(run_main, [*argv, "--resume"]) == 0, capsys.readouterr().err
        verify_checksums(root / "sub-05" / "ses-1")
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


# -- identifiers and paths -------------------------------------------------------------------------------------

@pytest.mark.parametrize("label, message", [
    ("sub-01\n", "not a valid label"), ("sub-01/../x", "not a valid label"), ("sub-" + "1" * 300, "characters long"),
    (" sub-01", "not a valid label"), ("sub-01\x00", "not a valid label"), ("sub-0\u0661", "not a valid label"),
])
def test_bad_participant_ids_get_a_message(fast_config, tmp_path, capsys, label, message):
    code = run_cli(run_main, ["--participant", label, "--config", str(fast_config), "--data", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err) < 1000
    assert not (tmp_path / "r").exists()


def test_a_session_label_too_long_for_the_file_system_gets_a_message(fast_config, tmp_path, capsys):
    code = run_cli(run_main, ["--participant", "sub-01", "--session", "9" * 300, "--config", str(fast_config),
                              "--data", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "session label is 304 characters long" in err


@pytest.mark.parametrize("kind", ["file", "under a file"])
def test_data_pointing_at_a_file_gets_a_message(fast_config, manifest, tmp_path, capsys, kind):
    f = tmp_path / "data.txt"
    f.write_text("not a folder")
    data = f if kind == "file" else f / "raw"
    code = run_cli(run_main, ["--participant", "sub-01", "--config", str(fast_config), "--data", str(data),
                              "--manifest", str(manifest)])
    err = capsys.readouterr().err
    assert code == 2 and "--data" in err and str(f) in err and "Traceback" not in err
    assert f.read_text() == "not a folder"


def test_a_non_utf8_config_gets_a_message(tmp_path, capsys):
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes('[dataset]\nname = "Caf\xe9"\n'.encode("latin-1"))
    code = run_cli(run_main, ["--participant", "sub-01", "--config", str(cfg), "--data", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "not UTF-8" in err and "line 2" in err and "Traceback" not in err


def test_a_task_label_that_is_not_a_bids_label_is_refused(tmp_path):
    from study.config import load_config

    cfg = tmp_path / "t.toml"
    cfg.write_text('[study]\ntask = "art view"\n')
    with pytest.raises(StudyError, match="study.task"):
        load_config(cfg)
