"""Per-participant trial order: randomised, reproducible, balanced version order.

Design (issue spec; Wei Pu 2025 shows all 18 images to all 50 participants):

* every participant sees every stimulus once;
* the order is random per participant, drawn from a seed derived from the study seed
  and the participant number (so it is reproducible and recorded);
* the two versions of one artwork are never consecutive;
* for each artwork, which version comes first is ``ours`` when
  ``(participant_number + artwork_index) % 2 == 0``: participant parity balances every
  artwork exactly over any run of consecutive participant numbers (25/25 over 1..50),
  and the artwork index makes each participant see ``ours`` first for about half of
  the artworks (5 or 4 of 9), so method is not confounded with position.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from study.errors import StudyError
from study.manifest import Stimulus

#: Participant label: ``sub-`` + BIDS label characters (BIDS 1.10 "Entities": ``[a-zA-Z0-9]+``),
#: checked with :func:`re.fullmatch` (``$`` in ``re.match`` would accept ``"sub-01\n"``).
PARTICIPANT_RE = re.compile(r"sub-[A-Za-z0-9]+")

#: Longest accepted ``sub-``/``ses-``/``task-`` label (default: 64 characters): far below the
#: 255-byte file-name limit of common file systems even inside the longest BIDS file name
#: (``sub-X_ses-Y_task-Z_recording-eye1_physio.json``), and far above any real pseudonym.
MAX_LABEL_CHARS = 64


def check_label(value: object, pattern: re.Pattern[str], *, what: str, option: str, example: str) -> str:
    """Refuse an identifier that does not fully match ``pattern`` or is longer than :data:`MAX_LABEL_CHARS`.

    The message shows the value with ``ascii()`` so that a control character
    (``"sub-01\n"``) is visible, and never echoes more than 80 characters of it.
    """
    shown = ascii(value) if len(ascii(value)) <= 80 else ascii(value)[:77] + "..."
    if not isinstance(value, str):
        raise StudyError(f"{what} {shown} is not text", column=option, expected=example)
    if len(value) > MAX_LABEL_CHARS:
        raise StudyError(f"{what} is {len(value)} characters long", column=option,
                         expected=f"at most {MAX_LABEL_CHARS} characters, e.g. {example}",
                         fix="use a short pseudonym/label")
    if pattern.fullmatch(value) is None:
        raise StudyError(f"{what} {shown} is not a valid label", column=option,
                         expected=f"{pattern.pattern} (letters and digits only, no spaces, newlines or path "
                                  f"characters), e.g. {example}",
                         fix=f"use e.g. {option} {example}")
    return value


def check_participant(label: str) -> str:
    """Validate a participant label: full match of ``sub-[A-Za-z0-9]+``, at most 64 characters."""
    try:
        return check_label(label, PARTICIPANT_RE, what="participant id", option="--participant", example="sub-07")
    except StudyError as exc:
        exc.expected = (exc.expected or "") + " (BIDS; a pseudonym, never a name)"
        exc.fix = "use the pseudonym from the participant key list, e.g. --participant sub-07"
        raise


def participant_number(label: str) -> int:
    """The number used for counterbalancing: the digits of the label (``sub-07`` -> 7).

    Labels without digits map to a stable number from their SHA-256 (balance is then
    not guaranteed; use numbered pseudonyms).
    """
    check_participant(label)
    digits = re.findall(r"\d+", label[4:])
    if digits:
        return int(digits[-1])
    return int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)


def participant_seed(study_seed: int, number: int) -> int:
    """Per-participant seed (recorded in the planned order)."""
    h = hashlib.sha256(f"{study_seed}:{number}".encode()).hexdigest()
    return int(h[:12], 16)


@dataclass(frozen=True)
class PlannedTrial:
    """One planned trial (1-based ``trial``)."""

    trial: int
    stimulus_id: str
    artwork: str
    method: str


def plan_order(stimuli: list[Stimulus], participant: str, study_seed: int, n_trials: int = 0) -> tuple[list[PlannedTrial], int]:
    """Plan the trial order of one participant.

    Parameters
    ----------
    stimuli : list of Stimulus
        Manifest rows (each artwork in both versions).
    participant : str
        ``sub-XX`` label.
    study_seed : int
        ``[study] seed`` of the config.
    n_trials : int
        0 = all; otherwise the first ``n_trials`` of the full order.

    Returns
    -------
    (list of PlannedTrial, int)
        The order and the per-participant seed it was drawn from.
    """
    number = participant_number(participant)
    seed = participant_seed(study_seed, number)
    rng = np.random.default_rng(seed)
    artworks = sorted({s.artwork for s in stimuli})
    if len(artworks) < 2:
        raise StudyError("need at least two artworks to keep versions of one artwork apart", column="manifest")
    by_key = {(s.artwork, s.method): s for s in stimuli}
    labels = np.repeat(np.arange(len(artworks)), 2)
    for _ in range(100000):
        seq = rng.permutation(labels)
        if not np.any(seq[1:] == seq[:-1]):
            break
    else:  # pragma: no cover - probability ~ (1 - 0.3)^100000
        raise RuntimeError("could not draw an order without consecutive versions")
    seen: set[int] = set()
    order: list[PlannedTrial] = []
    for k, a in enumerate(seq.tolist(), start=1):
        ours_first = (number + a) % 2 == 0
        first = "ours" if ours_first else "pix2pix"
        second = "pix2pix" if ours_first else "ours"
        method = second if a in seen else first
        seen.add(a)
        s = by_key[(artworks[a], method)]
        order.append(PlannedTrial(k, s.stimulus_id, s.artwork, s.method))
    if n_trials:
        order = order[:n_trials]
    return order, seed
