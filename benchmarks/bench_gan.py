"""Benchmark: CycleGAN training-step time against the reference architecture, and inference throughput;
and the one-command GPU smoke test.

Run from the repository root with the virtual environment active::

    OMP_NUM_THREADS=1 python benchmarks/bench_gan.py --size 128 --steps 5
    OMP_NUM_THREADS=1 python benchmarks/bench_gan.py --size 256 --steps 3 --inference
    python benchmarks/bench_gan.py --smoke                 # GPU smoke test (CUDA; 2-GPU torchrun if >= 2 GPUs)
    python benchmarks/bench_gan.py --smoke --device cpu --size 64 --ngf 8 --nproc 2   # the same checks on CPU

GPU smoke test (``--smoke``): the paper's model (default config, ``--ngf`` 64) trains
``--iterations`` iterations at ``--size`` px on random images through
:class:`stimuli_gen.train.Trainer` with ``amp`` and ``channels_last`` on, and checks: every
loss finite; the GradScaler enabled (CUDA) with a finite scale; every 4-D weight in
channels_last memory format (CUDA); a checkpoint written, reloaded and resumed for one
more iteration; a sample grid written; iteration time and peak GPU memory printed. With
``--nproc N`` (default: the number of visible GPUs, at most 2) it then relaunches itself
under ``torch.distributed.run`` (torchrun) with N processes (nccl on CUDA, gloo on CPU)
and checks that after training every rank holds the same G weights (a checksum
all-gather). Prints ``SMOKE OK`` and exits 0, or names the failed check and exits 1; no
CUDA device with ``--device cuda`` exits 2.

What is timed (CPU, one thread, batch 1, random inputs, data loading excluded):

* ``reference``: a CycleGAN step written here *after* the reference code
  (junyanz/pytorch-CycleGAN-and-pix2pix, ``models/networks.py`` ``ResnetGenerator`` with
  9 blocks, ``NLayerDiscriminator`` n_layers 3, instance norm without affine, reflection
  padding, init N(0, 0.02); ``models/cycle_gan_model.py`` ``optimize_parameters``: LSGAN,
  pixel L1 cycle with lambda 10, identity 0.5, image pools of 50, D loss halved; two Adam
  optimisers lr 2e-4, beta1 0.5). Written independently for comparison, not imported.
* ``ours, reference config``: :class:`stimuli_gen.train.Trainer` with F replaced by our
  ResNet generator and lambda_edge = 0, i.e. the same computation through our code.
  Target: <= 1.0x the reference's time.
* ``ours, asymmetric``: the paper's model as configured by default (dense F, saliency
  edge loss, pixel cycle loss because no VGG-19 weights are available offline).

Figures: best-of-N thread CPU time (``time.thread_time``; robust on a shared machine)
and the median wall time. Inference: images/s of G, F and the Pix2Pix U-Net at the given
size under ``torch.inference_mode``. CUDA/AMP paths are not measured (no GPU here).
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from stimuli_gen.config import Config, LossConfig, ModelConfig, TrainConfig
from stimuli_gen.networks import DenseGenerator, ResnetGenerator, UnetGenerator, init_weights
from stimuli_gen.train import Trainer
from stimuli_gen.train_utils import setup_runtime


# ----------------------------------------------------------------------------- reference CycleGAN
class RefResnetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=True), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=True), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


def ref_resnet_generator(ngf: int = 64, n_blocks: int = 9) -> nn.Module:
    model = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, padding=0, bias=True), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
    for i in range(2):
        mult = 2 ** i
        model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=True),
                  nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
    model += [RefResnetBlock(ngf * 4) for _ in range(n_blocks)]
    for i in range(2):
        mult = 2 ** (2 - i)
        model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=True),
                  nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
    model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7, padding=0), nn.Tanh()]
    return nn.Sequential(*model)


def ref_nlayer_discriminator(ndf: int = 64, n_layers: int = 3) -> nn.Module:
    seq = [nn.Conv2d(3, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, n_layers):
        prev, mult = mult, min(2 ** n, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=True), nn.InstanceNorm2d(ndf * mult),
                nn.LeakyReLU(0.2, True)]
    prev, mult = mult, min(2 ** n_layers, 8)
    seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=True), nn.InstanceNorm2d(ndf * mult),
            nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
    return nn.Sequential(*seq)


class RefPool:
    def __init__(self, size: int) -> None:
        self.size, self.images = size, []

    def query(self, images):
        out = []
        for img in images:
            img = img.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(img)
                out.append(img)
            elif np.random.uniform() > 0.5:
                k = np.random.randint(0, self.size)
                old = self.images[k].clone()
                self.images[k] = img
                out.append(old)
            else:
                out.append(img)
        return torch.cat(out, 0)


class RefCycleGAN:
    def __init__(self, ngf: int, ndf: int) -> None:
        self.G_A, self.G_B = ref_resnet_generator(ngf), ref_resnet_generator(ngf)
        self.D_A, self.D_B = ref_nlayer_discriminator(ndf), ref_nlayer_discriminator(ndf)
        for net in (self.G_A, self.G_B, self.D_A, self.D_B):
            init_weights(net, 0.02)
        self.opt_G = torch.optim.Adam(list(self.G_A.parameters()) + list(self.G_B.parameters()), lr=2e-4, betas=(0.5, 0.999))
        self.opt_D = torch.optim.Adam(list(self.D_A.parameters()) + list(self.D_B.parameters()), lr=2e-4, betas=(0.5, 0.999))
        self.pool_A, self.pool_B = RefPool(50), RefPool(50)
        self.mse, self.l1 = nn.MSELoss(), nn.L1Loss()

    def gan(self, pred, real: bool):
        return self.mse(pred, torch.full_like(pred, 1.0 if real else 0.0))

    def step(self, real_A, real_B) -> None:
        fake_B = self.G_A(real_A)
        rec_A = self.G_B(fake_B)
        fake_A = self.G_B(real_B)
        rec_B = self.G_A(fake_A)
        for p in list(self.D_A.parameters()) + list(self.D_B.parameters()):
            p.requires_grad_(False)
        self.opt_G.zero_grad()
        idt_A = self.G_A(real_B)
        idt_B = self.G_B(real_A)
        loss = (self.gan(self.D_A(fake_B), True) + self.gan(self.D_B(fake_A), True)
                + self.l1(rec_A, real_A) * 10 + self.l1(rec_B, real_B) * 10
                + self.l1(idt_A, real_B) * 10 * 0.5 + self.l1(idt_B, real_A) * 10 * 0.5)
        loss.backward()
        self.opt_G.step()
        for p in list(self.D_A.parameters()) + list(self.D_B.parameters()):
            p.requires_grad_(True)
        self.opt_D.zero_grad()
        fb = self.pool_B.query(fake_B.detach())
        (0.5 * (self.gan(self.D_A(real_B), True) + self.gan(self.D_A(fb), False))).backward()
        fa = self.pool_A.query(fake_A.detach())
        (0.5 * (self.gan(self.D_B(real_A), True) + self.gan(self.D_B(fa), False))).backward()
        self.opt_D.step()


# ----------------------------------------------------------------------------- ours
def _tiny_dataset(root: Path, size: int) -> Path:
    for d in ("trainA", "trainB"):
        (root / d).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((size, size, 3), np.uint8)).save(root / d / "x.png")
    return root


def our_trainer(size: int, ngf: int, ndf: int, reference_config: bool, root: Path) -> Trainer:
    cfg = Config(model=ModelConfig(ngf=ngf, ndf=ndf),
                 loss=LossConfig(lambda_edge=0.0 if reference_config else 1.0),
                 train=TrainConfig(load_size=size, crop_size=size, num_workers=0))
    trainer = Trainer(cfg, _tiny_dataset(root, size), setup_runtime(False, False, "cpu"))
    if reference_config:  # F as a ResNet generator: the symmetric reference CycleGAN
        f = init_weights(ResnetGenerator(3, 3, ngf, 9, "instance"))
        trainer.nets["F"] = f
        trainer.g_params = list(trainer.nets["G"].parameters()) + list(f.parameters())
        trainer.opt_g = torch.optim.Adam(trainer.g_params, lr=2e-4, betas=(0.5, 0.999))
    return trainer


def time_steps(step, steps: int, warmup: int = 1) -> tuple[float, float]:
    for _ in range(warmup):
        step()
    cpu, wall = [], []
    for _ in range(steps):
        c0, w0 = time.thread_time(), time.perf_counter()
        step()
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), statistics.median(wall)


# ----------------------------------------------------------------------------- GPU smoke test
def _smoke_data(root: Path, size: int) -> Path:
    rs = np.random.default_rng(0)
    for d in ("trainA", "trainB"):
        (root / d).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            img = rs.integers(0, 255, (size + 30, size + 30, 3)).astype(np.uint8)
            Image.fromarray(img).save(root / d / f"{i}.png")
    return root


def _smoke_config(size: int, ngf: int, iterations: int) -> Config:
    return Config(model=ModelConfig(ngf=ngf, ndf=ngf),
                  train=TrainConfig(load_size=size + 30, crop_size=size, max_iterations=iterations, num_workers=0,
                                    save_every=max(1, iterations // 2), sample_every=iterations, n_samples=2,
                                    log_every=10 ** 6, amp=True, channels_last=True))


def smoke_single(device: str, size: int, ngf: int, iterations: int, work: Path) -> list[str]:
    """The single-process checks; returns the failed checks (empty = all passed)."""
    from torch.utils.data import DataLoader

    from stimuli_gen.checkpoint import load_checkpoint
    from stimuli_gen.training_data import make_dataset

    failed: list[str] = []
    cfg = _smoke_config(size, ngf, iterations)
    rt = setup_runtime(True, True, device)
    trainer = Trainer(cfg, _smoke_data(work / "data", size), rt)
    cuda = rt.device.type == "cuda"
    if cuda and not (rt.amp and trainer.scaler.is_enabled()):
        failed.append("AMP/GradScaler not enabled on CUDA")
    if cuda:
        bad = [n for k, net in trainer.nets.items() for n, p in net.named_parameters()
               if p.dim() == 4 and not p.is_contiguous(memory_format=torch.channels_last)]
        if bad:
            failed.append(f"{len(bad)} 4-D weights not channels_last, e.g. {bad[0]}")
        torch.cuda.reset_peak_memory_stats()
    t = cfg.train
    ds = make_dataset(trainer.kind, work / "data", t, t.seed, trainer.folders, n_iterations=iterations)
    times = []
    for batch in DataLoader(ds, batch_size=1, num_workers=0):
        trainer._update_lr()
        t0 = time.perf_counter()
        losses = trainer.step(batch)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        if not all(math.isfinite(v) for v in losses.values()):
            failed.append(f"non-finite loss at iteration {trainer.iteration}: {losses}")
    if cuda and not math.isfinite(float(trainer.scaler.get_scale())):
        failed.append("GradScaler scale is not finite")
    ckpt = trainer.save(work / "out" / "latest.pt")
    grid = trainer.write_samples(work / "out" / "samples" / "smoke.png")
    if not grid.is_file():
        failed.append("no sample grid")
    state, cfg2 = load_checkpoint(ckpt)
    resumed = Trainer(cfg2, work / "data", rt)
    resumed.load(state)
    if resumed.iteration != trainer.iteration:
        failed.append("resumed iteration differs")
    more = resumed.step(next(iter(DataLoader(ds, batch_size=1, num_workers=0))))
    if not all(math.isfinite(v) for v in more.values()):
        failed.append("non-finite loss after resume")
    mem = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2 ** 30:.2f} GiB" if cuda else ""
    name = torch.cuda.get_device_name(rt.device) if cuda else "CPU"
    print(f"smoke 1 process on {name}: {iterations} iterations at {size} px, ngf {ngf}, amp {rt.amp}, "
          f"channels_last {rt.channels_last}; step median {statistics.median(times[1:] or times):.3f} s "
          f"(first {times[0]:.3f} s){mem}; last losses " + " ".join(f"{k}={v:.3f}" for k, v in losses.items()))
    return failed


def smoke_rank(device: str, size: int, ngf: int, iterations: int, work: Path) -> int:
    """One torchrun rank: train, then compare a checksum of G across ranks (rank 0 reports)."""
    import torch.distributed as dist

    cfg = _smoke_config(size, ngf, iterations)
    rt = setup_runtime(True, True, device)
    data = work / "data"
    if rt.rank == 0:
        _smoke_data(data, size)
    dist.barrier()
    trainer = Trainer(cfg, data, rt)
    trainer.fit(work / "out_ddp")
    checksum = torch.stack([p.detach().double().sum() for p in trainer.nets["G"].parameters()]).sum().reshape(1)
    checksum = checksum.to(rt.device)
    gathered = [torch.zeros_like(checksum) for _ in range(rt.world)]
    dist.all_gather(gathered, checksum)
    ok = all(torch.equal(g, gathered[0]) for g in gathered)
    if rt.rank == 0:
        print(f"smoke {rt.world} processes ({dist.get_backend()}): G checksums "
              + ", ".join(f"{float(g):.6f}" for g in gathered) + (" equal" if ok else " DIFFER"))
    dist.destroy_process_group()
    return 0 if ok else 1


def smoke(a: argparse.Namespace) -> int:
    import os
    import subprocess
    import sys

    if a.smoke_rank:
        return smoke_rank(a.device, a.size, a.ngf, a.iterations, Path(a.work))
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: --smoke needs a CUDA device (or --device cpu for a CPU dry run)", file=sys.stderr)
        return 2
    nproc = a.nproc if a.nproc is not None else min(2, torch.cuda.device_count() if a.device.startswith("cuda") else 1)
    with tempfile.TemporaryDirectory() as tmp:
        failed = smoke_single(a.device, a.size, a.ngf, a.iterations, Path(tmp) / "single")
        if nproc >= 2:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                   str(Path(__file__).resolve()), "--smoke", "--smoke-rank", "--device", a.device, "--size", str(a.size),
                   "--ngf", str(a.ngf), "--iterations", str(a.iterations), "--work", str(Path(tmp) / "ddp")]
            env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
            if a.device == "cpu":
                env["CUDA_VISIBLE_DEVICES"] = ""
            if subprocess.run(cmd, env=env).returncode != 0:
                failed.append(f"torchrun with {nproc} processes failed or ranks differ")
    for f in failed:
        print(f"FAILED: {f}")
    print("SMOKE OK" if not failed else "SMOKE FAILED")
    return 0 if not failed else 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="image size in px (default 256)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per variant (best of N; default 3)")
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--ndf", type=int, default=64)
    ap.add_argument("--inference", action="store_true", help="also time inference (images/s) of G, F and the U-Net")
    ap.add_argument("--smoke", action="store_true", help="run the GPU smoke test instead of the CPU benchmark")
    ap.add_argument("--device", default="cuda", help="smoke test device (default: cuda)")
    ap.add_argument("--nproc", type=int, default=None,
                    help="smoke test processes under torchrun (default: visible GPUs, at most 2; 1 = skip)")
    ap.add_argument("--iterations", type=int, default=6, help="smoke test iterations (default 6)")
    ap.add_argument("--smoke-rank", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--work", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.smoke:
        raise SystemExit(smoke(a))
    torch.set_num_threads(1)
    torch.manual_seed(0)
    np.random.seed(0)
    x = torch.rand(1, 3, a.size, a.size) * 2 - 1
    y = torch.rand(1, 3, a.size, a.size) * 2 - 1
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, {a.size} px, ngf {a.ngf}, ndf {a.ndf}")
    with tempfile.TemporaryDirectory() as tmp:
        ref = RefCycleGAN(a.ngf, a.ndf)
        same = our_trainer(a.size, a.ngf, a.ndf, True, Path(tmp) / "a")
        asym = our_trainer(a.size, a.ngf, a.ndf, False, Path(tmp) / "b")
        results = {}
        # interleave the variants round by round so load changes on a shared machine hit all alike
        runs: dict[str, list[tuple[float, float]]] = {"reference": [], "ours, reference config": [], "ours, asymmetric": []}
        steps = {"reference": lambda: ref.step(x, y),
                 "ours, reference config": lambda: same.step({"A": x, "B": y}),
                 "ours, asymmetric": lambda: asym.step({"A": x, "B": y})}
        for step in steps.values():  # one warm-up step each (allocator, lazy initialisation)
            step()
        for _ in range(a.steps):
            for name, step in steps.items():
                runs[name].append(time_steps(step, 1, warmup=0))
        for name, r in runs.items():
            results[name] = (min(c for c, _ in r), statistics.median(w for _, w in r))
    base = results["reference"][0]
    print("| variant | step CPU (best) | step wall (median) | CPU vs reference |")
    print("|---|---|---|---|")
    for name, (cpu, wall) in results.items():
        print(f"| {name} | {cpu:.3f} s | {wall:.3f} s | {cpu / base:.2f}x |")
    if a.inference:
        nets = {"G (ResNet, 9 blocks)": ResnetGenerator(3, 3, a.ngf, 9),
                "F (dense, 3x6, k=2 ngf)": DenseGenerator(3, 3, a.ngf, 3, 6, 2 * a.ngf),
                "Pix2Pix U-Net": UnetGenerator(3, 3, a.ngf, min(8, int(math.log2(a.size))), "batch")}
        print("| network | inference CPU per image (best) | images/s (CPU) | wall (median) |")
        print("|---|---|---|---|")
        for name, net in nets.items():
            net.eval()
            with torch.inference_mode():
                cpu, wall = time_steps(lambda: net(x), max(3, a.steps))
            print(f"| {name} | {cpu:.3f} s | {1 / cpu:.2f} | {wall:.3f} s |")


if __name__ == "__main__":
    main()
