"""Checkpoint files: save, load, and the generator loader used by ``stimuli_gen.generate``.

A checkpoint is one ``torch.save`` file holding a dict (format version 1):

``format``          "stimuli_gen.checkpoint"
``version``         1
``kind``            "cyclegan_asym" | "pix2pix"
``checkpoint_id``   a short id written into the stimulus manifest (docs/formats.md sec. 1)
``config``          the full training configuration (``Config.to_dict()``)
``image_size``      the training crop size in pixels
``generators``      {"G": state dict[, "F": state dict]}; G maps A -> B, F maps B -> A
``training``        optional: discriminators, optimisers, schedulers, GradScaler, image
                    pools, RNG states and the iteration counter (what ``--resume`` needs)

Generator weights may be stored as float16 (``half=True``) to keep shipped demo files
small; they are loaded back as float32. Nothing is unpickled beyond tensors and plain
containers (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stimuli_gen.config import Config, config_from_dict
from stimuli_gen.errors import InputError

log = logging.getLogger(__name__)

FORMAT = "stimuli_gen.checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, cfg: Config, generators: dict[str, nn.Module], *,
                    checkpoint_id: str | None = None, training: dict[str, Any] | None = None,
                    half: bool = False) -> Path:
    """Write a checkpoint atomically (temporary file + rename, so a crash never leaves half a file).

    Parameters
    ----------
    path : str or Path
        Target file (``.pt``).
    cfg : Config
        The training configuration.
    generators : dict
        ``{"G": module}`` for Pix2Pix, ``{"G": ..., "F": ...}`` for the asymmetric CycleGAN.
    checkpoint_id : str, optional
        Id for the manifest; default: the file name without its suffix.
    training : dict, optional
        Resumable training state (see :mod:`stimuli_gen.train`); omit for an inference-only file.
    half : bool
        Store generator weights as float16 (inference-only demo files).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gens = {}
    for name, net in generators.items():
        net = getattr(net, "module", net)
        sd = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        if half:
            sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
        gens[name] = sd
    payload = {"format": FORMAT, "version": VERSION, "kind": cfg.model.kind,
               "checkpoint_id": checkpoint_id or path.stem, "config": cfg.to_dict(),
               "image_size": cfg.train.crop_size, "generators": gens, "training": training}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    log.info("saved checkpoint %s (%s)", path, payload["checkpoint_id"])
    return path


def read_torch_file(path: str | Path, what: str, *, expected: str, missing_fix: str, unreadable_fix: str) -> Any:
    """``torch.load`` a local file (CPU, tensors and plain containers only) with clear errors.

    ``what`` names the file in messages ("checkpoint", "HED weight", ...); nothing is
    ever downloaded.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found", file=path, expected=expected, fix=missing_fix)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or not a torch file at all
        raise InputError(f"cannot read the {what} file ({type(exc).__name__}: {exc})", file=path,
                         expected=expected, fix=unreadable_fix) from None


def frozen(net: nn.Module) -> nn.Module:
    """``net`` in eval mode with every parameter's gradient off (fixed feature extractors)."""
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], Config]:
    """Read and validate a checkpoint file; returns the raw dict and its :class:`Config`."""
    path = Path(path)
    data = read_torch_file(path, "checkpoint", expected="a torch.save file written by stimuli_gen",
                           missing_fix="give the path of a .pt file written by `python -m stimuli_gen train`",
                           unreadable_fix="re-download or re-train the checkpoint")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError("not a stimuli_gen checkpoint", file=path, column="format",
                         expected=f"a dict with format = {FORMAT!r}",
                         fix="use a checkpoint written by `python -m stimuli_gen train`")
    if data.get("version") != VERSION:
        raise InputError(f"unsupported checkpoint version {data.get('version')!r}", file=path, column="version",
                         expected=f"version {VERSION}", fix="re-export the checkpoint with this version of stimuli_gen")
    cfg = config_from_dict(data["config"], source=path)
    return data, cfg


def export_generators(src: str | Path, dst: str | Path, checkpoint_id: str | None = None,
                      half: bool = True) -> Path:
    """Write an inference-only copy of ``src`` (generators only, float16 by default) to ``dst``.

    The id defaults to ``dst``'s file name without suffix (e.g. ``demo-ours``).
    """
    from stimuli_gen.networks import build_generators

    data, cfg = load_checkpoint(src)
    nets = build_generators(cfg.model)
    for name, sd in data["generators"].items():
        nets[name].load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
    return save_checkpoint(dst, cfg, nets, checkpoint_id=checkpoint_id or Path(dst).stem, half=half)


def use_test_batch_statistics(net: nn.Module) -> nn.Module:
    """Make BatchNorm layers normalise with the statistics of the batch they see, also in eval mode.

    Isola et al. (2017), sec. 3.3: at inference "we apply batch normalization using the
    statistics of the test batch, rather than aggregated statistics of the training batch"
    (with batch size 1 this is instance normalisation; the reference test script keeps the
    model in train mode for this). Running averages from batch-1 training are poor
    estimates, so Pix2Pix generators are loaded this way. Dropout stays off (eval mode), a
    deliberate deviation from the paper's test-time dropout so stimuli are deterministic.
    Feed one image per call: with larger batches the images would share statistics.
    """
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None
    return net


def load_generator(path: str | Path, direction: str = "AtoB",
                   device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load one generator for inference.

    Parameters
    ----------
    path : str or Path
        Checkpoint file.
    direction : {"AtoB", "BtoA"}
        For ``cyclegan_asym``: "AtoB" returns G (photo -> art), "BtoA" returns F (art -> photo).
        For ``pix2pix``: the single generator, which maps the direction it was trained for
        (``train.direction`` of its config); asking for the other direction is an error.
    device : str or torch.device
        Where to put the module.

    Returns
    -------
    net : torch.nn.Module
        In eval mode, mapping N x C x H x W float tensors in [-1, 1] to [-1, 1]. H and W
        must be divisible by 4 (ResNet/dense generators) or 2**unet_downs (U-Net). A
        Pix2Pix U-Net normalises with the statistics of the input batch
        (:func:`use_test_batch_statistics`): give it one image per call.
    info : dict
        ``kind``, ``checkpoint_id``, ``config`` (nested dict), ``image_size`` (training
        crop size), ``direction``.
    """
    from stimuli_gen.networks import build_generators

    if direction not in ("AtoB", "BtoA"):
        raise InputError(f"direction {direction!r} is not allowed", expected="'AtoB' or 'BtoA'",
                         fix="use AtoB (photo -> artwork) or BtoA")
    data, cfg = load_checkpoint(path)
    kind = data["kind"]
    if kind == "cyclegan_asym":
        name = "G" if direction == "AtoB" else "F"
    else:
        if direction != cfg.train.direction:
            raise InputError(f"this Pix2Pix checkpoint maps {cfg.train.direction}, not {direction}", file=path,
                             column="config.train.direction", expected=direction,
                             fix=f"ask for direction={cfg.train.direction!r} or train a {direction} model")
        name = "G"
    if name not in data["generators"]:
        raise InputError(f"the checkpoint has no generator {name!r}", file=path, column="generators",
                         expected=f"generators[{name!r}]", fix="use a complete checkpoint")
    net = build_generators(cfg.model)[name]
    state = {k: v.float() if v.is_floating_point() else v for k, v in data["generators"][name].items()}
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"generator {name!r} does not match its configuration: {exc}", file=path,
                         fix="the file is damaged or was edited; re-train or re-export it") from None
    if kind == "pix2pix":
        use_test_batch_statistics(net)
    net.to(device).eval()
    info = {"kind": kind, "checkpoint_id": data["checkpoint_id"], "config": data["config"],
            "image_size": int(data["image_size"]), "direction": direction}
    return net, info
