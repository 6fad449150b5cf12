"""Registry of the readers for SDK dumps and older Tobii programs (issue 10): detection and dispatch.

Each reader module gives ``FORMAT``, ``LOOKED_FOR`` (the columns detection looks for, for the
"unknown file" message), ``sniff`` (a header line, or the first bytes for HDF5) and its reader
function, called as ``reader(path, geometry=, rate_hz=, screen_px=, screen_mm=, distance_mm=)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from analysis.io import eprime, iohub, studio_alldata, tobii_raw, tobii_sdk
from analysis.io._common import head_lines, read_head
from analysis.recording import Recording

#: format name -> reader function
READERS: dict[str, Callable[..., Recording]] = {
    studio_alldata.FORMAT: studio_alldata.read_studio_alldata,
    tobii_sdk.FORMAT: tobii_sdk.read_tobii_sdk,
    tobii_raw.FORMAT: tobii_raw.read_tobii_raw,
    eprime.FORMAT: eprime.read_eprime,
    iohub.FORMAT: iohub.read_iohub,
}
FORMATS = tuple(READERS)
_TEXT_MODULES = (studio_alldata, tobii_sdk, tobii_raw, eprime)
#: What detection looks for, per format (named in the "unknown column style" message).
LOOKED_FOR = {m.FORMAT: m.LOOKED_FOR for m in (*_TEXT_MODULES, iohub)}
LOOKED_FOR[tobii_sdk.FORMAT] += "; or a Titta HDF5 file with a 'gaze' table"


def detect_extra_format(path: Path) -> str | None:
    """The format of ``path`` when it is one of these readers' formats, else ``None``.

    HDF5 by its signature; text files by the first of their first 200 lines that matches a
    reader's header (so a preamble before the header is allowed).
    """
    if iohub.sniff(read_head(path, 8)):
        return _hdf5_format(path)
    lines, _ = head_lines(path)
    for line in lines:
        for m in _TEXT_MODULES:
            if m.sniff(line):
                return m.FORMAT
    return None


def _hdf5_format(path: Path) -> str:
    """``tobii_sdk`` for a Titta HDF5 file (a pandas ``gaze`` table), else ``iohub`` (whose reader explains
    a missing package, a missing table or a corrupt file)."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return tobii_sdk.FORMAT if "gaze" in f and "data_collection" not in f else iohub.FORMAT
    except Exception:  # missing h5py or an unreadable file: the ioHub reader gives the message
        return iohub.FORMAT


def looked_for_text() -> str:
    """One line per format: ``name: columns``."""
    return "; ".join(f"{k}: {v}" for k, v in LOOKED_FOR.items())
