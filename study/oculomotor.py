"""Generative oculomotor and eye-tracker model for simulated sessions (ground truth included).

:class:`GazeModel` produces what a Tobii T60-class tracker would stream while a
participant looks at the scenes of the protocol (fixation cross, artwork, blank,
calibration points, instruction text), together with the *true* events that produced
the samples (fixations, saccades, blinks). The sample block has the Tobii Pro SDK /
TittaPy gaze-data names (``system_time_stamp``, ``left_gaze_point_on_display_area_x``,
...), so the simulated tracker can hand it to the same recorder as a real tracker.

Model, in the order the samples are built (every parameter is a field of
:class:`OculomotorParams`, documented there with its source):

1. **Scan path** (continuous time, one event list per scene). A scene change triggers a
   saccadic latency, then a sequence ``fixation -> saccade -> fixation ...``. Fixation
   durations are lognormal (right-skewed; scene-viewing median about 250 ms, Henderson &
   Hollingworth 1998, 1999; Rayner 2009). On an artwork with a target
   ``(total fixation time T, fixation count N)`` the participant makes
   ``Poisson(N * f_count)`` fixations on the image whose durations have mean
   ``T * f_time / (N * f_count)``, where ``f_time`` and ``f_count`` are the trial's
   lognormal factors from the participant's random effects (looking-time and
   fixation-duration intercepts, a participant x method slope, a trial effect;
   :func:`trial_factors`, expectation 1), so the *expected* total time and count on the
   image equal the targets. The remaining viewing time is spent in fixations outside the
   image ("gaze leaving the stimulus"), interleaved at random. Each fixation on the image
   lands on a point drawn from saliency (the stimulus's map, if any) x central bias
   (Tatler 2007; Clarke & Tatler 2014) x a gamma amplitude preference x inhibition of
   return (Itti & Koch 2001); the scan path starts where the fixation cross was.
2. **Saccades** follow the main sequence: duration ``2.2 ms/deg * A + 21 ms`` (Carpenter
   1988) and saturating peak velocity ``Vmax (1 - exp(-A / C))`` (the exponential main
   sequence of Baloh et al. 1975 / Bahill et al. 1975, 1981). The velocity profile is the
   smooth symmetric ``(tau (1 - tau))**n`` family (``n = 2`` is the minimum-jerk profile,
   Flash & Hogan 1985); ``n`` is chosen per saccade so that the profile's peak velocity
   equals the main-sequence peak velocity for that amplitude and duration.
3. **Blinks** arrive as a Poisson process (about 15/min, Bentivoglio et al. 1997) and last
   100-300 ms; a blink due during a fixation is placed at the end of that fixation
   (blinks accompany gaze shifts), so it never splits a true fixation.
4. **Tracker**: per eye a constant accuracy offset (about 0.5 deg, participant-specific),
   a slow common drift (Ornstein-Uhlenbeck), white measurement noise with a configurable
   RMS sample-to-sample precision (default 0.3 deg, T60-like; Holmqvist et al. 2012),
   random data-loss bursts, and 60 Hz timestamps with jitter; precision and data loss
   differ between participants (lognormal spread).

Everything per sample is vectorised; Python loops run over events (fixations, saccades,
blinks, loss bursts) only. The model keeps its state (eye position, drift, the next
blink, the sample grid) across :meth:`GazeModel.generate` calls, so a tracker may ask for
any chunking of contiguous windows. Events are returned clipped to each window with a
stable ``event_id``; :func:`merge_event_pieces` joins the pieces.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy.special import beta as beta_fn
from scipy.special import betainc

SCENE_KINDS = ("cross", "stimulus", "blank", "calibration_point", "text")

#: Keys of the sample block (Tobii Pro SDK gaze-data names, as TittaPy delivers them).
SAMPLE_KEYS: tuple[str, ...] = (
    "system_time_stamp",
    "device_time_stamp",
    *(
        f"{eye}_{name}"
        for eye in ("left", "right")
        for name in (
            "gaze_point_on_display_area_x",
            "gaze_point_on_display_area_y",
            "gaze_point_valid",
            "pupil_diameter",
            "pupil_valid",
            "gaze_origin_in_user_coordinates_x",
            "gaze_origin_in_user_coordinates_y",
            "gaze_origin_in_user_coordinates_z",
            "gaze_origin_valid",
        )
    ),
)


@dataclass(frozen=True)
class OculomotorParams:
    """Every parameter of the oculomotor and tracker model, with its source.

    Parameters
    ----------
    fixation_median_s : float
        Median fixation duration where no target applies (cross, blank, off-image
        fixations), 0.25 s. Scene viewing: mean about 330 ms with a median near 250-280 ms
        (Henderson & Hollingworth 1998, "Eye movements during scene viewing: an
        overview"; 1999, Annu. Rev. Psychol. 50:243-271; Rayner 2009, QJEP 62:1457-1506).
    fixation_log_sd : float
        SD of log fixation duration, 0.45: gives the right skew of scene-viewing
        distributions (mode about 200-250 ms, long tail past 600 ms; Henderson &
        Hollingworth 1998, Fig. 1; Rayner 2009).
    fixation_min_s, fixation_max_s : float
        Truncation of single fixation durations: 0.08 s (shortest programmed fixations,
        Rayner 2009) and 4.0 s (assumption; only reached for targets with very long mean
        fixations, see docs/simulation.md).
    text_fixation_median_s : float
        Median fixation during reading the instruction text, 0.225 s (Rayner 2009:
        225-250 ms in silent reading).
    participant_looking_sd : float
        SD (log scale) of a participant's random intercept for looking at the images,
        applied to both total fixation time and fixation count (people who look longer make
        more fixations), 0.15 (default: 0.15; assumption: a between-participant
        coefficient of variation of about 15 % in dwell time; individual differences in
        scene-viewing eye movements are stable and of this order, Castelhano & Henderson
        2008, Can. J. Exp. Psychol. 62:1-14; Henderson & Luke 2014, Psychon. Bull. Rev.
        21:1319-1332).
    participant_duration_sd : float
        SD (log scale) of a participant's random intercept for the mean fixation duration
        (time only, not count), 0.10 (default: 0.10; Henderson & Luke 2014 and Castelhano &
        Henderson 2008: participants' mean scene-viewing fixation durations differ with a
        between-participant SD of about 30-40 ms on about 300 ms, i.e. 10-13 %).
    participant_method_sd : float
        SD (log scale) of the participant x method random slope: the participant's own
        log ratio ours / Pix2Pix deviates from the stimulus's by ``b``, added as ``+b/2``
        to "ours" and ``-b/2`` to "pix2pix" stimuli (time and count), 0.25 (default: 0.25;
        assumption: with the paper's mean time ratio 14.89 / 9.78, log 0.42, about 5 % of
        participants then look longer at Pix2Pix; the paper reports no SDs).
    trial_sd : float
        SD (log scale) of the participant x artwork interest in one trial, time and count,
        0.15 (default: 0.15; assumption: trial-to-trial variation in dwell time beyond
        the Poisson/lognormal variation of the fixations themselves).
    viewing_s : float
        Viewing time the targets refer to, 30 s (the study config's default stimulus
        duration). Targets are scaled by ``min(1, D / viewing_s)`` for a scene that
        declares a shorter expected duration ``D``.
    saccade_latency_s : float
        Latency of the first saccade after a scene change, 0.2 s (Carpenter 1988;
        typical visually guided saccade latency 180-250 ms).
    latency_sd_s : float
        SD of that latency, 0.03 s (assumption, Carpenter 1988 latency distributions).
    scene_saccade_mean_deg : float
        Mean amplitude of saccades within an image, 4.0 deg (default: 4.0; Henderson &
        Hollingworth 1998; Rayner 2009: "average saccade size in scene perception 4-5
        deg"). The amplitude preference is a gamma density with shape 2 (positively
        skewed, many small and few large saccades, as the scene-viewing amplitude
        distributions of Tatler, Baddeley & Vincent 2006, Vision Res. 46:1857-1862, and
        Tatler & Vincent 2008, J. Eye Mov. Res. 2(2):5); it is one factor of the landing
        map (see ``central_bias_sd_x``), so realised amplitudes also follow the image.
    saccade_slope_ms_per_deg, saccade_intercept_ms : float
        Main-sequence duration ``D = slope * A + intercept``: 2.2 ms/deg and 21 ms
        (Carpenter 1988, *Movements of the Eyes*, 2nd ed., p. 72).
    saccade_vmax_deg_s, saccade_c_deg : float
        Saturating main sequence of peak velocity, ``Vp = Vmax (1 - exp(-A / C))``;
        600 deg/s and 10 deg, within the range of the exponential fits of Baloh et al.
        (1975, Neurology 25:1065-1070) and Bahill, Brockenbrough & Troost (1981, IOVS
        21:116-125). With Carpenter's durations this gives ``Vp * D / A`` between 1.5 and
        2.0, which the profile family below can realise.
    blink_rate_per_min : float
        Spontaneous blink rate, 15/min (Bentivoglio et al. 1997, Mov. Disord. 12:1028:
        17/min at rest, fewer while viewing; the issue specifies about 15/min).
    blink_min_s, blink_max_s : float
        Blink duration (signal loss) uniform in 0.1-0.3 s (Caffier, Erdmann & Ullsperger
        2003, Eur. J. Appl. Physiol. 89:319-325: blink durations 100-300 ms).
    precision_rms_deg : float
        Median (over participants) RMS sample-to-sample precision of each eye's gaze
        signal, 0.3 deg (default: 0.3; Holmqvist, Nystrom & Mulvey 2012, ETRA '12, define
        RMS-S2S; measured Tobii T60/T120 values are of this order). White noise with
        per-axis SD ``precision / 2`` has exactly this RMS-S2S.
    precision_between_log_sd : float
        SD of log precision between participants, 0.35 (default: 0.35; the middle 90 % of
        participants between 0.17 and 0.53 deg; assumption of the order of the several-fold
        between-participant spread of RMS precision on remote video trackers reported by
        Nystrom, Andersson, Holmqvist & van de Weijer 2013, Behav. Res. Methods 45:272-288,
        and Hessels et al. 2015, Infancy 20:601-633).
    accuracy_deg : float
        Mean size of the constant per-eye offset (accuracy), 0.5 deg (Tobii T60 spec:
        0.5 deg typical accuracy). Its size is drawn per participant and eye from a
        Rayleigh distribution with this mean, its direction uniformly.
    drift_sd_deg, drift_tau_s : float
        Slow drift common to both eyes: Ornstein-Uhlenbeck with stationary SD 0.2 deg and
        time constant 60 s (assumption: calibration drift of a few tenths of a degree
        over minutes, Hornof & Halverson 2002, BRMIC 34:592-604).
    loss_fraction : float
        Mean (over participants) fraction of samples lost outside blinks, 0.03 (default:
        0.03; assumption: remote trackers lose a few percent of samples besides blinks,
        Holmqvist et al. 2011, *Eye Tracking: A comprehensive guide*, ch. 4).
    loss_between_log_sd : float
        SD of log data loss between participants, 0.8 (default: 0.8; a participant's loss is
        ``loss_fraction * exp(N(0, sd) - sd^2 / 2)``, at most 0.5, so the cohort mean stays
        ``loss_fraction``: median 2.2 %, the middle 90 % between 0.6 % and 8 %;
        assumption: data loss is strongly right-skewed over participants, a few lose much
        more than most, Holmqvist et al. 2011 ch. 4; Hessels et al. 2015).
    loss_mean_s : float
        Mean length of a loss burst, 0.05 s, exponentially distributed (assumption; most
        short losses are shorter than the 75 ms gap-fill of the Tobii I-VT filter, some
        are longer).
    loss_one_eye_fraction : float
        Fraction of loss bursts that hit only one eye, 0.5 (assumption).
    jitter_us : float
        SD of the timestamp jitter around the nominal 1/rate grid, 300 us (assumption:
        well below the 16.7 ms interval at 60 Hz; the grid itself does not drift). Jitter
        is limited to +-3 SD so timestamps stay strictly increasing, and must not exceed
        :func:`max_jitter_us` (``T / 24``: 694 us at 60 Hz, 139 us at 300 Hz) so the
        readers see one sampling rate; scale it down for faster simulated trackers.
    pupil_mean_mm, pupil_between_sd_mm, pupil_slow_sd_mm, pupil_noise_mm : float
        Pupil diameter: participant mean 3.5 mm with SD 0.5 mm between participants
        (young adults at moderate screen luminance, Winn et al. 1994, IOVS 35:1132),
        slow fluctuation SD 0.2 mm (assumption), sample noise 0.02 mm (assumption).
    eye_separation_mm : float
        Interpupillary distance, 63 mm (Dodgson 2004, SPIE 5291: adult mean 63 mm).
    head_sd_mm : float
        SD of slow head movement of the gaze origin, 10 mm (assumption, chin-rest-free
        remote tracking).
    stimulus_margin_deg : float
        On-image fixations lie at least this far inside the image edge, and off-image
        fixations at least this far outside, 1.0 deg (assumption; keeps the true AOI
        membership unambiguous under the 0.5 deg accuracy offset).
    default_on_stimulus_fraction : float
        For an artwork without a target: probability that a fixation is on the image,
        0.85 (assumption).
    point_refixation_sd_deg : float
        While holding gaze on a point (fixation cross, calibration/validation point) the
        eye re-fixates with small (micro)saccades scattered with this SD around the
        point, 0.15 deg (microsaccades are mostly below 0.5 deg, Martinez-Conde,
        Macknik & Hubel 2004, Nat. Rev. Neurosci. 5:229-240).
    central_bias_sd_x, central_bias_sd_y : float
        Central fixation bias: an anisotropic Gaussian centred on the image, SDs in units
        of half the image width, 0.469 and 0.315 (default: 0.469, 0.315; Clarke & Tatler
        2014, Vision Res. 102:41-51, the baseline proposed over 10 scene data sets:
        variance 0.22 horizontally and 0.22 * 0.45 vertically in half-width units, the
        central bias of Tatler 2007, J. Vis. 7(14):4). The next on-image fixation lands
        at a location drawn from ``(floor + (1 - floor) * saliency) * central bias *
        amplitude preference * inhibition of return`` (Itti & Koch 2001, Nat. Rev.
        Neurosci. 2:194-203: saliency with inhibition of return; Tatler 2007: saliency
        and central bias combined).
    saliency_floor : float
        Weight of the least salient location relative to the most salient, 0.1 (default:
        0.1; assumption: saliency predicts fixations only partly, areas under the ROC
        curve of about 0.7-0.8, Borji & Itti 2013, IEEE TPAMI 35:185-207, so no location
        is excluded).
    ior_strength, ior_sd_deg, ior_memory : float
        Inhibition of return: each of the last ``ior_memory`` fixations on the scene
        multiplies the landing weight near it by ``1 - strength * exp(-d^2 / 2 sd^2)``;
        0.7, 1.5 deg, 4 fixations (default: 0.7, 1.5, 4; Klein 2000, Trends Cogn. Sci.
        4:138-147; Itti & Koch 2001 use it to move the scan path on. It is partial and
        short-lived because scene viewers do return to recently fixated locations,
        Smith & Henderson 2009, Vis. Cogn. 17:1083-1108).
    saliency_grid : float
        Cells along the longer image side of the landing map (the saliency map is block
        averaged onto it), 48 (default: 48; about 0.4 deg per cell for the 768 px demo
        image, finer than the 1 deg stimulus margin).
    """

    fixation_median_s: float = 0.25
    fixation_log_sd: float = 0.45
    fixation_min_s: float = 0.08
    fixation_max_s: float = 4.0
    text_fixation_median_s: float = 0.225
    participant_looking_sd: float = 0.15
    participant_duration_sd: float = 0.10
    participant_method_sd: float = 0.25
    trial_sd: float = 0.15
    viewing_s: float = 30.0
    saccade_latency_s: float = 0.2
    latency_sd_s: float = 0.03
    scene_saccade_mean_deg: float = 4.0
    saccade_slope_ms_per_deg: float = 2.2
    saccade_intercept_ms: float = 21.0
    saccade_vmax_deg_s: float = 600.0
    saccade_c_deg: float = 10.0
    blink_rate_per_min: float = 15.0
    blink_min_s: float = 0.1
    blink_max_s: float = 0.3
    precision_rms_deg: float = 0.3
    precision_between_log_sd: float = 0.35
    accuracy_deg: float = 0.5
    drift_sd_deg: float = 0.2
    drift_tau_s: float = 60.0
    loss_fraction: float = 0.03
    loss_between_log_sd: float = 0.8
    loss_mean_s: float = 0.05
    loss_one_eye_fraction: float = 0.5
    jitter_us: float = 300.0
    pupil_mean_mm: float = 3.5
    pupil_between_sd_mm: float = 0.5
    pupil_slow_sd_mm: float = 0.2
    pupil_noise_mm: float = 0.02
    eye_separation_mm: float = 63.0
    head_sd_mm: float = 10.0
    stimulus_margin_deg: float = 1.0
    default_on_stimulus_fraction: float = 0.85
    point_refixation_sd_deg: float = 0.15
    central_bias_sd_x: float = 0.469
    central_bias_sd_y: float = 0.315
    saliency_floor: float = 0.1
    ior_strength: float = 0.7
    ior_sd_deg: float = 1.5
    ior_memory: float = 4.0
    saliency_grid: float = 48.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"OculomotorParams.{f.name} must be a finite number, got {value!r}")
            if value < 0:
                raise ValueError(f"OculomotorParams.{f.name} must be >= 0, got {value!r}")
        if self.fixation_min_s <= 0 or self.fixation_max_s <= self.fixation_min_s:
            raise ValueError("need 0 < fixation_min_s < fixation_max_s")
        if self.blink_max_s < self.blink_min_s:
            raise ValueError("need blink_min_s <= blink_max_s")
        if self.saliency_grid < 4 or self.saliency_grid != int(self.saliency_grid):
            raise ValueError("OculomotorParams.saliency_grid must be an integer >= 4")
        if self.ior_memory != int(self.ior_memory):
            raise ValueError("OculomotorParams.ior_memory must be a whole number of fixations")
        for name in ("loss_fraction", "loss_one_eye_fraction", "default_on_stimulus_fraction", "saliency_floor",
                     "ior_strength"):
            if getattr(self, name) > 1:
                raise ValueError(f"OculomotorParams.{name} must be in [0, 1]")
        if self.loss_fraction >= 0.95:
            raise ValueError("OculomotorParams.loss_fraction must be < 0.95")
        for name in ("fixation_median_s", "text_fixation_median_s", "viewing_s", "scene_saccade_mean_deg",
                     "saccade_vmax_deg_s", "saccade_c_deg", "drift_tau_s", "loss_mean_s",
                     "central_bias_sd_x", "central_bias_sd_y", "ior_sd_deg"):
            if getattr(self, name) <= 0:
                raise ValueError(f"OculomotorParams.{name} must be > 0")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Scene:
    """What is on the screen.

    Parameters
    ----------
    kind : str
        One of :data:`SCENE_KINDS`.
    point_px : (float, float), optional
        The point to look at (cross, calibration/validation/drift-check point); defaults
        to the screen centre.
    aoi_px : (left, top, right, bottom), optional
        The image rectangle (stimulus) or the text block (text), screen px.
    stimulus_id : str, optional
        Manifest id of the image shown (stimulus scenes).
    expected_duration_s : float, optional
        How long the scene will be shown, if known; targets are scaled to it (see
        :attr:`OculomotorParams.viewing_s`).
    """

    kind: str
    point_px: tuple[float, float] | None = None
    aoi_px: tuple[float, float, float, float] | None = None
    stimulus_id: str | None = None
    expected_duration_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCENE_KINDS:
            raise ValueError(f"Scene.kind must be one of {SCENE_KINDS}, got {self.kind!r}")
        if self.aoi_px is not None:
            l, t, r, b = self.aoi_px
            if not (r > l and b > t):
                raise ValueError(f"Scene.aoi_px must be (left, top, right, bottom) with right > left, bottom > top, got {self.aoi_px}")


# --------------------------------------------------------------------------------------
# saccade velocity profile: v(tau) ~ (tau (1 - tau))**n on [0, 1]
_N_GRID = np.linspace(1.0, 4.0, 301)
_K_GRID = 0.25 ** _N_GRID / beta_fn(_N_GRID + 1.0, _N_GRID + 1.0)   # peak velocity * D / A, increasing in n


def max_jitter_us(rate_hz: float) -> float:
    """Largest timestamp-jitter SD (us) that keeps a recording at ``rate_hz`` readable.

    Jitter is clipped at +-3 SD, so two neighbouring timestamps can differ from the
    nominal interval ``T`` by up to 6 SD. The readers (``analysis.io``, docs/readers.md,
    "Sampling rate") take intervals shorter than 0.75 T as a stretch at another rate, so
    6 SD must stay below T / 4: the limit is ``T / 24`` (694 us at 60 Hz, 139 us at 300 Hz).
    """
    return 1e6 / float(rate_hz) / 24.0


def profile_exponent(peak_velocity_deg_s: float, amplitude_deg: float, duration_s: float) -> float:
    """Exponent ``n`` of the ``(tau (1 - tau))**n`` velocity profile whose peak is ``Vp``.

    The ratio ``k = Vp * D / A`` of a symmetric profile is ``0.25**n / B(n+1, n+1)``
    (1.5 for ``n = 1``, 1.875 for the minimum-jerk ``n = 2``); ``n`` is limited to [1, 4].
    """
    if amplitude_deg <= 0 or duration_s <= 0:
        return 2.0
    k = peak_velocity_deg_s * duration_s / amplitude_deg
    return float(np.interp(k, _K_GRID, _N_GRID))


def profile_peak_ratio(n: float) -> float:
    """``Vp * D / A`` of the profile with exponent ``n``."""
    return float(0.25 ** n / beta_fn(n + 1.0, n + 1.0))


#: Coding of the participant x method slope: the participant's deviation ``b`` of the log
#: ratio ours / Pix2Pix is split as ``+b/2`` for "ours" and ``-b/2`` for "pix2pix".
METHOD_CONTRAST = {"ours": 0.5, "pix2pix": -0.5}


@dataclass(frozen=True)
class ParticipantEffects:
    """One participant's random effects (log scale) and data quality (docs/simulation.md, "People who differ").

    ``looking`` (intercept, time and count), ``duration`` (mean fixation duration, time
    only), ``method_slope`` (participant x method), ``precision_deg`` (RMS-S2S) and
    ``loss_fraction`` (samples lost outside blinks).
    """

    looking: float
    duration: float
    method_slope: float
    precision_deg: float
    loss_fraction: float


def draw_participant_effects(params: OculomotorParams, rng: np.random.Generator) -> ParticipantEffects:
    """Draw a participant's effects from the population of :class:`OculomotorParams`.

    Intercepts and slope are normal on the log scale with SDs ``participant_looking_sd``,
    ``participant_duration_sd`` and ``participant_method_sd``; precision and data loss are
    lognormal with median ``precision_rms_deg`` and mean ``loss_fraction`` and log SDs
    ``precision_between_log_sd`` and ``loss_between_log_sd`` (loss at most 0.5).
    """
    p = params
    z = rng.normal(0.0, 1.0, size=5)
    return ParticipantEffects(
        looking=float(z[0] * p.participant_looking_sd),
        duration=float(z[1] * p.participant_duration_sd),
        method_slope=float(z[2] * p.participant_method_sd),
        precision_deg=float(p.precision_rms_deg * math.exp(z[3] * p.precision_between_log_sd)),
        loss_fraction=float(min(0.5, p.loss_fraction * math.exp(z[4] * p.loss_between_log_sd
                                                               - p.loss_between_log_sd ** 2 / 2))),
    )


def trial_factors(effects: ParticipantEffects, contrast: float, trial_effect: float,
                  params: OculomotorParams) -> tuple[float, float]:
    """Multiplicative ``(f_time, f_count)`` of one trial; each has expectation 1 over the population.

    ``log f_count = u + c b + e - var_n / 2`` and ``log f_time = log f_count + d - sd_d^2 / 2``
    with ``u`` the looking intercept, ``d`` the duration intercept, ``b`` the method slope
    with contrast ``c`` (:data:`METHOD_CONTRAST`), ``e`` the trial effect and
    ``var_n = sd_u^2 + c^2 sd_b^2 + sd_e^2``, so the expected time and count of a cell are
    its targets (the Table 4 cell means stay on target).
    """
    p = params
    var_n = p.participant_looking_sd ** 2 + (contrast * p.participant_method_sd) ** 2 + p.trial_sd ** 2
    log_n = effects.looking + contrast * effects.method_slope + trial_effect - var_n / 2
    log_t = log_n + effects.duration - p.participant_duration_sd ** 2 / 2
    return float(math.exp(log_t)), float(math.exp(log_n))


def on_image_durations(time_s: float, count: float, f_time: float, f_count: float, params: OculomotorParams,
                       rng: np.random.Generator) -> np.ndarray:
    """Durations (s) of the fixations a trial makes on the image: the one trial-level model.

    ``max(1, Poisson(count * f_count))`` fixations, lognormal with mean
    ``time_s * f_time / (count * f_count)`` (log SD ``fixation_log_sd``, limited to
    ``fixation_min_s``-``fixation_max_s``), so the expected total time and count are
    ``time_s * f_time`` and ``count * f_count``. :class:`GazeModel` plans every stimulus
    trial with it and :func:`trial_level_cohort` uses it alone.
    """
    p = params
    n_on = max(1, int(rng.poisson(count * f_count)))
    mean_dur = time_s * f_time / (count * f_count)
    median = mean_dur * math.exp(-p.fixation_log_sd ** 2 / 2)
    return np.clip(median * np.exp(rng.normal(0.0, p.fixation_log_sd, size=n_on)), p.fixation_min_s, p.fixation_max_s)


def trial_level_cohort(cells: dict[str, tuple[float, float]], methods: dict[str, str], participants: int,
                       params: OculomotorParams, seed: int) -> list[dict[str, Any]]:
    """Simulate a cohort at the level of trial metrics from the gaze model's generating model.

    For each participant (:func:`draw_participant_effects`) and stimulus, a trial effect
    ``N(0, trial_sd)``, :func:`trial_factors` and :func:`on_image_durations` give the true
    total fixation time and count on the image: exactly what :class:`GazeModel` plans for a
    trial, without the scan path, the samples or fixation detection (the fixation carried
    over from the cross is counted as one of the planned fixations, and no trial is cut
    by the end of the viewing time). Used by ``benchmarks/coverage.py``.

    Parameters
    ----------
    cells : dict
        ``stimulus_id -> (expected total fixation time s, expected fixation count)``.
    methods : dict
        ``stimulus_id -> "ours" | "pix2pix"``.
    participants : int
        Number of participants.
    params : OculomotorParams
        Population parameters.
    seed : int
        Seed of the cohort.

    Returns
    -------
    list of dict
        ``participant``, ``stimulus_id``, ``total_fixation_s``, ``fixation_count`` and the
        participant's effects (``looking``, ``duration``, ``method_slope``).
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x7C0E]))
    rows = []
    for i in range(1, participants + 1):
        eff = draw_participant_effects(params, rng)
        for sid in sorted(cells):
            T, N = cells[sid]
            f_t, f_n = trial_factors(eff, METHOD_CONTRAST.get(methods[sid], 0.0), float(rng.normal(0, params.trial_sd)),
                                     params)
            durs = on_image_durations(T, N, f_t, f_n, params, rng)
            rows.append({"participant": f"sub-{i:03d}", "stimulus_id": sid, "total_fixation_s": float(durs.sum()),
                         "fixation_count": int(len(durs)), "looking": eff.looking, "duration": eff.duration,
                         "method_slope": eff.method_slope})
    return rows


def landing_grid(saliency: np.ndarray | None, cells: int) -> np.ndarray:
    """Block-average a saliency map (any size, values >= 0) onto the landing grid, scaled to max 1.

    The grid has ``cells`` cells along the longer side, the other side in proportion;
    ``None`` (no map) gives a uniform grid of ones over a square image.
    """
    if saliency is None:
        return np.ones((int(cells), int(cells)))
    a = np.asarray(saliency, dtype=np.float64)
    h, w = a.shape
    gw = int(cells) if w >= h else max(1, int(round(cells * w / h)))
    gh = int(cells) if h >= w else max(1, int(round(cells * h / w)))
    ys = (np.arange(h) * gh) // h
    xs = (np.arange(w) * gw) // w
    idx = (ys[:, None] * gw + xs[None, :]).ravel()
    sums = np.bincount(idx, weights=a.ravel(), minlength=gh * gw)
    counts = np.bincount(idx, minlength=gh * gw)
    g = (sums / np.maximum(counts, 1)).reshape(gh, gw)
    top = g.max()
    return g / top if top > 0 else np.ones_like(g)


class GazeModel:
    """Simulated participant + Tobii T60-like tracker.

    Parameters
    ----------
    params : OculomotorParams
        Model parameters (see the class for sources).
    seed : int
        Seed of the model's random generator; the same seed and the same sequence of
        :meth:`generate` calls give identical output.
    screen_px : (int, int)
        Display resolution, default Tobii T60 1280 x 1024.
    screen_mm : (float, float)
        Display area size in mm, default T60 338 x 270 mm.
    distance_mm : float
        Eye-to-screen distance, default 650 mm (T60 manual).
    rate_hz : float
        Sampling rate, default 60 Hz (T60).
    targets : dict, optional
        ``stimulus_id -> (expected total fixation time on the image in s, expected
        fixation count on the image)`` for a viewing time of ``params.viewing_s``.
    stimulus_methods : dict, optional
        ``stimulus_id -> "ours" | "pix2pix"``: which stimuli the participant x method slope
        applies to with which sign (:data:`METHOD_CONTRAST`); others get none.
    saliency : dict, optional
        ``stimulus_id -> 2-D array`` (rows = image rows, values >= 0, linear in saliency).
        Stimuli without a map use the central bias alone (:func:`landing_grid`).
    record_truth : bool
        Keep the noise-free gaze of every sample (:attr:`truth_samples`) for the
        ground-truth gaze file.
    """

    def __init__(
        self,
        params: OculomotorParams | None = None,
        *,
        seed: int,
        screen_px: tuple[int, int] = (1280, 1024),
        screen_mm: tuple[float, float] = (338.0, 270.0),
        distance_mm: float = 650.0,
        rate_hz: float = 60.0,
        targets: dict[str, tuple[float, float]] | None = None,
        stimulus_methods: dict[str, str] | None = None,
        saliency: dict[str, np.ndarray] | None = None,
        record_truth: bool = False,
    ) -> None:
        self.params = params if params is not None else OculomotorParams()
        if rate_hz <= 0 or distance_mm <= 0 or min(screen_px) <= 0 or min(screen_mm) <= 0:
            raise ValueError("rate_hz, distance_mm, screen_px and screen_mm must be positive")
        if self.params.jitter_us > max_jitter_us(rate_hz):
            raise ValueError(f"jitter_us {self.params.jitter_us:g} is too large for {rate_hz:g} Hz "
                             f"(at most {max_jitter_us(rate_hz):.0f} us, see max_jitter_us)")
        self.seed = int(seed)
        self.screen_px = (int(screen_px[0]), int(screen_px[1]))
        self.screen_mm = (float(screen_mm[0]), float(screen_mm[1]))
        self.distance_mm = float(distance_mm)
        self.rate_hz = float(rate_hz)
        self.targets = {str(k): (float(v[0]), float(v[1])) for k, v in (targets or {}).items()}
        for sid, (t, n) in self.targets.items():
            if not (t > 0 and n >= 1):
                raise ValueError(f"target for {sid!r} must have time > 0 and count >= 1, got {(t, n)}")
        p = self.params
        self.rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x6A7E]))
        rng = self.rng
        # pixels per degree near the screen centre (used for noise, offsets, amplitudes)
        mm_per_px = self.screen_mm[0] / self.screen_px[0]
        self.px_per_deg = self.distance_mm * math.tan(math.radians(1.0)) / mm_per_px
        self.stimulus_methods = {str(k): str(v) for k, v in (stimulus_methods or {}).items()}
        cells = int(p.saliency_grid)
        self.landing = {str(k): landing_grid(v, cells) for k, v in (saliency or {}).items()}
        self._uniform_landing = landing_grid(None, cells)
        self.record_truth = bool(record_truth)
        #: per generated sample block: (timestamps us, true x px, true y px, blink) when ``record_truth``
        self.truth_samples: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        # participant traits: random effects and data quality (docs/simulation.md, "People who differ")
        self.effects = draw_participant_effects(p, rng)
        # accuracy offsets per eye (Rayleigh magnitude with mean accuracy_deg)
        scale = p.accuracy_deg / math.sqrt(math.pi / 2)
        mags = rng.rayleigh(scale, size=2) if scale > 0 else np.zeros(2)
        angs = rng.uniform(0, 2 * math.pi, size=2)
        self.offset_deg = np.stack([mags * np.cos(angs), mags * np.sin(angs)], axis=1)  # (eye, xy)
        self.pupil_base = float(max(2.0, rng.normal(p.pupil_mean_mm, p.pupil_between_sd_mm)))
        self.pupil_eye_diff = float(rng.normal(0, 0.1))
        # continuous state
        self._scene: Scene | None = None
        self._pos = (self.screen_px[0] / 2.0, self.screen_px[1] / 2.0)  # where the eye rests at the end of the plan
        self._plan: list[dict[str, Any]] = []     # chronological events; last one ends at _plan_end
        self._plan_end: int | None = None
        self._next_event_id = 1
        self._next_blink: int | None = None
        self._loss: list[tuple[int, int, int]] = []  # (start, end, which: 0 both, 1 left, 2 right)
        self._loss_until: int | None = None
        self._slow_t0: int | None = None          # 1 s grid of slow processes (drift, pupil, head)
        self._slow: np.ndarray = np.zeros((0, 6))  # drift x, drift y (deg), pupil (mm), head x, y, z (mm)
        self._grid_anchor: int | None = None
        self._next_k = 0
        self._jit = np.zeros(0)
        self._jit_k0 = 0
        self._scene_change_us = 0
        self._queue: list[tuple[None, float, bool]] = []
        self._scene_fixations: list[tuple[float, float]] = []   # fixation positions on the current scene (IOR)
        #: one dict per stimulus scene with a target: what was planned (ground truth)
        self.plans: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ public API
    def participant_traits(self) -> dict[str, float]:
        """The participant's drawn traits (for the ground-truth parameter file)."""
        e = self.effects
        return {
            "looking": e.looking,
            "duration": e.duration,
            "method_slope": e.method_slope,
            "precision_deg": e.precision_deg,
            "loss_fraction": e.loss_fraction,
            "offset_left_x_deg": float(self.offset_deg[0, 0]),
            "offset_left_y_deg": float(self.offset_deg[0, 1]),
            "offset_right_x_deg": float(self.offset_deg[1, 0]),
            "offset_right_y_deg": float(self.offset_deg[1, 1]),
            "pupil_mm": self.pupil_base,
        }

    def generate(self, t0_us: int, duration_s: float, scene: Scene) -> tuple[dict[str, np.ndarray], list[dict]]:
        """Samples and true events of the window ``[t0_us, t0_us + duration_s)``.

        Parameters
        ----------
        t0_us : int
            Window start on the tracker clock (us). Windows should be contiguous and
            increasing; a later window that skips time simply has no samples there.
        duration_s : float
            Window length (s), >= 0.
        scene : Scene
            What is on screen during the window. A scene different from the previous
            call's starts a new scan path at ``t0_us`` (after the saccadic latency).

        Returns
        -------
        samples : dict of str -> numpy.ndarray
            :data:`SAMPLE_KEYS`, one entry per sample whose timestamp lies in the window.
        events : list of dict
            True events overlapping the window, clipped to it: ``event_id``, ``type``
            (fixation | saccade | blink), ``onset_us``, ``offset_us`` (exclusive),
            ``x_px``/``y_px`` (fixation position; saccade landing point), ``start_x_px``,
            ``start_y_px`` (saccades), ``amplitude_deg``, ``peak_velocity_deg_s``,
            ``on_stimulus`` (bool), ``stimulus_id``, ``scene_kind``, ``planned_onset_us``,
            ``planned_offset_us`` (the unclipped event).
        """
        t0 = int(t0_us)
        if duration_s < 0:
            raise ValueError("duration_s must be >= 0")
        t1 = t0 + int(round(duration_s * 1e6))
        if self._grid_anchor is None:
            self._grid_anchor = t0
            self._next_blink = t0 + self._blink_gap()
            self._loss_until = t0
            self._slow_t0 = t0
            self._slow = self._slow_initial()
            self._plan_end = t0
        if _scene_key(scene) != _scene_key(self._scene):
            self._change_scene(t0, scene)
        self._extend_plan(t1)
        self._extend_loss(t1)
        self._extend_slow(t1)
        samples = self._samples(t0, t1)
        events = self._events_in(t0, t1)
        self._prune(t0)
        return samples, events

    # ------------------------------------------------------------------ scan path planning
    def _lognormal(self, median: float, n: int | None = None) -> np.ndarray | float:
        p = self.params
        x = median * np.exp(self.rng.normal(0.0, p.fixation_log_sd, size=n))
        return np.clip(x, p.fixation_min_s, p.fixation_max_s)

    def _blink_gap(self) -> int:
        rate = self.params.blink_rate_per_min / 60.0
        return int(self.rng.exponential(1.0 / rate) * 1e6) if rate > 0 else 2 ** 62

    def _new_id(self) -> int:
        i = self._next_event_id
        self._next_event_id += 1
        return i

    def _change_scene(self, t: int, scene: Scene) -> None:
        """Cut the plan at ``t`` + latency: the current fixation (or movement) finishes, then the new scene starts."""
        p = self.params
        latency = int(max(0.08, self.rng.normal(p.saccade_latency_s, p.latency_sd_s)) * 1e6)
        t_new = t + latency
        min_fix = int(p.fixation_min_s * 1e6)
        keep = [ev for ev in self._plan if ev["onset_us"] < t_new]
        old = self._scene
        if keep and keep[-1]["type"] == "fixation":
            last = keep[-1]
            # the fixation in progress ends at the end of the latency (never shorter than the minimum)
            last["offset_us"] = max(t_new, last["onset_us"] + min_fix)
            self._pos = (last["x_px"], last["y_px"])
            end = last["offset_us"]
        else:
            if keep:   # a saccade or blink in progress finishes first
                last = keep[-1]
                end = last["offset_us"]
                self._pos = (last["x_px"], last["y_px"])
            else:
                end = self._plan_end if self._plan_end is not None else t
            if end < t_new:   # then the eye rests where it is until the latency is over
                hold_end = max(t_new, end + min_fix)
                keep.append(self._fixation(end, hold_end, self._pos, old, on_stimulus=self._on_stim_flag(old, self._pos)))
                end = hold_end
        self._plan = keep
        self._plan_end = end
        self._scene = scene
        self._scene_change_us = t
        self._scene_fixations = [self._pos]
        self._queue = self._plan_scene(scene, end)

    def _on_stim_flag(self, scene: Scene | None, pos: tuple[float, float]) -> bool:
        if scene is None or scene.kind != "stimulus" or scene.aoi_px is None:
            return False
        l, t, r, b = scene.aoi_px
        return bool(l <= pos[0] <= r and t <= pos[1] <= b)

    def _target_region(self, scene: Scene, inside: bool) -> tuple[float, float, float, float]:
        W, H = self.screen_px
        m = self.params.stimulus_margin_deg * self.px_per_deg
        if scene.aoi_px is None:
            return (0.0, 0.0, float(W), float(H))
        l, t, r, b = scene.aoi_px
        if inside:
            if r - l > 2 * m and b - t > 2 * m:
                return (l + m, t + m, r - m, b - m)
            cx, cy = (l + r) / 2, (t + b) / 2
            return (cx - 1, cy - 1, cx + 1, cy + 1)
        return (l - m, t - m, r + m, b + m)   # excluded rectangle for off-image fixations

    def _sample_inside(self, region: tuple[float, float, float, float], start: tuple[float, float]) -> tuple[float, float]:
        l, t, r, b = region
        mean_px = self.params.scene_saccade_mean_deg * self.px_per_deg
        amp = self.rng.gamma(2.0, mean_px / 2.0, size=24)
        ang = self.rng.uniform(0, 2 * np.pi, size=24)
        x = start[0] + amp * np.cos(ang)
        y = start[1] + amp * np.sin(ang)
        ok = (x >= l) & (x <= r) & (y >= t) & (y <= b)
        if ok.any():
            i = int(np.argmax(ok))
            return float(x[i]), float(y[i])
        return float(self.rng.uniform(l, r)), float(self.rng.uniform(t, b))

    def _sample_on_image(self, scene: Scene) -> tuple[float, float]:
        """Landing point of the next fixation on the image (docs/simulation.md, "Where the eyes go").

        A cell of the landing grid over the image is drawn with weight
        ``(floor + (1 - floor) * saliency) * central bias * exp(-r / theta) * IOR``, where
        ``r`` is the distance from the current gaze position in degrees and
        ``theta = scene_saccade_mean_deg / 2`` (``exp(-r / theta)`` per unit area is a gamma
        amplitude density with shape 2 and that mean), then a point uniformly inside the
        cell; only cells inside the stimulus margin are eligible.
        """
        p = self.params
        assert scene.aoi_px is not None
        l, t, r, b = scene.aoi_px
        region = self._target_region(scene, True)
        g = self.landing.get(str(scene.stimulus_id), self._uniform_landing)
        gh, gw = g.shape
        cw, ch = (r - l) / gw, (b - t) / gh
        xc = l + (np.arange(gw) + 0.5) * cw
        yc = t + (np.arange(gh) + 0.5) * ch
        half_w = (r - l) / 2.0
        dx = ((xc - (l + r) / 2.0) / half_w)[None, :]
        dy = ((yc - (t + b) / 2.0) / half_w)[:, None]
        w = (p.saliency_floor + (1.0 - p.saliency_floor) * g) * np.exp(
            -dx ** 2 / (2 * p.central_bias_sd_x ** 2) - dy ** 2 / (2 * p.central_bias_sd_y ** 2))
        theta = p.scene_saccade_mean_deg / 2.0 * self.px_per_deg
        x0, y0 = self._pos
        w = w * np.exp(-np.hypot(xc[None, :] - x0, yc[:, None] - y0) / theta)
        if p.ior_strength > 0 and p.ior_memory >= 1:
            sd2 = 2.0 * (p.ior_sd_deg * self.px_per_deg) ** 2
            for qx, qy in self._scene_fixations[-int(p.ior_memory):]:   # a few past fixations, not samples
                w = w * (1.0 - p.ior_strength * np.exp(-((xc[None, :] - qx) ** 2 + (yc[:, None] - qy) ** 2) / sd2))
        rl, rt, rr, rb = region
        w = w * (((xc >= rl) & (xc <= rr))[None, :] & ((yc >= rt) & (yc <= rb))[:, None])
        total = float(w.sum())
        if not total > 0:
            return self._sample_inside(region, self._pos)
        k = int(self.rng.choice(w.size, p=(w / total).ravel()))
        i, j = divmod(k, gw)
        x = float(np.clip(xc[j] + self.rng.uniform(-0.5, 0.5) * cw, rl, rr))
        y = float(np.clip(yc[i] + self.rng.uniform(-0.5, 0.5) * ch, rt, rb))
        return x, y

    def _sample_outside(self, excl: tuple[float, float, float, float], start: tuple[float, float]) -> tuple[float, float]:
        W, H = self.screen_px
        edge = 0.5 * self.px_per_deg
        xs = self.rng.uniform(edge, W - edge, size=64)
        ys = self.rng.uniform(edge, H - edge, size=64)
        l, t, r, b = excl
        ok = ~((xs >= l) & (xs <= r) & (ys >= t) & (ys <= b))
        if ok.any():
            # prefer points near the image: pick the closest of the first few valid ones
            idx = np.flatnonzero(ok)[:6]
            cx, cy = (l + r) / 2, (t + b) / 2
            d = np.hypot(xs[idx] - cx, ys[idx] - cy)
            i = idx[int(np.argmin(d))]
            return float(xs[i]), float(ys[i])
        return float(edge), float(edge)

    def scaled_target(self, scene: Scene) -> tuple[float, float] | None:
        """The (time, count) target of a stimulus scene after duration scaling, or ``None``."""
        if scene.kind != "stimulus" or scene.stimulus_id not in self.targets:
            return None
        T, N = self.targets[scene.stimulus_id]
        expected = getattr(scene, "expected_duration_s", None)
        if expected is not None and expected > 0:
            s = min(1.0, expected / self.params.viewing_s)
            T, N = T * s, N * s
        return T, N

    def _plan_scene(self, scene: Any, start: int) -> list[tuple[None, float, bool]]:
        """A queue of fixations (position chosen later, duration, on_stimulus) for a stimulus with a target.

        The fixation in progress when the image appears continues for the saccadic latency
        and, when it lies on the image, is counted by an interval-clipping metric (Tobii Pro
        Lab's): its expected clipped duration (the latency) and its count of one are taken
        off the target so the *expected* total time and count on the image, as the
        analysis measures them, equal the target.
        """
        p = self.params
        target = self.scaled_target(scene)
        if target is None:
            return []
        T, N = target
        carried = self._on_stim_flag(scene, self._pos)
        carried_s = (start - self._scene_change_us) / 1e6 if carried else 0.0
        T_plan = max(T - carried_s, 0.5 * T) if carried else T
        N_plan = max(N - 1.0, 0.5 * N) if carried else N
        contrast = METHOD_CONTRAST.get(self.stimulus_methods.get(str(scene.stimulus_id), ""), 0.0)
        trial_effect = float(self.rng.normal(0.0, p.trial_sd))
        f_time, f_count = trial_factors(self.effects, contrast, trial_effect, p)
        durs_on = on_image_durations(T_plan, N_plan, f_time, f_count, p, self.rng)
        n_on = len(durs_on)
        mean_dur = T_plan * f_time / (N_plan * f_count)
        expected = getattr(scene, "expected_duration_s", None)
        horizon = (expected or p.viewing_s) - (start - self._scene_change_us) / 1e6
        sacc_est = (p.saccade_slope_ms_per_deg * p.scene_saccade_mean_deg + p.saccade_intercept_ms) / 1000
        blink_est = p.blink_rate_per_min / 60 * horizon * (p.blink_min_s + p.blink_max_s) / 2
        remaining = horizon - float(durs_on.sum()) - n_on * sacc_est - blink_est
        off_unit = p.fixation_median_s * math.exp(p.fixation_log_sd ** 2 / 2) + sacc_est
        n_off = max(0, int(remaining // off_unit)) if remaining > 0 else 0
        durs_off = np.atleast_1d(self._lognormal(p.fixation_median_s, n_off)) if n_off else np.zeros(0)
        flags = np.concatenate([np.ones(n_on, bool), np.zeros(n_off, bool)])
        durs = np.concatenate([durs_on, durs_off])
        order = self.rng.permutation(len(flags))
        # the first fixation on a newly shown image lands on the image
        first_on = int(np.flatnonzero(flags[order])[0])
        order[[0, first_on]] = order[[first_on, 0]]
        self.plans.append({
            "stimulus_id": scene.stimulus_id, "scene_onset_us": int(self._scene_change_us),
            "target_time_s": T, "target_count": N, "carried_fixation": bool(carried),
            "trial_effect": trial_effect, "f_time": f_time, "f_count": f_count,
            "n_on_planned": n_on, "n_off_planned": n_off, "mean_duration_on_s": mean_dur,
            "total_on_planned_s": float(durs_on.sum()), "horizon_s": horizon,
        })
        return [(None, float(durs[i]), bool(flags[i])) for i in order]

    def _next_fixation_spec(self) -> tuple[tuple[float, float], float, bool]:
        """Position, duration and on-stimulus flag of the next fixation in the current scene."""
        p = self.params
        scene = self._scene
        assert scene is not None
        W, H = self.screen_px
        if scene.kind == "stimulus":
            if self._queue:
                _, dur, on = self._queue.pop(0)
            else:
                on = bool(self.rng.random() < p.default_on_stimulus_fraction) if scene.aoi_px is not None else True
                dur = float(self._lognormal(p.fixation_median_s))
            if scene.aoi_px is None:
                pos = self._sample_inside(self._target_region(scene, True), self._pos)
            elif on:
                pos = self._sample_on_image(scene)
            else:
                pos = self._sample_outside(self._target_region(scene, False), self._pos)
            return pos, dur, bool(on and scene.aoi_px is not None)
        if scene.kind in ("cross", "calibration_point"):
            cx, cy = scene.point_px if scene.point_px is not None else (W / 2, H / 2)
            if math.hypot(self._pos[0] - cx, self._pos[1] - cy) > 1.0 * self.px_per_deg:
                pos = (cx, cy)   # land on the point
            else:             # microsaccadic re-fixations around the point
                sd = p.point_refixation_sd_deg * self.px_per_deg
                pos = (float(cx + self.rng.normal(0, sd)), float(cy + self.rng.normal(0, sd)))
            return pos, float(self._lognormal(p.fixation_median_s * 2.0)), False
        if scene.kind == "text":
            l, t, r, b = scene.aoi_px if scene.aoi_px is not None else (W * 0.15, H * 0.35, W * 0.85, H * 0.65)
            line_h = 1.0 * self.px_per_deg
            step = 2.0 * self.px_per_deg   # about 7-9 letters (Rayner 2009)
            x, y = self._pos
            if not (l <= x <= r and t <= y <= b):
                x, y = l, t
            else:
                x = x + step * float(self.rng.uniform(0.6, 1.4))
                if x > r:
                    x, y = l, y + line_h
                    if y > b:
                        y = t
            return (float(x), float(y)), float(self._lognormal(p.text_fixation_median_s)), False
        # blank: wander around the centre
        sd = 2.0 * self.px_per_deg
        pos = (float(np.clip(W / 2 + self.rng.normal(0, sd), 0, W - 1)), float(np.clip(H / 2 + self.rng.normal(0, sd), 0, H - 1)))
        return pos, float(self._lognormal(p.fixation_median_s)), False

    def _angle_deg(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        sx = self.screen_mm[0] / self.screen_px[0]
        sy = self.screen_mm[1] / self.screen_px[1]
        ex, ey, ez = self.screen_mm[0] / 2, self.screen_mm[1] / 2, self.distance_mm
        v1 = np.array([a[0] * sx - ex, a[1] * sy - ey, -ez])
        v2 = np.array([b[0] * sx - ex, b[1] * sy - ey, -ez])
        return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(v1, v2)), v1 @ v2)))

    def _fixation(self, on: int, off: int, pos: tuple[float, float], scene: Scene | None, *, on_stimulus: bool) -> dict[str, Any]:
        return {"event_id": self._new_id(), "type": "fixation", "onset_us": int(on), "offset_us": int(off),
                "x_px": float(pos[0]), "y_px": float(pos[1]), "start_x_px": float(pos[0]), "start_y_px": float(pos[1]),
                "amplitude_deg": 0.0, "peak_velocity_deg_s": 0.0, "n": 2.0, "on_stimulus": bool(on_stimulus),
                "stimulus_id": scene.stimulus_id if scene is not None else None,
                "scene_kind": scene.kind if scene is not None else "none"}

    def _extend_plan(self, t_end: int) -> None:
        """Append saccade -> (blink) -> fixation steps until the plan covers ``t_end``."""
        p = self.params
        assert self._plan_end is not None
        while self._plan_end < t_end:
            pos, dur, on = self._next_fixation_spec()
            t = self._plan_end
            amp = self._angle_deg(self._pos, pos)
            if amp > 0.05:
                d_ms = p.saccade_slope_ms_per_deg * amp + p.saccade_intercept_ms
                d_us = int(round(d_ms * 1000))
                vp = p.saccade_vmax_deg_s * (1 - math.exp(-amp / p.saccade_c_deg))
                n = profile_exponent(vp, amp, d_ms / 1000)
                self._plan.append({"event_id": self._new_id(), "type": "saccade", "onset_us": t, "offset_us": t + d_us,
                                   "x_px": pos[0], "y_px": pos[1], "start_x_px": self._pos[0], "start_y_px": self._pos[1],
                                   "amplitude_deg": amp, "peak_velocity_deg_s": profile_peak_ratio(n) * amp / (d_ms / 1000),
                                   "n": n, "on_stimulus": False, "stimulus_id": self._scene.stimulus_id,
                                   "scene_kind": self._scene.kind})
                t += d_us
            self._pos = pos
            self._scene_fixations.append(pos)
            f_us = max(1, int(round(dur * 1e6)))
            self._plan.append(self._fixation(t, t + f_us, pos, self._scene, on_stimulus=on))
            t += f_us
            assert self._next_blink is not None
            if self._next_blink < t:
                b_us = int(round(self.rng.uniform(p.blink_min_s, p.blink_max_s) * 1e6))
                self._plan.append({"event_id": self._new_id(), "type": "blink", "onset_us": t, "offset_us": t + b_us,
                                   "x_px": pos[0], "y_px": pos[1], "start_x_px": pos[0], "start_y_px": pos[1],
                                   "amplitude_deg": 0.0, "peak_velocity_deg_s": 0.0, "n": 2.0, "on_stimulus": False,
                                   "stimulus_id": self._scene.stimulus_id, "scene_kind": self._scene.kind})
                t += b_us
                self._next_blink = t + self._blink_gap()
            self._plan_end = t

    # ------------------------------------------------------------------ tracker processes
    def _extend_loss(self, t_end: int) -> None:
        p = self.params
        assert self._loss_until is not None
        loss = self.effects.loss_fraction
        if loss <= 0 or p.loss_mean_s <= 0:
            self._loss_until = max(self._loss_until, t_end)
            return
        mean_len = p.loss_mean_s * 1e6
        mean_gap = mean_len * (1 - loss) / loss
        while self._loss_until < t_end:
            start = self._loss_until + int(self.rng.exponential(mean_gap))
            length = max(1, int(self.rng.exponential(mean_len)))
            if self.rng.random() < p.loss_one_eye_fraction:
                which = 1 + int(self.rng.random() < 0.5)
            else:
                which = 0
            self._loss.append((start, start + length, which))
            self._loss_until = start + length

    def _slow_initial(self) -> np.ndarray:
        p = self.params
        return np.array([[self.rng.normal(0, p.drift_sd_deg), self.rng.normal(0, p.drift_sd_deg),
                          self.rng.normal(0, p.pupil_slow_sd_mm), self.rng.normal(0, p.head_sd_mm),
                          self.rng.normal(0, p.head_sd_mm), self.rng.normal(0, p.head_sd_mm)]])

    def _extend_slow(self, t_end: int) -> None:
        p = self.params
        assert self._slow_t0 is not None
        need = (t_end - self._slow_t0) // 1_000_000 + 2
        sds = np.array([p.drift_sd_deg, p.drift_sd_deg, p.pupil_slow_sd_mm, p.head_sd_mm, p.head_sd_mm, p.head_sd_mm])
        taus = np.array([p.drift_tau_s, p.drift_tau_s, 10.0, 20.0, 20.0, 20.0])
        while len(self._slow) < need:
            last = self._slow[-1]
            a = np.exp(-1.0 / taus)
            nxt = last * a + self.rng.normal(0, 1, size=6) * sds * np.sqrt(1 - a * a)
            self._slow = np.vstack([self._slow, nxt])

    # ------------------------------------------------------------------ samples
    def _jitter(self, ks: np.ndarray) -> np.ndarray:
        """Timestamp jitter (us) of grid samples ``ks`` (drawn once per sample index, in order)."""
        p = self.params
        period = 1e6 / self.rate_hz
        need = int(ks.max()) + 1 - self._jit_k0 if len(ks) else 0
        while len(self._jit) < need:
            block = self.rng.normal(0, p.jitter_us, size=4096) if p.jitter_us > 0 else np.zeros(4096)
            block = np.clip(block, -3 * p.jitter_us, 3 * p.jitter_us)
            self._jit = np.concatenate([self._jit, np.clip(block, -0.45 * period, 0.45 * period)])
        return self._jit[ks - self._jit_k0]

    def _samples(self, t0: int, t1: int) -> dict[str, np.ndarray]:
        p = self.params
        assert self._grid_anchor is not None
        period = 1e6 / self.rate_hz
        k_lo = max(self._next_k, int(math.floor((t0 - self._grid_anchor) / period)) - 1)
        k_hi = max(k_lo, int(math.ceil((t1 - self._grid_anchor) / period)) + 1)
        ks = np.arange(k_lo, k_hi, dtype=np.int64)
        ts = self._grid_anchor + np.round(ks * period + self._jitter(ks)).astype(np.int64)
        sel = (ts >= t0) & (ts < t1)
        ks, ts = ks[sel], ts[sel]
        n = len(ks)
        if n:
            self._next_k = int(ks[-1]) + 1
            # free jitter values that can no longer be used
            drop = self._next_k - 2 - self._jit_k0
            if drop > 8192:
                self._jit = self._jit[drop:]
                self._jit_k0 += drop
        # true gaze from the plan
        x, y, blink = self._true_gaze(ts)
        if self.record_truth and n:
            self.truth_samples.append((ts.copy(), x.copy(), y.copy(), blink.copy()))
        # slow processes interpolated from the 1 s grid
        assert self._slow_t0 is not None
        g = (ts - self._slow_t0) / 1e6
        gi = np.arange(len(self._slow), dtype=float)
        slow = np.stack([np.interp(g, gi, self._slow[:, j]) for j in range(6)], axis=1) if n else np.zeros((0, 6))
        out: dict[str, np.ndarray] = {
            "system_time_stamp": ts,
            "device_time_stamp": ts - np.int64(self._grid_anchor) + np.int64(1_000_000),
        }
        sigma = self.effects.precision_deg / 2.0 * self.px_per_deg
        W, H = self.screen_px
        lost_both, lost_eye = self._loss_masks(ts)
        sep = p.eye_separation_mm / 2
        for e, eye in enumerate(("left", "right")):
            ox = (self.offset_deg[e, 0] + slow[:, 0]) * self.px_per_deg
            oy = (self.offset_deg[e, 1] + slow[:, 1]) * self.px_per_deg
            gx = x + ox + self.rng.normal(0, sigma, size=n)
            gy = y + oy + self.rng.normal(0, sigma, size=n)
            valid = ~(blink | lost_both | lost_eye[e])
            gxn = np.where(valid, gx / W, np.nan)
            gyn = np.where(valid, gy / H, np.nan)
            pupil = self.pupil_base + (self.pupil_eye_diff if e else 0.0) + slow[:, 2] + self.rng.normal(0, p.pupil_noise_mm, size=n)
            # gaze origin in Tobii user coordinates (mm): origin at the centre of the tracker's
            # front panel below the display, x right, y up, z towards the user.
            ux = (-sep if e == 0 else sep) + slow[:, 3]
            uy = self.screen_mm[1] / 2 + 20.0 + slow[:, 4]
            uz = self.distance_mm + slow[:, 5]
            out[f"{eye}_gaze_point_on_display_area_x"] = gxn
            out[f"{eye}_gaze_point_on_display_area_y"] = gyn
            out[f"{eye}_gaze_point_valid"] = valid.copy()
            out[f"{eye}_pupil_diameter"] = np.where(valid, pupil, np.nan)
            out[f"{eye}_pupil_valid"] = valid.copy()
            out[f"{eye}_gaze_origin_in_user_coordinates_x"] = np.where(valid, ux, np.nan)
            out[f"{eye}_gaze_origin_in_user_coordinates_y"] = np.where(valid, uy, np.nan)
            out[f"{eye}_gaze_origin_in_user_coordinates_z"] = np.where(valid, uz, np.nan)
            out[f"{eye}_gaze_origin_valid"] = valid.copy()
        return {k: out[k] for k in SAMPLE_KEYS}

    def _loss_masks(self, ts: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        both = np.zeros(len(ts), bool)
        eyes = [np.zeros(len(ts), bool), np.zeros(len(ts), bool)]
        if not len(ts) or not self._loss:
            return both, eyes
        arr = np.array(self._loss, dtype=np.int64)
        for which, mask in ((0, both), (1, eyes[0]), (2, eyes[1])):
            sel = arr[arr[:, 2] == which]
            if not len(sel):
                continue
            i = np.searchsorted(sel[:, 0], ts, side="right") - 1
            ok = i >= 0
            mask[ok] = ts[ok] < sel[i[ok], 1]
        return both, eyes

    def _true_gaze(self, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(ts)
        x = np.full(n, self._pos[0])
        y = np.full(n, self._pos[1])
        blink = np.zeros(n, bool)
        if not n or not self._plan:
            return x, y, blink
        on = np.array([e["onset_us"] for e in self._plan], dtype=np.int64)
        off = np.array([e["offset_us"] for e in self._plan], dtype=np.int64)
        kind = np.array([{"fixation": 0, "saccade": 1, "blink": 2}[e["type"]] for e in self._plan])
        ex = np.array([e["x_px"] for e in self._plan])
        ey = np.array([e["y_px"] for e in self._plan])
        sx = np.array([e["start_x_px"] for e in self._plan])
        sy = np.array([e["start_y_px"] for e in self._plan])
        nn = np.array([e["n"] for e in self._plan])
        i = np.clip(np.searchsorted(on, ts, side="right") - 1, 0, len(on) - 1)
        before = ts < on[0]
        x = ex[i].copy()
        y = ey[i].copy()
        x[before] = sx[0]
        y[before] = sy[0]
        sac = (kind[i] == 1) & ~before
        if sac.any():
            j = i[sac]
            tau = np.clip((ts[sac] - on[j]) / np.maximum(off[j] - on[j], 1), 0.0, 1.0)
            frac = betainc(nn[j] + 1.0, nn[j] + 1.0, tau)
            x[sac] = sx[j] + (ex[j] - sx[j]) * frac
            y[sac] = sy[j] + (ey[j] - sy[j]) * frac
        blink = (kind[i] == 2) & ~before & (ts < off[i])
        return x, y, blink

    def _events_in(self, t0: int, t1: int) -> list[dict]:
        out = []
        for ev in self._plan:
            if ev["offset_us"] <= t0 or ev["onset_us"] >= t1:
                continue
            piece = {k: v for k, v in ev.items() if k != "n"}
            piece["planned_onset_us"] = ev["onset_us"]
            piece["planned_offset_us"] = ev["offset_us"]
            piece["onset_us"] = max(ev["onset_us"], t0)
            piece["offset_us"] = min(ev["offset_us"], t1)
            out.append(piece)
        return out

    def _prune(self, t0: int) -> None:
        # keep events that may still be cut or sampled: those ending after t0 minus a margin
        margin = 5_000_000
        self._plan = [e for e in self._plan if e["offset_us"] > t0 - margin]
        if len(self._loss) > 64:
            self._loss = [l for l in self._loss if l[1] > t0 - margin]


def _scene_key(scene: Any) -> tuple | None:
    """Identity of a scene (works for :class:`Scene` and for ``study.trackers.base.Scene``)."""
    if scene is None:
        return None
    point = getattr(scene, "point_px", None)
    aoi = getattr(scene, "aoi_px", None)
    return (scene.kind, None if point is None else tuple(float(v) for v in point),
            None if aoi is None else tuple(float(v) for v in aoi), getattr(scene, "stimulus_id", None))


def merge_event_pieces(pieces: list[dict]) -> list[dict]:
    """Join the window-clipped pieces returned by :meth:`GazeModel.generate` by ``event_id``.

    The merged event spans the union of its pieces (the first onset, the last offset);
    the result is sorted by onset.
    """
    merged: dict[int, dict] = {}
    for p in pieces:
        eid = int(p["event_id"])
        if eid in merged:
            m = merged[eid]
            m["onset_us"] = min(m["onset_us"], p["onset_us"])
            m["offset_us"] = max(m["offset_us"], p["offset_us"])
            m["planned_offset_us"] = p["planned_offset_us"]   # a later cut may shorten the plan
        else:
            merged[eid] = dict(p)
    return sorted(merged.values(), key=lambda e: (e["onset_us"], e["event_id"]))
