"""Small files in the formats of the issue-10 readers, built with each format's real quirks.

Every writer returns a dict with the path and the truth the file was built from. The gaze is a
synthetic scan path (fixations on targets spread over the display, saccades between them),
normalised to the display area; UCS points follow the Tobii Pro SDK "Coordinate systems"
(x right, y up, z towards the user, origin at the tracker's front panel).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

SCREEN_PX = (1920, 1080)
SCREEN_MM = (509.2, 286.4)
BOTTOM_MM = 15.0
EYE_UCS = {"left": np.array([-32.0, 160.0, 620.0]), "right": np.array([32.0, 160.0, 620.0])}


def scan_path(n: int, rate: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Normalised gaze: 250 ms fixations on 12 targets over the display, 3-sample saccades, small noise."""
    rng = np.random.default_rng(seed)
    targets = np.array([[0.1, 0.1], [0.9, 0.15], [0.5, 0.5], [0.15, 0.85], [0.85, 0.9], [0.3, 0.3],
                        [0.7, 0.6], [0.2, 0.55], [0.8, 0.35], [0.45, 0.8], [0.6, 0.2], [0.35, 0.65]])
    fix = max(int(0.25 * rate), 4)
    pts = []
    k = 0
    while sum(len(p) for p in pts) < n:
        a, b = targets[k % len(targets)], targets[(k + 1) % len(targets)]
        pts.append(np.repeat(a[None], fix, axis=0) + rng.normal(0, 0.002, (fix, 2)))
        pts.append(a + (b - a) * np.linspace(0.25, 0.75, 3)[:, None])
        k += 1
    xy = np.concatenate(pts)[:n]
    return xy[:, 0], xy[:, 1]


def display_ucs(xn: np.ndarray, yn: np.ndarray, tilt_deg: float = 0.0) -> np.ndarray:
    """UCS point (mm) of normalised display positions; the top edge tilted back by ``tilt_deg``."""
    w, h = SCREEN_MM
    a = np.radians(tilt_deg)
    tl = np.array([-w / 2, BOTTOM_MM + h * np.cos(a), -h * np.sin(a)])
    u = np.array([w, 0.0, 0.0])
    v = np.array([0.0, -h * np.cos(a), h * np.sin(a)])
    return tl + np.outer(xn, u) + np.outer(yn, v)


def _write(path: Path, text: str) -> Path:
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def _fmt(v: float, decimal: str = ".") -> str:
    s = f"{v:.4f}"
    return s.replace(".", decimal) if decimal != "." else s


def write_studio_alldata(path: Path, n: int = 300, *, decimal: str = ",", invalid_rows=(10, 11, 12),
                         glitch_row: int | None = 40, res: tuple[int, int] = (1280, 1024)) -> dict:
    """Tobii Studio 1.x/2.x All-Data export at 50 Hz on a 1280x1024 display: decimal comma, event rows
    without gaze (``ImageStart``), "No media" before the image, ``FixationIndex`` on fixation samples,
    ``MicroSecondTimestamp`` with a jittery ms ``Timestamp`` (column names as in the FH-Potsdam export, MIT)."""
    rate = 50.0
    xn, yn = scan_path(n, rate)
    t_us = 2000 + np.arange(n) * 20000 + np.tile([0, 12, -9, 5], n // 4 + 1)[:n]
    header = ["Timestamp", "DateTimeStamp", "DateTimeStampStartOffset", "Number", "GazePointXLeft",
              "GazePointYLeft", "CamXLeft", "CamYLeft", "DistanceLeft", "PupilLeft", "ValidityLeft",
              "GazePointXRight", "GazePointYRight", "CamXRight", "CamYRight", "DistanceRight", "PupilRight",
              "ValidityRight", "FixationIndex", "GazePointX", "GazePointY", "Event", "EventKey", "Data1", "Data2",
              "Descriptor", "StimuliName", "StimuliID", "MediaWidth", "MediaHeight", "MediaPosX", "MediaPosY",
              "MicroSecondTimestamp", ""]
    fix_idx = np.full(n, -1)
    fix_idx[: n // 2] = np.arange(n // 2) // 15  # every 15 samples one "fixation" in the first half
    out = ["\t".join(header)]
    start = 20
    for i in range(n):
        if i == start:
            ev = [""] * len(header)
            ev[0], ev[1] = str(t_us[i] // 1000 - 5), "15:01:53.918"
            ev[21], ev[22], ev[25] = "ImageStart", "8", "art.jpg"
            out.append("\t".join(ev))
        bad = i in invalid_rows
        gx, gy = xn[i] * res[0], yn[i] * res[1]
        if glitch_row is not None and i == glitch_row:
            gx = 7778.0
        vl, vr = ("4", "4") if bad else ("0", "0")
        cells = [str(int(round(t_us[i] / 1000))), "15:01:53.705", "00:00:00.001", str(i),
                 "" if bad else _fmt(gx, decimal), "" if bad else _fmt(gy, decimal), "0", "0",
                 "" if bad else _fmt(650.0 + 0.1 * (i % 7), decimal), "" if bad else _fmt(3.5, decimal), vl,
                 "" if bad else _fmt(gx + 3, decimal), "" if bad else _fmt(gy - 2, decimal), "0", "0",
                 "" if bad else _fmt(652.0, decimal), "" if bad else _fmt(3.6, decimal), vr,
                 "" if fix_idx[i] < 0 else str(fix_idx[i]), str(int(gx)), str(int(gy)), "", "", "", "", "",
                 "No media" if i < start else "art.jpg", "0", "1280" if i < start else "1000",
                 "1024" if i < start else "800", "0" if i < start else "140", "0" if i < start else "112",
                 str(int(t_us[i])), ""]
        out.append("\t".join(cells))
    _write(path, "\n".join(out) + "\n")
    return {"path": Path(path), "n": n, "rate": rate, "screen_px": res, "fixation_samples": int((fix_idx >= 0).sum()),
            "n_fixations": int(fix_idx.max() + 1), "invalid_rows": tuple(invalid_rows), "glitch_row": glitch_row,
            "start": start}


def _tup(*values: float) -> str:
    """A tuple cell as ``str(tuple_of_floats)`` writes it: ``(0.51, 0.48)``."""
    return str(tuple(float(v) for v in values))


def write_tobii_sdk(path: Path, n: int = 600, *, style: str = "dict", sep: str = ",", rate: float = 120.0,
                    tilt_deg: float = 0.0, with_ucs: bool = True, invalid_rows=(50, 51, 52)) -> dict:
    """Gaze data as a Python script writes it through tobii_research (``style="dict"``: ``csv.DictWriter``
    of the GazeData dictionaries, tuple cells) or Titta (``style="titta"``: flattened columns, True/False)."""
    xn, yn = scan_path(n, rate)
    g3 = display_ucs(xn, yn, tilt_deg)
    dev_ts = 5_000_000 + np.round(np.arange(n) * 1e6 / rate).astype(np.int64)
    # the host's clock: the tracker clock plus an offset plus receive jitter (0-2 ms, sometimes more)
    jitter = np.random.default_rng(3).choice([0, 150, 400, 900, 2500], n, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    sys_ts = dev_ts + 1_000_000_000 + jitter
    rows = []
    keys: list[str] = ["device_time_stamp", "system_time_stamp"]
    for eye in ("left", "right"):
        if style == "dict":
            keys += [f"{eye}_gaze_point_on_display_area", f"{eye}_gaze_point_in_user_coordinate_system" if with_ucs
                     else None, f"{eye}_gaze_point_validity", f"{eye}_pupil_diameter", f"{eye}_pupil_validity",
                     f"{eye}_gaze_origin_in_user_coordinate_system", f"{eye}_gaze_origin_validity"]
        else:
            keys += [f"{eye}_gaze_point_on_display_area_x", f"{eye}_gaze_point_on_display_area_y"]
            if with_ucs:
                keys += [f"{eye}_gaze_point_in_user_coordinates_{a}" for a in "xyz"]
            keys += [f"{eye}_gaze_point_valid", f"{eye}_pupil_diameter", f"{eye}_pupil_valid"]
            keys += [f"{eye}_gaze_origin_in_user_coordinates_{a}" for a in "xyz"] + [f"{eye}_gaze_origin_valid"]
    keys = [k for k in keys if k]
    for i in range(n):
        r = {"device_time_stamp": str(dev_ts[i]), "system_time_stamp": str(sys_ts[i])}
        bad = i in invalid_rows
        for eye in ("left", "right"):
            e = EYE_UCS[eye]
            if style == "dict":
                r[f"{eye}_gaze_point_on_display_area"] = "(nan, nan)" if bad else _tup(xn[i], yn[i])
                if with_ucs:
                    r[f"{eye}_gaze_point_in_user_coordinate_system"] = (
                        "(nan, nan, nan)" if bad else _tup(*g3[i]))
                r[f"{eye}_gaze_point_validity"] = "0" if bad else "1"
                r[f"{eye}_pupil_diameter"] = "nan" if bad else "3.2"
                r[f"{eye}_pupil_validity"] = "0" if bad else "1"
                r[f"{eye}_gaze_origin_in_user_coordinate_system"] = "(nan, nan, nan)" if bad else _tup(*e)
                r[f"{eye}_gaze_origin_validity"] = "0" if bad else "1"
            else:
                r[f"{eye}_gaze_point_on_display_area_x"] = "nan" if bad else repr(float(xn[i]))
                r[f"{eye}_gaze_point_on_display_area_y"] = "nan" if bad else repr(float(yn[i]))
                if with_ucs:
                    for j, a in enumerate("xyz"):
                        r[f"{eye}_gaze_point_in_user_coordinates_{a}"] = "nan" if bad else repr(float(g3[i, j]))
                r[f"{eye}_gaze_point_valid"] = "False" if bad else "True"
                r[f"{eye}_pupil_diameter"] = "nan" if bad else "3.2"
                r[f"{eye}_pupil_valid"] = "False" if bad else "True"
                for j, a in enumerate("xyz"):
                    r[f"{eye}_gaze_origin_in_user_coordinates_{a}"] = "nan" if bad else str(e[j])
                r[f"{eye}_gaze_origin_valid"] = "False" if bad else "True"
        rows.append(r)
    quote = (lambda c: f'"{c}"' if sep in c else c)
    text = sep.join(keys) + "\n" + "".join(sep.join(quote(r[k]) for k in keys) + "\n" for r in rows)
    _write(path, text)
    return {"path": Path(path), "n": n, "rate": rate, "xn": xn, "yn": yn, "invalid_rows": tuple(invalid_rows)}


#: The header and 12 rows of the I2MC example data (royhessels/I2MC, "example data/participant1/1.txt",
#: Hessels, Niehorster, Kemner & Hooge 2017; CC BY 4.0): a Tobii TX300 at 300 Hz recorded through the
#: Tobii SDK; rows with validity 4 hold 0.0000 and -1.0000.
I2MC_EXCERPT = """Time	LEyePos3dx	LEyePos3dy	LEyePos3dz	LEyePos3dRelx	LEyePos3dRely	LEyePos3dRelz	LGazePos2dx	LGazePos2dy	LGazePos3dx	LGazePos3dy	LGazePos3dz	LPupilDm	LValidity	REyePos3dx	REyePos3dy	REyePos3dz	REyePos3dRelx	REyePos3dRely	REyePos3dRelz	RGazePos2dx	RGazePos2dy	RGazePos3dx	RGazePos3dy	RGazePos3dz	RPupilDm	RValidity	RelTimestamp
2619771723	0.0000	0.0000	0.0000	-1.0000	-1.0000	0.0000	-1.0000	-1.0000	0.0000	0.0000	0.0000	-1.0000	4	0.0000	0.0000	0.0000	-1.0000	-1.0000	0.0000	-1.0000	-1.0000	0.0000	0.0000	0.0000	-1.0000	4	0.0000
2619775056	0.0000	0.0000	0.0000	-1.0000	-1.0000	0.0000	-1.0000	-1.0000	0.0000	0.0000	0.0000	-1.0000	4	0.0000	0.0000	0.0000	-1.0000	-1.0000	0.0000	-1.0000	-1.0000	0.0000	0.0000	0.0000	-1.0000	4	3.3330
2619778408	-2.3434	3.4425	595.0995	0.5427	0.4831	0.4837	0.4982	0.4964	-0.9102	171.5653	55.9954	4.3067	0	42.0484	7.1476	596.9134	0.3903	0.4603	0.4897	0.4894	0.4453	-5.4466	185.2790	61.5554	3.8441	0	6.6850
2619781755	-2.4005	3.6078	595.1257	0.5429	0.4820	0.4838	0.4948	0.5039	-2.6797	169.5505	55.1785	4.3441	0	41.9878	7.2904	596.8268	0.3904	0.4595	0.4894	0.4853	0.4563	-7.5454	182.3433	60.3652	3.8887	0	10.0320
2619785115	-2.4648	3.7778	595.1494	0.5431	0.4810	0.4838	0.4987	0.4967	-0.6758	171.4837	55.9623	4.3416	0	41.9404	7.4325	596.8835	0.3906	0.4586	0.4896	0.4889	0.4437	-5.6887	185.7059	61.7285	3.8319	0	13.3920
2619788362	-2.5223	3.9485	595.1420	0.5433	0.4799	0.4838	0.5025	0.4853	1.2707	174.5426	57.2025	4.3295	0	41.8769	7.5808	596.7352	0.3908	0.4577	0.4891	0.4919	0.4498	-4.1730	184.0879	61.0725	3.8654	0	16.6390
2619791718	-2.5850	4.1246	595.2219	0.5435	0.4788	0.4841	0.4980	0.4867	-1.0340	174.1632	57.0487	4.3208	0	41.8164	7.7288	596.7926	0.3910	0.4567	0.4893	0.4828	0.4505	-8.8173	183.8853	60.9904	3.8495	0	19.9950
2619795076	-2.6498	4.3045	595.2313	0.5437	0.4777	0.4841	0.4978	0.4809	-1.1067	175.7230	57.6811	4.3016	0	41.7683	7.8824	596.8107	0.3912	0.4558	0.4894	0.4802	0.4727	-10.1520	177.9145	58.5696	3.8698	0	23.3530
2619798439	-2.7086	4.4910	595.2450	0.5439	0.4766	0.4841	0.4980	0.4776	-1.0183	176.6103	58.0408	4.3483	0	41.7031	8.0347	596.7454	0.3914	0.4548	0.4892	0.4819	0.4598	-9.3117	181.3784	59.9740	3.8742	0	26.7160
2619801737	0.0000	0.0000	0.0000	-1.0000	-1.0000	0.0000	-1.0000	-1.0000	0.0000	0.0000	0.0000	-1.0000	4	0.0000	0.0000	0.0000	-1.0000	-1.0000	0.0000	-1.0000	-1.0000	0.0000	0.0000	0.0000	-1.0000	4	30.0140
2619805070	0.0000	0.0000	0.0000	-1.0000	-1.0000	0.0000	-1.0000	-1.0000	0.0000	0.0000	0.0000	-1.0000	4	0.0000	0.0000	0.0000	-1.0000	-1.0000	0.0000	-1.0000	-1.0000	0.0000	0.0000	0.0000	-1.0000	4	33.3470
2619808419	-2.9000	5.0571	595.3249	0.5446	0.4730	0.4844	0.5018	0.4904	0.9125	173.1653	56.6441	4.2894	0	41.5181	8.5005	596.5677	0.3920	0.4520	0.4886	0.4879	0.4611	-6.2024	181.0434	59.8382	3.8709	0	36.6960
"""


def write_tobii_raw(path: Path, n: int = 900, *, rate: float = 300.0, tilt_deg: float = 20.0,
                    glitch_row: int | None = 100, invalid_rows=(30, 31)) -> dict:
    """A TX300 SDK raw file (I2MC example-data columns) from the synthetic scan path: µs ``Time`` with
    jitter, -1/0 cells on validity-4 rows, a tilted display (gaze in UCS on it), one glitch sample."""
    xn, yn = scan_path(n, rate)
    g3 = display_ucs(xn, yn, tilt_deg)
    t_us = 2_619_771_723 + np.round(np.arange(n) * 1e6 / rate).astype(np.int64) + np.tile([0, 17, -21, 9], n)[:n]
    header = I2MC_EXCERPT.splitlines()[0].split("\t")
    out = ["\t".join(header)]
    for i in range(n):
        bad = i in invalid_rows
        cells = [str(t_us[i])]
        for eye in ("left", "right"):
            e = EYE_UCS[eye]
            x, y = xn[i], yn[i]
            if glitch_row is not None and i == glitch_row:
                x = 5.2  # one sample far off the display (a real TX300 glitch)
            if bad:
                cells += ["0.0000"] * 3 + ["-1.0000", "-1.0000", "0.0000", "-1.0000", "-1.0000"] + ["0.0000"] * 3 + \
                         ["-1.0000", "4"]
            else:
                cells += [f"{v:.4f}" for v in e] + ["0.5000", "0.4800", "0.4840", f"{x:.4f}", f"{y:.4f}"] + \
                         [f"{v:.4f}" for v in g3[i]] + ["4.1000", "0"]
        cells.append(f"{(t_us[i] - t_us[0]) / 1000:.4f}")
        out.append("\t".join(cells))
    _write(path, "\n".join(out) + "\n")
    return {"path": Path(path), "n": n, "rate": rate, "tilt_deg": tilt_deg, "glitch_row": glitch_row,
            "invalid_rows": tuple(invalid_rows)}


def write_eprime(path: Path, n: int = 300, *, rate: float = 60.0, res: tuple[int, int] = (1920, 1200),
                 invalid_rows=(5, 6, 7), trial_len: int = 100) -> dict:
    """An E-Prime Extensions for Tobii ``.gazedata`` file (column set as lookr documents it): TETTime in ms
    with two decimals (and one cell with a trailing dot, as E-Prime writes ``...450.``), -1 cells and
    validity 4 when the eye is lost, CursorX/Y in pixels, TrialId runs, a custom attribute column."""
    xn, yn = scan_path(n, rate)
    tet = 1_350_478_863_867.11 + np.arange(n) * 1000.0 / rate
    header = ["Subject", "Session", "ID", "TETTime", "RTTime", "CursorX", "CursorY", "TimestampSec",
              "TimestampMicrosec", "XGazePosLeftEye", "YGazePosLeftEye", "XCameraPosLeftEye", "YCameraPosLeftEye",
              "DiameterPupilLeftEye", "DistanceLeftEye", "ValidityLeftEye", "XGazePosRightEye", "YGazePosRightEye",
              "XCameraPosRightEye", "YCameraPosRightEye", "DiameterPupilRightEye", "DistanceRightEye",
              "ValidityRightEye", "TrialId", "Target", "Stimulus"]
    out = ["\t".join(header)]
    for i in range(n):
        bad = i in invalid_rows
        t_txt = f"{tet[i]:.2f}"
        if i == 3:
            t_txt = f"{tet[i]:.0f}."
            tet[i] = float(f"{tet[i]:.0f}")
        if bad:
            eye = ["-1"] * 6 + ["4"]
            cx = cy = "-1"
        else:
            # E-Prime truncates: CursorX = floor(mean x * width) (real lookr files: 0.61337 * 1920 -> 1177)
            cx, cy = str(int(np.floor(xn[i] * res[0]))), str(int(np.floor(yn[i] * res[1])))
            eye = [f"{xn[i]:.7f}", f"{yn[i]:.7f}", "0.648538", "0.3149808", "3.215727", f"{577.3 + 0.01 * i:.4f}", "0"]
        cells = ["001", "2", str(i + 1), t_txt, str(72453 + i * 17), cx, cy, str(int(tet[i] // 1000)),
                 str(int(round(tet[i] % 1000 * 1000))), *eye, *eye, str(i // trial_len + 1), "ImageR",
                 "Image" if i % trial_len > 1 else ""]
        out.append("\t".join(cells))
    _write(path, "\n".join(out) + "\n")
    return {"path": Path(path), "n": n, "rate": rate, "screen_px": res, "invalid_rows": tuple(invalid_rows),
            "n_trials": (n - 1) // trial_len + 1}


IOHUB_FIELDS = [("experiment_id", "u4"), ("session_id", "u4"), ("device_id", "u2"), ("event_id", "u4"),
                ("type", "u1"), ("device_time", "f8"), ("logged_time", "f8"), ("time", "f8"),
                ("confidence_interval", "f4"), ("delay", "f4"), ("filter_id", "i2"),
                *[(f"{e}_{f}", "u1" if f.endswith("_type") else "f4") for e in ("left", "right") for f in (
                    "gaze_x", "gaze_y", "gaze_z", "eye_cam_x", "eye_cam_y", "eye_cam_z", "angle_x", "angle_y",
                    "raw_x", "raw_y", "pupil_measure1", "pupil_measure1_type", "pupil_measure2",
                    "pupil_measure2_type", "ppd_x", "ppd_y", "velocity_x", "velocity_y", "velocity_xy")],
                ("status", "u1")]


def write_iohub(path: Path, n: int = 600, *, rate: float = 120.0, res: tuple[int, int] = SCREEN_PX,
                invalid_left=(20, 21), invalid_right=(40,), units: str = "pix") -> dict:
    """An ioHub data store with a ``BinocularEyeSampleEvent`` table (fields of PsychoPy's eye_events.py),
    gaze in ``pix`` (origin at the screen centre, y up) as ioHub's Tobii device maps it, ``status`` 20/2/22."""
    import h5py

    xn, yn = scan_path(n, rate)
    data = np.zeros(n, dtype=IOHUB_FIELDS)
    data["time"] = 12.5 + np.arange(n) / rate
    data["device_time"] = data["time"] - 0.01
    w, h = res
    for eye in ("left", "right"):
        if units == "pix":
            data[f"{eye}_gaze_x"] = -w / 2 + w * xn
            data[f"{eye}_gaze_y"] = -h / 2 + h * (1 - yn)
        else:
            data[f"{eye}_gaze_x"] = -1 + 2 * xn
            data[f"{eye}_gaze_y"] = -1 + 2 * (1 - yn)
        data[f"{eye}_pupil_measure1"] = 3.3
    status = np.zeros(n, dtype=np.uint8)
    status[list(invalid_left)] += 20
    status[list(invalid_right)] += 2
    data["status"] = status
    messages = np.zeros(2, dtype=[("time", "f8"), ("text", "S32")])
    messages["time"] = [data["time"][10], data["time"][n // 2]]
    messages["text"] = [b"TRIAL_START", b"TRIAL_END"]
    with h5py.File(path, "w") as f:
        g = f.create_group("data_collection/events/eyetracker")
        g.create_dataset("BinocularEyeSampleEvent", data=data)
        f.create_group("data_collection/events/experiment").create_dataset("MessageEvent", data=messages)
    return {"path": Path(path), "n": n, "rate": rate, "screen_px": res, "xn": xn, "yn": yn,
            "invalid_left": tuple(invalid_left), "invalid_right": tuple(invalid_right)}


def write_titta_hdf5(path: Path, n: int = 600, rate: float = 120.0) -> dict:
    """A Titta HDF5 file: ``Titta.save_data`` stores the gaze DataFrame with pandas ``to_hdf(key="gaze")``
    (flattened TittaPy columns, bool validity) and the messages under ``msg``."""
    import pandas as pd

    w = write_tobii_sdk(Path(path).with_suffix(".tsv"), n=n, style="titta", sep="\t", rate=rate)
    df = pd.read_csv(w["path"], sep="\t")
    w["path"].unlink()
    df.to_hdf(path, key="gaze")
    pd.DataFrame({"system_time_stamp": [int(df["system_time_stamp"].iloc[0])], "msg": ["onset_art.png"]}).to_hdf(
        path, key="msg")
    w["path"] = Path(path)
    return w
