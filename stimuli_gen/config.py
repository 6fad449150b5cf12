"""Typed training configuration for :mod:`stimuli_gen`, loaded from TOML and validated on load.

A TOML file holds any subset of the sections ``[model]``, ``[loss]``, ``[saliency]``,
``[train]`` and ``[data]`` (which dataset folders are the photo and art domains); unknown sections/keys, wrong types and out-of-range values raise
:class:`~stimuli_gen.errors.InputError` naming the file, the key, what was expected
and how to fix it. Every default is documented next to its definition with its
source: Wei Pu (2025) ("the paper", ``/work/shared/seed/paper.txt``), the reference
CycleGAN/Pix2Pix code (junyanz/pytorch-CycleGAN-and-pix2pix, ``options/*.py``),
Zhu et al. (2017) "Unpaired image-to-image translation using cycle-consistent
adversarial networks" (ICCV; "CycleGAN paper") and Isola et al. (2017) "Image-to-image
translation with conditional adversarial networks" (CVPR; "Pix2Pix paper").

.. code-block:: toml

    [model]
    kind = "cyclegan_asym"   # or "pix2pix"
    ngf = 64
    [train]
    n_epochs = 100
    n_epochs_decay = 100
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stimuli_gen.errors import InputError

KINDS = ("cyclegan_asym", "pix2pix")


@dataclass(frozen=True)
class ModelConfig:
    """Network sizes.

    ``kind = "cyclegan_asym"`` is the paper's asymmetric CycleGAN (sec. "Asymmetric
    loop consistency structure"): G (A=photo -> B=art) a ResNet generator, F (B -> A) a
    dense-block generator, two 70x70 PatchGANs. ``kind = "pix2pix"`` is the Pix2Pix
    baseline: U-Net generator + conditional PatchGAN (paper sec. on Pix2Pix; Isola et al.
    2017).
    """

    kind: str = "cyclegan_asym"
    input_nc: int = 3               # RGB (reference --input_nc 3)
    output_nc: int = 3              # RGB (reference --output_nc 3)
    ngf: int = 64                   # generator width, reference --ngf 64
    ndf: int = 64                   # discriminator width, reference --ndf 64
    n_res_blocks: int = 9           # G: 9 residual blocks at 256 px (paper; CycleGAN paper, appendix 7.2)
    n_dense_blocks: int = 3         # F: dense blocks, each followed by a transition layer (our choice, see networks.dense_generator)
    dense_layers: int = 6           # F: layers per dense block (our choice; DenseNet-121's first block has 6)
    growth_per_ngf: int = 2         # F: growth rate k = growth_per_ngf * ngf (k = 128 at ngf 64; our choice)
    n_layers_d: int = 3             # PatchGAN depth; 3 gives the 70x70 receptive field (reference "basic" D)
    unet_downs: int = 8             # Pix2Pix U-Net depth; 8 for 256 px ("unet_256"), 2**unet_downs <= image size
    norm: str = ""                  # "" = the reference default: instance for CycleGAN, batch for Pix2Pix
    dropout: bool = True            # Pix2Pix U-Net dropout 0.5 in the inner blocks (Pix2Pix paper sec. 3.1)
    init_gain: float = 0.02         # weights ~ N(0, 0.02) (CycleGAN paper sec. 4; reference --init_gain)

    def norm_for_kind(self) -> str:
        """The effective normalisation (reference: instance for CycleGAN, batch for Pix2Pix)."""
        if self.norm:
            return self.norm
        return "instance" if self.kind == "cyclegan_asym" else "batch"


@dataclass(frozen=True)
class LossConfig:
    """Loss weights of the paper's Eq. (13) and of Pix2Pix.

    The paper's text (as extracted) states the terms of Eq. (13) -- adversarial (9),
    identity (10), feature-level cycle consistency (11) and saliency edge (12) -- but
    not their weights, so the defaults are the reference CycleGAN ones where a term
    exists there and our documented choice otherwise.
    """

    gan_mode: str = ""              # "" = lsgan for CycleGAN (CycleGAN paper sec. 4), vanilla for Pix2Pix
    lambda_cyc: float = 10.0        # CycleGAN paper sec. 4 / reference --lambda_A = --lambda_B = 10
    identity_ratio: float = 0.5     # lambda_id = 0.5 * lambda_cyc (reference --lambda_identity 0.5)
    lambda_edge: float = 100.0      # saliency edge loss, Eq. (12), per-pixel mean; paper gives no value: our choice,
                                    # ~20 % of G's gradient at 128 px (docs/stimuli_gen.md, "Loss calibration")
    lambda_l1: float = 100.0        # Pix2Pix L1 weight (Pix2Pix paper sec. 4; reference --lambda_L1 100)
    vgg19_weights: str = ""         # local torchvision-layout VGG-19 state dict; "" = pixel L1 fallback (warned)
    vgg_layer: str = "relu4_1"      # VGG-19 layer for the feature-level cycle loss (paper: "high-level"; our choice)
    feature_norm: str = "relative"  # feature cycle L1 divided by the batch's mean |phi(x)| (scale-free; see losses.py);
                                    # "none" = the raw feature L1

    @property
    def lambda_id(self) -> float:
        """Identity weight, 0.5 * lambda_cyc by default (reference ``lambda_identity`` semantics)."""
        return self.identity_ratio * self.lambda_cyc

    def gan_mode_for(self, kind: str) -> str:
        if self.gan_mode:
            return self.gan_mode
        return "lsgan" if kind == "cyclegan_asym" else "vanilla"


@dataclass(frozen=True)
class SaliencyConfig:
    """Saliency-edge extractor backends (paper: PFAN saliency x HED edges)."""

    saliency: str = "spectral_residual"   # weight-free default (Hou & Zhang 2007); "pfan" needs pfan_weights
    edges: str = "gradient"               # weight-free multi-scale gradient edges; "hed" needs hed_weights
    pfan_weights: str = ""                # torch.export (.pt2) or TorchScript file of a PFAN (saliency_edges.py)
    pfan_interface: str = "sodmodel"      # the public PyTorch port's call: ImageNet-normalised in, (masks, reg) out;
                                          # "plain" = RGB [0, 1] in, N x 1 x H x W out (saliency_edges.PFANAdapter)
    hed_weights: str = ""                 # state dict of the VGG16 HED (sniklaus/pytorch-hed key layout)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and data options (reference CycleGAN/Pix2Pix ``train_options.py``)."""

    lr: float = 2e-4                # Adam lr (CycleGAN paper sec. 4; reference --lr 0.0002)
    beta1: float = 0.5              # Adam beta1 (reference --beta1 0.5)
    beta2: float = 0.999            # Adam beta2 (reference)
    n_epochs: int = 100             # epochs at constant lr (CycleGAN paper sec. 4)
    n_epochs_decay: int = 100       # epochs of linear decay to zero (CycleGAN paper sec. 4)
    batch_size: int = 1             # reference --batch_size 1
    pool_size: int = 50             # image pool (CycleGAN paper sec. 4, Shrivastava et al. 2017); Pix2Pix uses 0
    load_size: int = 286            # resize before cropping (reference --load_size 286)
    crop_size: int = 256            # random crop = training image size (reference --crop_size 256)
    flip: bool = True               # random horizontal flips (reference: on unless --no_flip)
    direction: str = "AtoB"         # Pix2Pix aligned A|B direction (reference --direction AtoB)
    seed: int = 0                   # seeds weights, data order, crops, flips, pools, dropout
    save_every: int = 5000          # checkpoint every N iterations (reference --save_latest_freq 5000)
    max_iterations: int = 0         # stop after this many iterations; 0 = the full epoch schedule
    num_workers: int = 2            # data-loading worker processes (0 = load in the main process)
    amp: bool = True                # CUDA only: torch.autocast(float16) + GradScaler; ignored on CPU
    channels_last: bool = True      # CUDA only: channels_last memory format; ignored on CPU
    log_every: int = 100            # log the losses every N iterations
    sample_every: int = 1000        # write OUT/samples/iter_NNNNNN.png every N iterations; 0 = never (reference
                                    # --display_freq 400 / --update_html_freq 1000 save the current visuals)
    n_samples: int = 4              # fixed images per domain shown in each sample grid


@dataclass(frozen=True)
class DataConfig:
    """Which folders of a dataset are the domains (the paper's G maps photos -> the art domain).

    ``folder_a`` is read as domain A (X, the photos, G's input) and ``folder_b`` as domain
    B (Y, the target art domain). The CycleGAN archives name their folders ``trainA`` and
    ``trainB`` in the dataset's own order: monet2photo's ``trainA`` holds the Monet
    paintings, so a photo -> art model reads ``folder_a = "trainB"``, ``folder_b =
    "trainA"`` (stimuli_gen/configs/monet2photo.toml); the swap lives in the config, the
    data stay as downloaded. ``domain_a``/``domain_b`` say in words what the domains are
    (written into checkpoints and sample grids; e.g. "photos" / "Monet paintings").
    """

    name: str = ""                  # dataset name, e.g. "monet2photo" (informational)
    folder_a: str = "trainA"        # subfolder read as domain A (photos, G's input); reference layout
    folder_b: str = "trainB"        # subfolder read as domain B (the art domain, G's output)
    domain_a: str = "photos"        # what domain A is, in words
    domain_b: str = "artworks"      # what domain B is, in words (for stimuli: the artwork category's style)


@dataclass(frozen=True)
class Config:
    """A complete training configuration (see module docstring)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    saliency: SaliencyConfig = field(default_factory=SaliencyConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTIONS: dict[str, type] = {"model": ModelConfig, "loss": LossConfig, "saliency": SaliencyConfig,
                              "train": TrainConfig, "data": DataConfig}

_CHOICES = {
    ("model", "kind"): set(KINDS),
    ("model", "norm"): {"", "instance", "batch", "none"},
    ("loss", "gan_mode"): {"", "lsgan", "vanilla"},
    ("loss", "vgg_layer"): {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"},
    ("loss", "feature_norm"): {"relative", "none"},
    ("saliency", "saliency"): {"spectral_residual", "pfan"},
    ("saliency", "edges"): {"gradient", "hed"},
    ("saliency", "pfan_interface"): {"sodmodel", "plain"},
    ("train", "direction"): {"AtoB", "BtoA"},
}
_POSITIVE = [("model", "input_nc"), ("model", "output_nc"), ("model", "ngf"), ("model", "ndf"),
             ("model", "n_dense_blocks"), ("model", "dense_layers"), ("model", "growth_per_ngf"),
             ("model", "n_layers_d"), ("model", "unet_downs"), ("model", "init_gain"),
             ("train", "lr"), ("train", "batch_size"), ("train", "load_size"), ("train", "crop_size"),
             ("train", "save_every"), ("train", "log_every"), ("train", "n_samples")]
_NON_NEGATIVE = [("model", "n_res_blocks"), ("loss", "lambda_cyc"), ("loss", "identity_ratio"),
                 ("loss", "lambda_edge"), ("loss", "lambda_l1"), ("train", "n_epochs"),
                 ("train", "n_epochs_decay"), ("train", "pool_size"), ("train", "max_iterations"),
                 ("train", "num_workers"), ("train", "seed"), ("train", "sample_every")]


def _build(section: str, cls: type, values: Any, path: Path | str) -> Any:
    if not isinstance(values, dict):
        raise InputError(f"[{section}] must be a table", file=path, column=section,
                         expected=f"a [{section}] table", fix=f"write the keys under a [{section}] header")
    defaults = cls()
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise InputError(f"unknown key {key!r} in [{section}]", file=path, column=f"{section}.{key}",
                             expected="one of " + ", ".join(sorted(known)), fix="remove or rename the key")
        default = getattr(defaults, key)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise InputError(f"{section}.{key} has the wrong type ({type(value).__name__})", file=path,
                             column=f"{section}.{key}", expected=f"a {type(default).__name__} like {default!r}",
                             fix="correct the value")
        kwargs[key] = value
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any], source: str | Path = "<config>") -> Config:
    """Build and validate a :class:`Config` from a nested dict (e.g. parsed TOML or a checkpoint)."""
    kwargs = {}
    for section, values in data.items():
        if section not in _SECTIONS:
            raise InputError(f"unknown section [{section}]", file=source, column=section,
                             expected="one of " + ", ".join(f"[{s}]" for s in _SECTIONS),
                             fix="remove or rename the section")
        kwargs[section] = _build(section, _SECTIONS[section], values, source)
    cfg = Config(**kwargs)
    validate(cfg, source)
    return cfg


def load_config(path: str | Path | None) -> Config:
    """Load and validate a training TOML file; ``None`` gives the documented defaults."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise InputError("configuration file not found", file=path,
                         fix="give the path of an existing .toml file, e.g. stimuli_gen/configs/cyclegan_asym.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid TOML: {exc}", file=path, fix="correct the TOML syntax") from None
    return config_from_dict(data, path)


def validate(cfg: Config, source: str | Path = "<config>") -> None:
    """Check choices, ranges and the size constraints between options."""
    for (section, key), allowed in _CHOICES.items():
        value = getattr(getattr(cfg, section), key)
        if value not in allowed:
            raise InputError(f"{section}.{key} = {value!r} is not allowed", file=source, column=f"{section}.{key}",
                             expected="one of " + ", ".join(repr(a) for a in sorted(allowed)),
                             fix="pick one of the allowed values")
    for section, key in _POSITIVE:
        if getattr(getattr(cfg, section), key) <= 0:
            raise InputError(f"{section}.{key} must be positive", file=source, column=f"{section}.{key}",
                             expected="a number > 0", fix="use a positive value")
    for section, key in _NON_NEGATIVE:
        if getattr(getattr(cfg, section), key) < 0:
            raise InputError(f"{section}.{key} must not be negative", file=source, column=f"{section}.{key}",
                             expected="a number >= 0", fix="use 0 or a positive value")
    t, m = cfg.train, cfg.model
    if t.crop_size > t.load_size:
        raise InputError(f"train.crop_size ({t.crop_size}) is larger than train.load_size ({t.load_size})",
                         file=source, column="train.crop_size", expected="crop_size <= load_size",
                         fix="lower crop_size or raise load_size (reference: 286 -> 256)")
    if t.crop_size % 4:
        raise InputError(f"train.crop_size ({t.crop_size}) is not a multiple of 4", file=source,
                         column="train.crop_size", expected="a multiple of 4 (two stride-2 down-samplings)",
                         fix="use e.g. 32, 64, 128 or 256")
    if t.crop_size < 3 * 2 ** m.n_layers_d:
        raise InputError(f"train.crop_size ({t.crop_size}) is too small for a PatchGAN with n_layers_d = "
                         f"{m.n_layers_d}", file=source, column="train.crop_size",
                         expected=f"crop_size >= 3 * 2**n_layers_d = {3 * 2 ** m.n_layers_d}",
                         fix="raise crop_size (e.g. 32 for tests, 256 for the paper) or lower model.n_layers_d")
    if m.kind == "pix2pix" and m.unet_downs < 5:
        raise InputError(f"model.unet_downs = {m.unet_downs} is too small", file=source, column="model.unet_downs",
                         expected="unet_downs >= 5 (the U-Net's ngf, 2, 4, 8 ngf levels plus an innermost block)",
                         fix="use 5 for 32 px, 6 for 64 px, 8 for 256 px")
    if m.kind == "pix2pix" and t.crop_size % (2 ** m.unet_downs):
        raise InputError(f"train.crop_size ({t.crop_size}) is not divisible by 2**model.unet_downs "
                         f"({2 ** m.unet_downs})", file=source, column="model.unet_downs",
                         expected="crop_size divisible by 2**unet_downs (unet_downs 8 for 256 px)",
                         fix="lower model.unet_downs (e.g. 6 for 64 px, 5 for 32 px) or raise crop_size")
    if m.kind == "cyclegan_asym" and m.input_nc != m.output_nc and cfg.loss.identity_ratio > 0:
        raise InputError("the identity loss needs input_nc == output_nc", file=source, column="loss.identity_ratio",
                         expected="identity_ratio = 0 when the channel counts differ", fix="set identity_ratio = 0")
    d = cfg.data
    for key in ("folder_a", "folder_b"):
        folder = getattr(d, key)
        if not folder or "/" in folder or "\\" in folder or folder in (".", ".."):
            raise InputError(f"data.{key} = {folder!r} is not a subfolder name", file=source, column=f"data.{key}",
                             expected="the name of a folder directly under --data, e.g. trainA",
                             fix="give a plain folder name such as trainA or trainB")
    if d.folder_a == d.folder_b:
        raise InputError(f"data.folder_a and data.folder_b are both {d.folder_a!r}", file=source,
                         column="data.folder_b", expected="two different folders", fix="e.g. trainA and trainB")
    s = cfg.saliency
    for backend, name, key in (("pfan", s.saliency, "pfan_weights"), ("hed", s.edges, "hed_weights")):
        if name == backend and not getattr(s, key):
            raise InputError(f"the {backend!r} backend needs saliency.{key}", file=source,
                             column=f"saliency.{key}", expected=f"the path of a local {backend} weight file",
                             fix=f"set saliency.{key}, or use the weight-free default backend")
