"""The PsychoPy presenter draws the image exactly on the recorded AOI (needs a display: xvfb-run)."""

import numpy as np
from PIL import Image

from study.oculomotor import GazeModel
from study.presenters import PsychoPyPresenter
from study.session import fit_image
from study.trackers.base import Scene
from study.trackers.simulated import SimulatedTracker


def test_image_fills_exactly_the_recorded_aoi_upright(tmp_path):
    arr = np.zeros((60, 80, 3), np.uint8)
    arr[:30, :40] = (255, 0, 0)          # red top-left quadrant
    arr[30:, 40:] = (0, 0, 255)          # blue bottom-right quadrant
    Image.fromarray(arr).save(tmp_path / "asym.png")
    trk = SimulatedTracker(GazeModel(seed=1), rate_hz=60.0, screen_mm=(338.0, 270.0), realtime=True)
    p = PsychoPyPresenter(trk, (1280, 1024), fullscreen=False, screen_index=0, refresh_hz=60.0,
                          background=(0, 0, 0), foreground=(1, 1, 1), auto_response_s=0.05, responder="auto")
    try:
        size, aoi = fit_image(80, 60, 1024, 768, (1280, 1024))
        assert size == (1024, 768) and aoi == (128.0, 128.0, 1152.0, 896.0)
        p.show(Scene("stimulus", aoi_px=aoi, stimulus_id="asym"), image=tmp_path / "asym.png", size_px=size)
        for d in p._drawables:
            d.draw()
        frame = np.asarray(p.win.getMovieFrame(buffer="back"))   # rows top to bottom, like screen px
        p.win.movieFrames.clear()
    finally:
        p.close()
    l, t, r, b = (int(v) for v in aoi)
    assert tuple(frame[t, l]) == (255, 0, 0) and tuple(frame[b - 1, r - 1]) == (0, 0, 255)
    assert tuple(frame[t + 10, r - 10]) == (0, 0, 0) and tuple(frame[b - 10, l + 10]) == (0, 0, 0)
    grey = frame[t - 1, l]                                       # just outside the AOI: background
    assert tuple(frame[t, l - 1]) == tuple(grey) and tuple(frame[b, r - 1]) == tuple(grey)
    assert tuple(grey) not in {(255, 0, 0), (0, 0, 255), (0, 0, 0)}
