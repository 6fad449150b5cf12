"""Training of the asymmetric CycleGAN (Wei Pu 2025) and of the Pix2Pix baseline.

``python -m stimuli_gen train --config stimuli_gen/configs/<x>.toml [--data DIR] [--out DIR] [--resume CKPT]``

One iteration of ``cyclegan_asym`` (reference ``CycleGANModel.optimize_parameters``):
fake_B = G(A), rec_A = F(fake_B), fake_A = F(B), rec_B = G(fake_A); the generators
minimise Eq. (13) (see :mod:`stimuli_gen.losses`) with D_A, D_B frozen; then D_B and D_A
minimise their halved LSGAN losses on real images and on images from the pools.
One iteration of ``pix2pix`` (reference ``Pix2PixModel``): D on (A, B) vs (A, G(A)),
then G with the vanilla GAN loss + 100 L1.

Defaults (reference CycleGAN, see :mod:`stimuli_gen.config`): Adam(2e-4, beta1 0.5),
100 epochs constant + 100 epochs linear decay, pool 50, batch 1, 286 -> 256 crops,
flips. Checkpoints every ``save_every`` iterations to ``OUT/latest.pt`` and at the end
to ``OUT/final.pt``; both hold everything ``--resume`` needs (models, optimisers,
schedulers, GradScaler, pools, RNG states, iteration counter), so a resumed run is
bit-for-bit the uninterrupted one on CPU (tested). CUDA: AMP (autocast float16 +
GradScaler) and channels_last; torchrun: data-parallel over ranks (gloo on CPU, nccl
on CUDA; gradients averaged, see :func:`stimuli_gen.train_utils.allreduce_gradients`).
Under torchrun, rank 0 saves, and a resume gives every rank rank 0's pools and RNG.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import math
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from stimuli_gen.checkpoint import export_generators, load_checkpoint, save_checkpoint
from stimuli_gen.config import Config, load_config
from stimuli_gen.training_data import make_dataset
from stimuli_gen.errors import InputError
from stimuli_gen.losses import (CycleLoss, GANLoss, balanced_bce, discriminator_loss, generator_objective,
                                identity_loss, pix2pix_generator_objective)
from stimuli_gen.networks import build_networks
from stimuli_gen.saliency_edges import SaliencyEdgeExtractor
from stimuli_gen.train_utils import (ImagePool, LinearDecay, Runtime, allreduce_gradients, broadcast_parameters,
                                     setup_runtime)

log = logging.getLogger(__name__)

# options that may differ between a checkpoint and the config of a resumed run
RUN_CONTROL = {"max_iterations", "save_every", "log_every", "num_workers", "sample_every", "n_samples"}


class Trainer:
    """Holds networks, optimisers, schedulers, pools and the iteration counter of one training run.

    Parameters
    ----------
    cfg : Config
        Validated configuration.
    data_root : str or Path
        Dataset root (CycleGAN layout for ``cyclegan_asym``, aligned ``train/`` for ``pix2pix``).
    runtime : Runtime, optional
        Device / distributed set-up; default: :func:`setup_runtime` from the config.
    """

    def __init__(self, cfg: Config, data_root: str | Path, runtime: Runtime | None = None) -> None:
        self.cfg = cfg
        self.rt = runtime or setup_runtime(cfg.train.amp, cfg.train.channels_last)
        self.data_root = Path(data_root)
        t, m = cfg.train, cfg.model
        self.kind = m.kind
        # read the dataset layout first: a wrong --data fails before any network is built
        self.folders = (cfg.data.folder_a, cfg.data.folder_b)
        probe = make_dataset(self.kind, self.data_root, t, t.seed, self.folders, rank=self.rt.rank,
                             world=self.rt.world)
        self.sample_batch = fixed_samples(probe, t.n_samples)
        torch.manual_seed(t.seed)
        self.nets = build_networks(m)
        fmt = torch.channels_last if self.rt.channels_last else torch.contiguous_format
        for net in self.nets.values():
            net.to(self.rt.device, memory_format=fmt)
            net.train()
        broadcast_parameters(list(self.nets.values()), self.rt)
        g_names = ["G", "F"] if self.kind == "cyclegan_asym" else ["G"]
        d_names = ["D_A", "D_B"] if self.kind == "cyclegan_asym" else ["D"]
        self.g_params = [p for n in g_names for p in self.nets[n].parameters()]
        self.d_params = [p for n in d_names for p in self.nets[n].parameters()]
        self.d_names = d_names
        betas = (t.beta1, t.beta2)
        self.opt_g = torch.optim.Adam(self.g_params, lr=t.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d_params, lr=t.lr, betas=betas)
        rule = LinearDecay(t.n_epochs, t.n_epochs_decay)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, rule)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, rule)
        self.scaler = torch.amp.GradScaler(self.rt.device.type, enabled=self.rt.amp)
        self.gan = GANLoss(cfg.loss.gan_mode_for(self.kind))
        pool = t.pool_size if self.kind == "cyclegan_asym" else 0
        self.pool_a = ImagePool(pool, t.seed * 2 + 1 + 1000 * self.rt.rank)
        self.pool_b = ImagePool(pool, t.seed * 2 + 2 + 1000 * self.rt.rank)
        if self.kind == "cyclegan_asym":
            self.cycle = CycleLoss(cfg.loss.vgg19_weights, cfg.loss.vgg_layer,
                                   cfg.loss.feature_norm).to(self.rt.device)
            self.see = SaliencyEdgeExtractor(cfg.saliency).to(self.rt.device) if cfg.loss.lambda_edge > 0 else None
        self.iteration = 0
        self.iterations_per_epoch = probe.iterations_per_epoch
        self.total_iterations = (t.n_epochs + t.n_epochs_decay) * self.iterations_per_epoch
        if t.max_iterations:
            self.total_iterations = min(self.total_iterations, t.max_iterations)

    # ------------------------------------------------------------------ steps
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.rt.amp:
            return torch.autocast(device_type="cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _set_requires_grad(self, names: list[str], flag: bool) -> None:
        for n in names:
            for p in self.nets[n].parameters():
                p.requires_grad_(flag)

    def _optimise(self, loss: torch.Tensor, opt: torch.optim.Optimizer, params: list[torch.nn.Parameter]) -> None:
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        allreduce_gradients(params, self.rt)
        self.scaler.step(opt)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation iteration on a batch ``{"A", "B"}``; returns the loss terms as floats."""
        fmt = torch.channels_last if self.rt.channels_last else torch.contiguous_format
        a = batch["A"].to(self.rt.device, non_blocking=True).contiguous(memory_format=fmt)
        b = batch["B"].to(self.rt.device, non_blocking=True).contiguous(memory_format=fmt)
        out = self._step_cyclegan(a, b) if self.kind == "cyclegan_asym" else self._step_pix2pix(a, b)
        self.scaler.update()
        self.iteration += 1
        return out

    def _step_cyclegan(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
        n, lc = self.nets, self.cfg.loss
        self._set_requires_grad(self.d_names, False)
        with self._autocast():
            fake_b = n["G"](a)
            rec_a = n["F"](fake_b)
            fake_a = n["F"](b)
            rec_b = n["G"](fake_a)
            adv_g = self.gan(n["D_B"](fake_b), True)
            adv_f = self.gan(n["D_A"](fake_a), True)
            cyc = self.cycle(rec_a, a) + self.cycle(rec_b, b)
            zero = a.new_zeros((), dtype=torch.float32)
            idt = identity_loss(n["G"](b), b) + identity_loss(n["F"](a), a) if lc.lambda_id > 0 else zero
        edge = self._edge_term(fake_b, a) if self.see is not None else zero
        loss_g = generator_objective(lc, adv_g=adv_g, adv_f=adv_f, cycle=cyc, identity=idt, edge=edge)
        self._optimise(loss_g, self.opt_g, self.g_params)
        self._set_requires_grad(self.d_names, True)
        with self._autocast():
            pooled_b = self.pool_b.query(fake_b.detach())
            pooled_a = self.pool_a.query(fake_a.detach())
            loss_db = discriminator_loss(self.gan, n["D_B"](b), n["D_B"](pooled_b))
            loss_da = discriminator_loss(self.gan, n["D_A"](a), n["D_A"](pooled_a))
        self._optimise(loss_db + loss_da, self.opt_d, self.d_params)
        terms = {"G": adv_g, "F": adv_f, "cyc": cyc, "idt": idt, "edge": edge, "D_B": loss_db, "D_A": loss_da}
        return {k: float(v.detach()) for k, v in terms.items()}

    def _step_pix2pix(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
        n = self.nets
        with self._autocast():
            fake_b = n["G"](a)
            loss_d = discriminator_loss(self.gan, n["D"](torch.cat([a, b], 1)),
                                        n["D"](torch.cat([a, fake_b.detach()], 1)))
        self._optimise(loss_d, self.opt_d, self.d_params)
        self._set_requires_grad(["D"], False)
        with self._autocast():
            adv = self.gan(n["D"](torch.cat([a, fake_b], 1)), True)
            loss_g, l1 = pix2pix_generator_objective(self.cfg.loss, adv, fake_b, b)
        self._optimise(loss_g, self.opt_g, self.g_params)
        self._set_requires_grad(["D"], True)
        return {k: float(v.detach()) for k, v in {"G": adv, "L1": l1, "D": loss_d}.items()}

    # ----------------------------------------------------------- diagnostics
    def _edge_term(self, fake_b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Eq. (12) in float32 (BCE and the FFT are not autocast-safe)."""
        return balanced_bce(self.see.edges(fake_b.float()), self.see.salient_edges(a.float()))

    def gradient_norms(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """L2 norm of the gradient on G's parameters of each weighted term of Eq. (13), for one batch.

        Terms: ``adv`` (LSGAN term of G against D_B), ``cyc`` (lambda_cyc x both cycle terms,
        each runs through G), ``idt`` (lambda_id x ||G(b) - b||_1), ``edge`` (lambda_edge x
        Eq. 12). ``adv_F`` and F's identity term do not depend on G. A diagnostic: no
        optimiser step, no change to any state (float32, no AMP); ``cyclegan_asym`` only.
        """
        if self.kind != "cyclegan_asym":
            raise ValueError("gradient_norms is defined for cyclegan_asym")
        n, lc = self.nets, self.cfg.loss
        a = batch["A"].to(self.rt.device)
        b = batch["B"].to(self.rt.device)
        params = [p for p in n["G"].parameters()]
        fake_b = n["G"](a)
        terms = {"adv": self.gan(n["D_B"](fake_b), True),
                 "cyc": lc.lambda_cyc * (self.cycle(n["F"](fake_b), a) + self.cycle(n["G"](n["F"](b)), b)),
                 "idt": lc.lambda_id * identity_loss(n["G"](b), b)}
        if self.see is not None:
            terms["edge"] = lc.lambda_edge * self._edge_term(fake_b, a)
        out = {}
        for name, term in terms.items():
            grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
            out[name] = float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)))
            out[f"loss_{name}"] = float(term.detach())
        for p in list(n["G"].parameters()) + list(n["F"].parameters()) + list(n["D_B"].parameters()):
            p.grad = None
        return out

    @torch.no_grad()
    def write_samples(self, path: str | Path) -> Path:
        """Write a grid of sample translations of the fixed sample images (rows: images; columns:
        real A, G(A), F(G(A)), real B, F(B), G(F(B)) for ``cyclegan_asym``; real A, G(A), real B for
        ``pix2pix``), as the reference saves its visuals. Copies of the generators run in eval mode on one
        image at a time (Pix2Pix: with the image's own statistics, as at test time); the training state
        (weights, running statistics, RNG) is not touched."""
        from stimuli_gen.checkpoint import use_test_batch_statistics

        nets = {k: copy.deepcopy(v).eval() for k, v in self.generators().items()}  # training state untouched
        if self.kind == "pix2pix":
            use_test_batch_statistics(nets["G"])
        rows = []
        for a, b in zip(self.sample_batch["A"], self.sample_batch["B"]):
            a, b = a[None].to(self.rt.device), b[None].to(self.rt.device)
            if self.kind == "cyclegan_asym":
                fb, fa = nets["G"](a), nets["F"](b)
                rows.append([a, fb, nets["F"](fb), b, fa, nets["G"](fa)])
            else:
                rows.append([a, nets["G"](a), b])
        return save_grid(rows, path)

    # ------------------------------------------------------------- state I/O
    def generators(self) -> dict[str, torch.nn.Module]:
        return {k: v for k, v in self.nets.items() if not k.startswith("D")}

    def training_state(self) -> dict[str, Any]:
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        return {"iteration": self.iteration,
                "discriminators": {k: self.nets[k].state_dict() for k in self.d_names},
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "sched_g": self.sched_g.state_dict(), "sched_d": self.sched_d.state_dict(),
                "scaler": self.scaler.state_dict(),
                "pools": {"A": self.pool_a.state_dict(), "B": self.pool_b.state_dict()},
                "rng": {"torch": torch.get_rng_state(), "cuda": cuda_rng}}

    def save(self, path: str | Path) -> Path | None:
        """Write a resumable checkpoint (rank 0 only)."""
        if not self.rt.is_main:
            return None
        return save_checkpoint(path, self.cfg, self.generators(), training=self.training_state())

    def load(self, data: dict[str, Any]) -> None:
        """Restore a resumable state from a checkpoint dict (see :func:`stimuli_gen.checkpoint.load_checkpoint`)."""
        tr = data.get("training")
        if not tr:
            raise InputError("this checkpoint holds no training state (an inference-only export)",
                             column="training", fix="resume from OUT/latest.pt or OUT/final.pt of a training run")
        for k, sd in data["generators"].items():
            self.nets[k].load_state_dict({n: v.float() if v.is_floating_point() else v for n, v in sd.items()})
        for k, sd in tr["discriminators"].items():
            self.nets[k].load_state_dict(sd)
        self.opt_g.load_state_dict(tr["opt_g"])
        self.opt_d.load_state_dict(tr["opt_d"])
        self.sched_g.load_state_dict(tr["sched_g"])
        self.sched_d.load_state_dict(tr["sched_d"])
        self.scaler.load_state_dict(tr["scaler"])
        self.pool_a.load_state_dict(tr["pools"]["A"], self.rt.device)
        self.pool_b.load_state_dict(tr["pools"]["B"], self.rt.device)
        torch.set_rng_state(tr["rng"]["torch"])
        if tr["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(tr["rng"]["cuda"])
        self.iteration = int(tr["iteration"])

    # ------------------------------------------------------------------ loop
    def _update_lr(self) -> None:
        epoch = self.iteration // self.iterations_per_epoch
        while self.sched_g.last_epoch < epoch:
            self.sched_g.step()
            self.sched_d.step()

    def fit(self, out_dir: str | Path) -> Path:
        """Train from the current iteration to ``total_iterations``; returns the final checkpoint path."""
        out = Path(out_dir)
        t = self.cfg.train
        remaining = self.total_iterations - self.iteration
        data = make_dataset(self.kind, self.data_root, t, t.seed, self.folders, start_iteration=self.iteration,
                            n_iterations=max(0, remaining), rank=self.rt.rank, world=self.rt.world)
        loader = DataLoader(data, batch_size=t.batch_size, shuffle=False, num_workers=t.num_workers,
                            pin_memory=self.rt.device.type == "cuda", drop_last=False,
                            persistent_workers=False, generator=torch.Generator().manual_seed(t.seed))
        # (its own generator: creating the iterator must not draw from the global RNG, or a
        # resumed run's dropout stream would be shifted by one draw)
        bar = tqdm(total=self.total_iterations, initial=self.iteration, disable=not self.rt.is_main,
                   desc=f"train {self.kind}", unit="it", dynamic_ncols=True)
        for batch in loader:
            self._update_lr()
            losses = self.step(batch)
            if not all(math.isfinite(v) for v in losses.values()):
                log.warning("non-finite loss at iteration %d: %s", self.iteration, losses)
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            bar.update(1)
            if self.rt.is_main and self.iteration % t.log_every == 0:
                log.info("iteration %d/%d lr %.2e %s", self.iteration, self.total_iterations,
                         self.opt_g.param_groups[0]["lr"],
                         " ".join(f"{k}={v:.4f}" for k, v in losses.items()))
            if self.iteration % t.save_every == 0:
                self.save(out / "latest.pt")
            if t.sample_every and self.iteration % t.sample_every == 0 and self.rt.is_main:
                self.write_samples(out / "samples" / f"iter_{self.iteration:06d}.png")
        bar.close()
        final = out / "final.pt"
        self.save(final)
        return final


def fixed_samples(dataset, n: int) -> dict[str, torch.Tensor]:
    """The first ``n`` items of epoch 0 of a dataset (deterministic: the stream is a function of the seed)."""
    items = [dataset.sample(0, i % dataset.epoch_len) for i in range(max(1, n))]
    return {k: torch.stack([it[k] for it in items]) for k in ("A", "B")}


def save_grid(rows: list[list[torch.Tensor]], path: str | Path) -> Path:
    """Save rows of 1 x 3 x H x W images in [-1, 1] as one PNG grid (2-px white gaps)."""
    import numpy as np
    from PIL import Image

    tiles = [[((t[0].detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
              for t in row] for row in rows]
    h, w = tiles[0][0].shape[:2]
    gap = 2
    grid = np.full((len(tiles) * (h + gap) - gap, len(tiles[0]) * (w + gap) - gap, 3), 255, np.uint8)
    for i, row in enumerate(tiles):
        for j, tile in enumerate(row):
            grid[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = tile
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)
    return path


def _merge_resume_config(cfg_file: Config | None, ckpt_cfg: Config, source: Path) -> Config:
    """A resumed run uses the checkpoint's config; a given --config may change only run-control options."""
    if cfg_file is None:
        return ckpt_cfg
    a, b = cfg_file.to_dict(), ckpt_cfg.to_dict()
    for section in a:
        for key in a[section]:
            if a[section][key] != b[section][key] and not (section == "train" and key in RUN_CONTROL):
                raise InputError(f"--config differs from the checkpoint in {section}.{key} "
                                 f"({a[section][key]!r} vs {b[section][key]!r})", file=source,
                                 column=f"{section}.{key}",
                                 expected="the same options, except train." + "/".join(sorted(RUN_CONTROL)),
                                 fix="resume with the original config (or without --config)")
    return cfg_file


def run(cfg: Config, data_root: str | Path, out_dir: str | Path, resume: str | Path | None = None,
        device: str | None = None) -> Path:
    """Train (or resume) and return the final checkpoint path; the programmatic form of the CLI."""
    rt = setup_runtime(cfg.train.amp, cfg.train.channels_last, device)
    state = None
    if resume is not None:
        state, ckpt_cfg = load_checkpoint(resume)
        cfg = _merge_resume_config(cfg, ckpt_cfg, Path(resume))
    trainer = Trainer(cfg, data_root, rt)
    if state is not None:
        trainer.load(state)
        log.info("resumed from %s at iteration %d", resume, trainer.iteration)
    return trainer.fit(out_dir)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``python -m stimuli_gen train``."""
    p.add_argument("--config", type=Path, default=None,
                   help="training TOML (see stimuli_gen/configs/); required unless --resume is given")
    p.add_argument("--data", type=Path, default=None,
                   help="dataset root: trainA/ and trainB/ (cyclegan_asym; other folder names via [data] folder_a/"
                        "folder_b) or train/ with A|B images (pix2pix)")
    p.add_argument("--out", type=Path, default=Path("runs/train"),
                   help="output folder for latest.pt / final.pt and samples/ (default: runs/train)")
    p.add_argument("--resume", type=Path, default=None,
                   help="continue exactly from a checkpoint written by this command (uses its config)")
    p.add_argument("--export", type=Path, default=None,
                   help="after training, also write an inference-only copy (generators only, float16) to this "
                        ".pt file; its checkpoint id is the file name without suffix")
    p.add_argument("--device", default=None,
                   help="torch device, e.g. cpu or cuda:0 (default: CUDA if present, else CPU)")


def main(args: argparse.Namespace) -> int:
    """Entry point of ``python -m stimuli_gen train``."""
    if args.config is None and args.resume is None:
        raise InputError("no configuration given", expected="--config FILE.toml or --resume CKPT",
                         fix="e.g. --config stimuli_gen/configs/cyclegan_asym.toml")
    if args.data is None:
        raise InputError("no dataset given", expected="--data DIR",
                         fix="point --data at a folder with trainA/ and trainB/ (or train/ for pix2pix)")
    cfg = load_config(args.config) if args.config is not None else None
    if cfg is None:
        _, cfg = load_checkpoint(args.resume)
    final = run(cfg, args.data, args.out, args.resume, args.device)
    log.info("done: %s", final)
    if args.export is not None and setup_runtime(False, False, args.device).is_main:
        export_generators(final, args.export)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0
