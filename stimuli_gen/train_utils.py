"""Training helpers: image pool, linear-decay LR rule, device/distributed set-up.

Sources: the reference CycleGAN code (``util/image_pool.py``, ``models/networks.py``
``get_scheduler`` with ``lr_policy='linear'``), CycleGAN paper sec. 4, Shrivastava et
al. (2017) for the history pool.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


class ImagePool:
    """History of generated images for the discriminator (Shrivastava et al. 2017; CycleGAN sec. 4, size 50).

    Until the pool is full every image is stored and returned; afterwards each image is,
    with probability 1/2, swapped with a random stored one (which is returned), otherwise
    returned as is. Randomness comes from the pool's own generator so the pool's state
    (images + generator) can be checkpointed and restored exactly.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []
        self.gen = torch.Generator()
        self.gen.manual_seed(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            img = img.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand(1, generator=self.gen).item() > 0.5:
                k = int(torch.randint(self.size, (1,), generator=self.gen))
                old = self.images[k]
                self.images[k] = img.clone()
                out.append(old.to(img.device))
            else:
                out.append(img)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "images": [t.cpu() for t in self.images], "gen": self.gen.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        self.size = int(state["size"])
        self.images = [t.to(device) for t in state["images"]]
        self.gen.set_state(state["gen"])


@dataclass(frozen=True)
class LinearDecay:
    """LR factor for 0-based epoch ``e``: 1 for ``n_epochs`` epochs, then linear decay over ``n_decay`` epochs.

    factor(e) = 1 - max(0, e + 1 - n_epochs) / (n_decay + 1) (reference ``lambda_rule`` with
    ``epoch_count = 1``; CycleGAN paper sec. 4: "keep the same learning rate for the first
    100 epochs and linearly decay the rate to zero over the next 100 epochs").
    A picklable callable, so ``LambdaLR.state_dict()`` round-trips it.
    """

    n_epochs: int
    n_decay: int

    def __call__(self, epoch: int) -> float:
        return 1.0 - max(0, epoch + 1 - self.n_epochs) / float(self.n_decay + 1)


@dataclass(frozen=True)
class Runtime:
    """Where training runs: device, rank/world size of torch.distributed, AMP and channels_last flags."""

    device: torch.device
    rank: int = 0
    world: int = 1
    amp: bool = False
    channels_last: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def setup_runtime(amp: bool, channels_last: bool, device: str | None = None) -> Runtime:
    """Pick the device and join a torchrun job if one is running.

    torchrun sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``/``MASTER_ADDR``; then the process
    group is initialised with ``init_method="env://"``, backend ``nccl`` on CUDA and
    ``gloo`` on CPU. AMP and channels_last apply on CUDA only.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        dev = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    else:
        dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", init_method="env://",
                                rank=rank, world_size=world)
    cuda = dev.type == "cuda"
    return Runtime(dev, rank, world, amp and cuda, channels_last and cuda)


def broadcast_parameters(modules: list[torch.nn.Module], rt: Runtime) -> None:
    """Make every rank start from rank 0's weights and buffers."""
    if not rt.distributed:
        return
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            dist.broadcast(t.data, 0)


def allreduce_gradients(params: list[torch.nn.Parameter], rt: Runtime) -> None:
    """Average gradients over ranks (one flattened all-reduce); the data-parallel step of DDP.

    We average explicitly instead of wrapping each network in ``DistributedDataParallel``
    because a CycleGAN step calls G and F several times before one backward pass, which
    DDP's per-forward reducer does not support without ``static_graph`` tricks; the
    arithmetic (mean of the per-rank gradients) is the same.
    """
    if not rt.distributed:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= rt.world
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n
