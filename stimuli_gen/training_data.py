"""Training datasets: the unaligned CycleGAN layout and aligned A|B pairs for Pix2Pix (PIL + torch, no torchvision).

Layouts (as the reference junyanz/pytorch-CycleGAN-and-pix2pix ``datasets/``):

* unaligned (CycleGAN): ``ROOT/trainA/*`` (photos, domain X) and ``ROOT/trainB/*``
  (artworks, domain Y) -- or the folders named by ``[data] folder_a/folder_b``; ``testA``/``testB`` are for evaluation and are not read here.
  An epoch has max(|A|, |B|) samples; A is visited in a shuffled order, B is drawn at
  random (reference ``UnalignedDataset`` with ``serial_batches`` off).
* aligned (Pix2Pix): ``ROOT/train/*``, each image the A half and the B half side by side
  (A left). ``train.direction = "BtoA"`` swaps them.

Transforms (reference ``get_transform`` with ``--preprocess resize_and_crop``): resize to
``load_size`` x ``load_size`` (bicubic; 286), random crop ``crop_size`` (256), random
horizontal flip, to a float tensor in [-1, 1]. Both halves of an aligned pair get the
same crop and flip.

Every random choice of sample ``(epoch, position)`` comes from a generator seeded with
``(seed, epoch, position)``, so the data stream is a pure function of the seed and the
iteration counter: resuming needs only the counter, DataLoader workers cannot change it,
and under DDP each rank reads a disjoint slice of every global batch.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from stimuli_gen.config import TrainConfig
from stimuli_gen.errors import InputError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}
_MIX = 1_000_003


def rng(*keys: int) -> torch.Generator:
    """A CPU generator seeded by an integer tuple (deterministic, platform-independent)."""
    s = 0
    for k in keys:
        s = (s * _MIX + int(k) + 1) % (2 ** 61 - 1)
    g = torch.Generator()
    g.manual_seed(s)
    return g


def list_images(folder: Path, what: str) -> list[Path]:
    """Sorted image files of ``folder``; a clear error if the folder is missing or holds no images."""
    if not folder.is_dir():
        raise InputError(f"{what} folder not found", file=folder,
                         expected="the CycleGAN layout ROOT/trainA, ROOT/trainB (or ROOT/train with A|B images for Pix2Pix)",
                         fix="point --data at the dataset root or create the folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise InputError(f"{what} folder holds no images", file=folder,
                         expected="files ending in " + ", ".join(sorted(IMAGE_EXTENSIONS)),
                         fix="add training images")
    return files


def load_rgb(path: Path) -> Image.Image:
    """Open an image as RGB, with a clear error for unreadable files."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"cannot read the image ({exc})", file=path, expected="a readable image file",
                         fix="remove or replace the file") from None


def to_tensor(im: Image.Image) -> torch.Tensor:
    """H x W x 3 uint8 PIL image -> 3 x H x W float tensor in [-1, 1]."""
    arr = np.asarray(im, dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous() / 127.5 - 1.0


class AugmentParams:
    """Crop offset and flip of one sample, drawn from ``g``."""

    def __init__(self, t: TrainConfig, g: torch.Generator) -> None:
        span = t.load_size - t.crop_size + 1
        self.x = int(torch.randint(span, (1,), generator=g))
        self.y = int(torch.randint(span, (1,), generator=g))
        self.flip = bool(t.flip and torch.rand(1, generator=g).item() < 0.5)

    def apply(self, im: Image.Image, t: TrainConfig) -> torch.Tensor:
        im = im.resize((t.load_size, t.load_size), Image.Resampling.BICUBIC)
        im = im.crop((self.x, self.y, self.x + t.crop_size, self.y + t.crop_size))
        if self.flip:
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return to_tensor(im)


class StepDataset(Dataset):
    """Base: maps the ``i``-th item of this rank's stream (from ``start_iteration``) to a sample.

    Subclasses implement :meth:`sample` ``(epoch, position) -> dict`` and set ``epoch_len``.
    """

    epoch_len: int

    def __init__(self, t: TrainConfig, seed: int, start_iteration: int = 0, n_iterations: int = 0,
                 rank: int = 0, world: int = 1) -> None:
        self.t, self.seed = t, seed
        self.start, self.n_iterations = start_iteration, n_iterations
        self.rank, self.world = rank, world
        self._perm: tuple[int, torch.Tensor] | None = None

    @property
    def iterations_per_epoch(self) -> int:
        return math.ceil(self.epoch_len / (self.t.batch_size * self.world))

    def __len__(self) -> int:
        return self.n_iterations * self.t.batch_size

    def order(self, epoch: int) -> torch.Tensor:
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, torch.randperm(self.epoch_len, generator=rng(self.seed, epoch)))
        return self._perm[1]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        b = self.t.batch_size
        it, j = self.start + i // b, i % b
        epoch, step = divmod(it, self.iterations_per_epoch)
        pos = ((step * self.world + self.rank) * b + j) % self.epoch_len
        return self.sample(epoch, pos)

    def sample(self, epoch: int, pos: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class UnalignedDataset(StepDataset):
    """``trainA``/``trainB`` (CycleGAN layout); items ``{"A": 3xHxW, "B": 3xHxW}`` in [-1, 1]."""

    def __init__(self, root: str | Path, t: TrainConfig, seed: int, folders: tuple[str, str] = ("trainA", "trainB"),
                 **kw: int) -> None:
        super().__init__(t, seed, **kw)
        root = Path(root)
        self.files_a = list_images(root / folders[0], folders[0])  # domain A, [data] folder_a
        self.files_b = list_images(root / folders[1], folders[1])  # domain B, [data] folder_b
        self.epoch_len = max(len(self.files_a), len(self.files_b))

    def sample(self, epoch: int, pos: int) -> dict[str, torch.Tensor]:
        ia = int(self.order(epoch)[pos]) % len(self.files_a)
        g = rng(self.seed, epoch, pos)
        ib = int(torch.randint(len(self.files_b), (1,), generator=g))
        pa, pb = AugmentParams(self.t, g), AugmentParams(self.t, g)
        return {"A": pa.apply(load_rgb(self.files_a[ia]), self.t), "B": pb.apply(load_rgb(self.files_b[ib]), self.t)}


class AlignedDataset(StepDataset):
    """``train/`` with A|B side-by-side images (Pix2Pix layout); items ``{"A", "B"}`` with one shared crop/flip."""

    def __init__(self, root: str | Path, t: TrainConfig, seed: int, **kw: int) -> None:
        super().__init__(t, seed, **kw)
        self.files = list_images(Path(root) / "train", "train (aligned A|B)")
        self.epoch_len = len(self.files)

    def sample(self, epoch: int, pos: int) -> dict[str, torch.Tensor]:
        path = self.files[int(self.order(epoch)[pos])]
        im = load_rgb(path)
        w, h = im.size
        if w < 2 or w % 2:
            raise InputError(f"aligned image width {w} is not even", file=path,
                             expected="A and B side by side, each half the width", fix="re-create the pair image")
        a, b = im.crop((0, 0, w // 2, h)), im.crop((w // 2, 0, w, h))
        if self.t.direction == "BtoA":
            a, b = b, a
        p = AugmentParams(self.t, rng(self.seed, epoch, pos))
        return {"A": p.apply(a, self.t), "B": p.apply(b, self.t)}


def make_dataset(kind: str, root: str | Path, t: TrainConfig, seed: int,
                 folders: tuple[str, str] = ("trainA", "trainB"), **kw: int) -> StepDataset:
    """The dataset of a model kind: unaligned for ``cyclegan_asym`` (domain folders ``folders``,
    ``[data] folder_a/folder_b``), aligned for ``pix2pix``."""
    if kind == "pix2pix":
        return AlignedDataset(root, t, seed, **kw)
    return UnalignedDataset(root, t, seed, folders, **kw)
