"""Typed training configuration for :mod:`stimuli_gen`, loaded from TOML and validated on load.

A TOML file holds any subset of the sections ``[model]``, ``[loss]``, ``[saliency]``,
``[train]`` and ``[data]`` (which dataset folders are the photo and art domains).
Each section is a pydantic v2 model (frozen, ``extra="forbid"``, strict types, a
``Literal`` for every closed choice, ``Field(gt=0)``/``Field(ge=0)`` for ranges and a
description per field, which ``docs/make_config_reference.py`` turns into the options
table of docs/stimuli_gen.md). Unknown sections/keys, wrong types and out-of-range
values are turned by one adapter, :func:`input_error`, into
:class:`~stimuli_gen.errors.InputError` naming the file, the key, what was expected
and how to fix it; the constraints between options are checked by :func:`validate`. Every default is documented next to its definition with its
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

import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stimuli_gen.errors import InputError

Kind = Literal["cyclegan_asym", "pix2pix"]
KINDS = get_args(Kind)


class _Section(BaseModel):
    """Common settings: immutable, unknown keys rejected, no silent type coercion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ModelConfig(_Section):
    """Network sizes.

    ``kind = "cyclegan_asym"`` is the paper's asymmetric CycleGAN (sec. "Asymmetric
    loop consistency structure"): G (A=photo -> B=art) a ResNet generator, F (B -> A) a
    dense-block generator, two 70x70 PatchGANs. ``kind = "pix2pix"`` is the Pix2Pix
    baseline: U-Net generator + conditional PatchGAN (paper sec. on Pix2Pix; Isola et al.
    2017).
    """

    kind: Kind = Field("cyclegan_asym", description=(
        "the paper's asymmetric CycleGAN (ResNet G, dense-block F, two 70x70 PatchGANs) or the Pix2Pix baseline "
        "(U-Net + conditional PatchGAN; Isola et al. 2017)"))
    input_nc: int = Field(3, gt=0, description="input channels, RGB (reference --input_nc 3)")
    output_nc: int = Field(3, gt=0, description="output channels, RGB (reference --output_nc 3)")
    ngf: int = Field(64, gt=0, description="generator width (reference --ngf 64)")
    ndf: int = Field(64, gt=0, description="discriminator width (reference --ndf 64)")
    n_res_blocks: int = Field(9, ge=0, description=(
        "G: residual blocks; 9 at 256 px (paper; CycleGAN paper, appendix 7.2)"))
    n_dense_blocks: int = Field(3, gt=0, description=(
        "F: dense blocks, each followed by a transition layer (our choice, see networks.dense_generator)"))
    dense_layers: int = Field(6, gt=0, description=(
        "F: layers per dense block (our choice; DenseNet-121's first block has 6)"))
    growth_per_ngf: int = Field(2, gt=0, description=(
        "F: growth rate k = growth_per_ngf * ngf (k = 128 at ngf 64; our choice)"))
    n_layers_d: int = Field(3, gt=0, description=(
        "PatchGAN depth; 3 gives the 70x70 receptive field (reference 'basic' D)"))
    unet_downs: int = Field(8, gt=0, description=(
        "Pix2Pix U-Net depth; 8 for 256 px ('unet_256'), 2**unet_downs <= image size"))
    norm: Literal["", "instance", "batch", "none"] = Field("", description=(
        "normalisation; '' = the reference default: instance for CycleGAN, batch for Pix2Pix"))
    dropout: bool = Field(True, description="Pix2Pix U-Net dropout 0.5 in the inner blocks (Pix2Pix paper sec. 3.1)")
    init_gain: float = Field(0.02, gt=0, description=(
        "weights ~ N(0, init_gain) (CycleGAN paper sec. 4; reference --init_gain 0.02)"))

    def norm_for_kind(self) -> str:
        """The effective normalisation (reference: instance for CycleGAN, batch for Pix2Pix)."""
        if self.norm:
            return self.norm
        return "instance" if self.kind == "cyclegan_asym" else "batch"


class LossConfig(_Section):
    """Loss weights of the paper's Eq. (13) and of Pix2Pix.

    The paper's text (as extracted) states the terms of Eq. (13) -- adversarial (9),
    identity (10), feature-level cycle consistency (11) and saliency edge (12) -- but
    not their weights, so the defaults are the reference CycleGAN ones where a term
    exists there and our documented choice otherwise.
    """

    gan_mode: Literal["", "lsgan", "vanilla"] = Field("", description=(
        "adversarial loss; '' = lsgan for CycleGAN (CycleGAN paper sec. 4), vanilla for Pix2Pix"))
    lambda_cyc: float = Field(10.0, ge=0, description=(
        "cycle-consistency weight (CycleGAN paper sec. 4; reference --lambda_A = --lambda_B = 10)"))
    identity_ratio: float = Field(0.5, ge=0, description=(
        "identity weight as a fraction of lambda_cyc: lambda_id = 0.5 * lambda_cyc (reference --lambda_identity 0.5)"))
    lambda_edge: float = Field(100.0, ge=0, description=(
        "saliency edge loss, Eq. (12), per-pixel mean; the paper gives no value: our choice, ~20 % of G's "
        "gradient at 128 px (docs/stimuli_gen.md, 'Loss calibration')"))
    lambda_l1: float = Field(100.0, ge=0, description="Pix2Pix L1 weight (Pix2Pix paper sec. 4; reference --lambda_L1 100)")
    vgg19_weights: str = Field("", description=(
        "local torchvision-layout VGG-19 state dict; '' = pixel L1 fallback (warned)"))
    vgg_layer: Literal["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"] = Field("relu4_1", description=(
        "VGG-19 layer for the feature-level cycle loss (paper: 'high-level'; our choice)"))
    feature_norm: Literal["relative", "none"] = Field("relative", description=(
        "feature cycle L1 divided by the batch's mean |phi(x)| (scale-free; see losses.py); 'none' = the raw "
        "feature L1"))

    @property
    def lambda_id(self) -> float:
        """Identity weight, 0.5 * lambda_cyc by default (reference ``lambda_identity`` semantics)."""
        return self.identity_ratio * self.lambda_cyc

    def gan_mode_for(self, kind: str) -> str:
        """The effective GAN loss: ``gan_mode``, or lsgan for CycleGAN and vanilla for Pix2Pix."""
        if self.gan_mode:
            return self.gan_mode
        return "lsgan" if kind == "cyclegan_asym" else "vanilla"


class SaliencyConfig(_Section):
    """Saliency-edge extractor backends (paper: PFAN saliency x HED edges)."""

    saliency: Literal["spectral_residual", "pfan"] = Field("spectral_residual", description=(
        "saliency backend: weight-free spectral residual (Hou & Zhang 2007); 'pfan' needs pfan_weights"))
    edges: Literal["gradient", "hed"] = Field("gradient", description=(
        "edge backend: weight-free multi-scale gradient edges; 'hed' needs hed_weights"))
    pfan_weights: str = Field("", description="torch.export (.pt2) or TorchScript file of a PFAN (saliency_edges.py)")
    pfan_interface: Literal["sodmodel", "plain"] = Field("sodmodel", description=(
        "the public PyTorch port's call: ImageNet-normalised in, (masks, reg) out; 'plain' = RGB [0, 1] in, "
        "N x 1 x H x W out (saliency_edges.PFANAdapter)"))
    hed_weights: str = Field("", description="state dict of the VGG16 HED (sniklaus/pytorch-hed key layout)")


class TrainConfig(_Section):
    """Optimisation and data options (reference CycleGAN/Pix2Pix ``train_options.py``)."""

    lr: float = Field(2e-4, gt=0, description="Adam learning rate (CycleGAN paper sec. 4; reference --lr 0.0002)")
    beta1: float = Field(0.5, description="Adam beta1 (reference --beta1 0.5)")
    beta2: float = Field(0.999, description="Adam beta2 (reference)")
    n_epochs: int = Field(100, ge=0, description="epochs at constant lr (CycleGAN paper sec. 4)")
    n_epochs_decay: int = Field(100, ge=0, description="epochs of linear decay to zero (CycleGAN paper sec. 4)")
    batch_size: int = Field(1, gt=0, description="batch size (reference --batch_size 1)")
    pool_size: int = Field(50, ge=0, description=(
        "image pool (CycleGAN paper sec. 4, Shrivastava et al. 2017); Pix2Pix uses 0"))
    load_size: int = Field(286, gt=0, description="resize before cropping (reference --load_size 286)")
    crop_size: int = Field(256, gt=0, description="random crop = training image size (reference --crop_size 256)")
    flip: bool = Field(True, description="random horizontal flips (reference: on unless --no_flip)")
    direction: Literal["AtoB", "BtoA"] = Field("AtoB", description=(
        "Pix2Pix aligned A|B direction (reference --direction AtoB)"))
    seed: int = Field(0, ge=0, description="seeds weights, data order, crops, flips, pools, dropout")
    save_every: int = Field(5000, gt=0, description=(
        "checkpoint every N iterations (reference --save_latest_freq 5000)"))
    max_iterations: int = Field(0, ge=0, description="stop after this many iterations; 0 = the full epoch schedule")
    num_workers: int = Field(2, ge=0, description="data-loading worker processes (0 = load in the main process)")
    amp: bool = Field(True, description="CUDA only: torch.autocast(float16) + GradScaler; ignored on CPU")
    channels_last: bool = Field(True, description="CUDA only: channels_last memory format; ignored on CPU")
    log_every: int = Field(100, gt=0, description="log the losses every N iterations")
    sample_every: int = Field(1000, ge=0, description=(
        "write OUT/samples/iter_NNNNNN.png every N iterations; 0 = never (reference --display_freq 400 / "
        "--update_html_freq 1000 save the current visuals)"))
    n_samples: int = Field(4, gt=0, description="fixed images per domain shown in each sample grid")


class DataConfig(_Section):
    """Which folders of a dataset are the domains (the paper's G maps photos -> the art domain).

    ``folder_a`` is read as domain A (X, the photos, G's input) and ``folder_b`` as domain
    B (Y, the target art domain). The CycleGAN archives name their folders ``trainA`` and
    ``trainB`` in the dataset's own order: monet2photo's ``trainA`` holds the Monet
    paintings, so a photo -> art model reads ``folder_a = "trainB"``, ``folder_b =
    "trainA"`` (stimuli_gen/configs/monet2photo.toml); the swap lives in the config, the
    data stay as downloaded. ``domain_a``/``domain_b`` say in words what the domains are
    (written into checkpoints and sample grids; e.g. "photos" / "Monet paintings").
    """

    name: str = Field("", description="dataset name, e.g. 'monet2photo' (informational)")
    folder_a: str = Field("trainA", description="subfolder read as domain A (photos, G's input); reference layout")
    folder_b: str = Field("trainB", description="subfolder read as domain B (the art domain, G's output)")
    domain_a: str = Field("photos", description="what domain A is, in words")
    domain_b: str = Field("artworks", description=(
        "what domain B is, in words (for stimuli: the artwork category's style)"))


class Config(_Section):
    """A complete training configuration (see module docstring)."""

    model: ModelConfig = Field(default_factory=ModelConfig, description="network sizes")
    loss: LossConfig = Field(default_factory=LossConfig, description="loss weights")
    saliency: SaliencyConfig = Field(default_factory=SaliencyConfig, description="saliency-edge backends")
    train: TrainConfig = Field(default_factory=TrainConfig, description="optimisation and data options")
    data: DataConfig = Field(default_factory=DataConfig, description="which dataset folders are the domains")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a nested dict of plain values (as stored in checkpoints)."""
        return self.model_dump()


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def input_error(exc: ValidationError, source: str | Path = "<config>") -> InputError:
    """The one adapter from a pydantic ``ValidationError`` to the user-facing :class:`InputError`.

    The error's location ``(section, key)`` becomes the ``column`` ``section.key``; its
    type becomes the problem, the expectation (allowed values, range or type, taken from
    the model) and the fix. Only the first error is reported, like the other loaders.
    """
    err = exc.errors(include_url=False)[0]
    loc = [str(part) for part in err["loc"]]
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    sections = Config.model_fields
    if len(loc) == 1:
        section = loc[0]
        if kind == "extra_forbidden":
            return InputError(f"unknown section [{section}]", file=source, column=section,
                              expected="one of " + ", ".join(f"[{s}]" for s in sections),
                              fix="remove or rename the section")
        return InputError(f"[{section}] must be a table", file=source, column=section,
                          expected=f"a [{section}] table", fix=f"write the keys under a [{section}] header")
    section, key = loc[0], loc[1]
    name = f"{section}.{key}"
    fields = sections[section].annotation.model_fields
    if kind == "extra_forbidden":
        return InputError(f"unknown key {key!r} in [{section}]", file=source, column=name,
                          expected="one of " + ", ".join(sorted(fields)), fix="remove or rename the key")
    field = fields[key]
    if kind == "literal_error":
        allowed = ", ".join(repr(a) for a in get_args(field.annotation))
        return InputError(f"{name} = {value!r} is not allowed", file=source, column=name,
                          expected=f"one of {allowed} ({field.description})", fix="pick one of the allowed values")
    if kind == "greater_than":
        bound = ctx.get("gt")
        return InputError(f"{name} must be positive" if bound == 0 else f"{name} must be greater than {bound}",
                          file=source, column=name, expected=f"a number > {bound}", fix="use a positive value")
    if kind == "greater_than_equal":
        bound = ctx.get("ge")
        return InputError(f"{name} must not be negative" if bound == 0 else f"{name} must be at least {bound}",
                          file=source, column=name, expected=f"a number >= {bound}", fix="use 0 or a positive value")
    words = _TYPE_WORDS.get(field.annotation, str(field.annotation))
    return InputError(f"{name} has the wrong type ({type(value).__name__})", file=source, column=name,
                      expected=f"{words} like {field.default!r} ({field.description})", fix="correct the value")


def config_from_dict(data: dict[str, Any], source: str | Path = "<config>") -> Config:
    """Build and validate a :class:`Config` from a nested dict (e.g. parsed TOML or a checkpoint).

    Parameters
    ----------
    data : dict
        Sections ``model``, ``loss``, ``saliency``, ``train``, ``data`` (any subset) of keys.
    source : str or Path
        Named in error messages (default ``"<config>"``).

    Returns
    -------
    Config
        The validated configuration; missing keys take the documented defaults.
    """
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, source) from None
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
    """Check the constraints between options (choices, types and ranges are the models' job)."""
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
