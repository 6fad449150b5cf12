"""Tiny training runs: the cycle loss falls, checkpoints resume bit-for-bit, helpers behave as the reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stimuli_gen.checkpoint import export_generators, load_checkpoint, load_generator
from stimuli_gen.config import Config, LossConfig, ModelConfig, TrainConfig
from stimuli_gen.training_data import load_rgb, to_tensor
from stimuli_gen.errors import InputError
from stimuli_gen.train import Trainer, run
from stimuli_gen.train_utils import ImagePool, LinearDecay, setup_runtime

TINY = dict(ngf=8, ndf=8, n_res_blocks=2, n_dense_blocks=1, dense_layers=2, unet_downs=5)


def _images(root: Path) -> Path:
    rs = np.random.default_rng(0)
    yy, xx = np.mgrid[0:36, 0:36]
    for d in ("trainA", "trainB", "train"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(6):
        a = np.stack([128 + 100 * np.sin(xx / 5 + i), 128 + 100 * np.cos(yy / 7 + i), np.full((36, 36), 60 + 20 * i)], -1)
        a = a.clip(0, 255).astype(np.uint8)
        b = np.asarray(Image.fromarray(rs.integers(0, 255, (6, 6, 3)).astype(np.uint8)).resize((36, 36), Image.NEAREST))
        Image.fromarray(a).save(root / "trainA" / f"a{i}.png")
        Image.fromarray(b).save(root / "trainB" / f"b{i}.png")
        Image.fromarray(np.concatenate([a, 255 - a], 1)).save(root / "train" / f"p{i}.png")
    return root


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return _images(tmp_path_factory.mktemp("gan_data"))


def _cfg(kind: str, max_iterations: int, **model) -> Config:
    # pix2pix at 64 px with 6 downs so the U-Net has a dropout block (exercises the global RNG state)
    size = 64 if kind == "pix2pix" else 32
    model = {**TINY, "unet_downs": 6, **model}
    return Config(model=ModelConfig(kind=kind, **model), loss=LossConfig(),
                  train=TrainConfig(load_size=size + 4, crop_size=size, n_epochs=1, n_epochs_decay=1, pool_size=2,
                                    max_iterations=max_iterations, save_every=2, log_every=1000, num_workers=0,
                                    seed=7))


def test_tiny_run_lowers_the_cycle_loss_and_writes_checkpoints(data_root, tmp_path):
    cfg = Config(model=ModelConfig(ngf=8, ndf=8, n_res_blocks=2, n_dense_blocks=1, dense_layers=2),
                 train=TrainConfig(load_size=36, crop_size=32, max_iterations=20, pool_size=5, num_workers=0,
                                   save_every=10, log_every=1000, seed=0))
    trainer = Trainer(cfg, data_root, setup_runtime(False, False, "cpu"))
    a = torch.stack([to_tensor(load_rgb(p).resize((32, 32))) for p in sorted((data_root / "trainA").iterdir())])
    b = torch.stack([to_tensor(load_rgb(p).resize((32, 32))) for p in sorted((data_root / "trainB").iterdir())])

    def cycle() -> float:
        g, f = trainer.nets["G"], trainer.nets["F"]
        with torch.no_grad():
            return float((f(g(a)) - a).abs().mean() + (g(f(b)) - b).abs().mean())

    before = cycle()
    final = trainer.fit(tmp_path)
    assert trainer.iteration == 20
    assert cycle() < 0.97 * before
    assert (tmp_path / "latest.pt").is_file() and final == tmp_path / "final.pt"
    data, loaded = load_checkpoint(final)
    assert data["training"]["iteration"] == 20 and loaded == cfg
    net, info = load_generator(final, "AtoB")
    assert not net.training and info["kind"] == "cyclegan_asym" and info["image_size"] == 32
    with torch.no_grad():
        assert torch.equal(net(a[:1]), trainer.nets["G"](a[:1]))


def _all_tensors(path: Path) -> dict[str, torch.Tensor]:
    data, _ = load_checkpoint(path)
    out: dict[str, torch.Tensor] = {}

    def walk(prefix: str, obj) -> None:
        if isinstance(obj, torch.Tensor):
            out[prefix] = obj
        elif isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}/{k}", v)
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(f"{prefix}/{i}", v)

    walk("generators", data["generators"])
    tr = data["training"]
    for key in ("discriminators", "opt_g", "opt_d", "pools", "rng"):
        walk(key, tr[key])
    out["lr"] = torch.tensor(tr["opt_g"]["param_groups"][0]["lr"])
    return out


@pytest.mark.parametrize("kind", ["cyclegan_asym", "pix2pix"])
def test_resume_is_bit_for_bit(data_root, tmp_path, kind):
    n, m = 4, 4  # crosses the epoch boundary (6 iterations per epoch): the LR decay is exercised too
    straight = run(_cfg(kind, n + m), data_root, tmp_path / "straight", device="cpu")
    first = run(_cfg(kind, n), data_root, tmp_path / "first", device="cpu")
    resumed = run(_cfg(kind, n + m), data_root, tmp_path / "resumed", resume=first, device="cpu")
    a, b = _all_tensors(straight), _all_tensors(resumed)
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert different == []
    assert float(a["lr"]) == pytest.approx(2e-4 * 0.5)  # epoch 1 of 1 + 1: factor 1 - 1/2
    half = _all_tensors(first)
    assert any(not torch.equal(half[k], a[k]) for k in a if k.startswith("generators/"))  # the M steps did train


def test_resume_rejects_exports_and_changed_configs(data_root, tmp_path):
    final = run(_cfg("pix2pix", 1), data_root, tmp_path / "run", device="cpu")
    export = export_generators(final, tmp_path / "demo-x.pt")
    assert load_generator(export)[1]["checkpoint_id"] == "demo-x"
    assert export.stat().st_size < final.stat().st_size
    with pytest.raises(InputError, match="no training state"):
        run(_cfg("pix2pix", 2), data_root, tmp_path / "again", resume=export, device="cpu")
    with pytest.raises(InputError, match="model.ngf"):
        run(_cfg("pix2pix", 2, ngf=16), data_root, tmp_path / "again", resume=final, device="cpu")
    with pytest.raises(InputError, match="maps AtoB, not BtoA"):
        load_generator(final, "BtoA")
    # Pix2Pix at inference: test-batch BN statistics (Isola et al. 2017 sec. 3.3), dropout off
    net, _ = load_generator(final)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.running_mean is None and not m.training for m in bns)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(net(x), net(x))
        assert not torch.allclose(net(x), net(x * 0.5 + 0.2))


def test_linear_decay_matches_the_reference_rule():
    rule = LinearDecay(100, 100)
    assert rule(0) == 1.0 and rule(99) == 1.0
    assert rule(100) == pytest.approx(1 - 1 / 101) and rule(199) == pytest.approx(1 / 101)


def test_image_pool_fills_then_swaps_and_round_trips():
    pool = ImagePool(2, seed=0)
    imgs = [torch.full((1, 1, 2, 2), float(i)) for i in range(20)]
    assert torch.equal(pool.query(imgs[0]), imgs[0]) and torch.equal(pool.query(imgs[1]), imgs[1])
    clone = ImagePool(2, seed=99)
    clone.load_state_dict(pool.state_dict())
    outs = [float(pool.query(x)[0, 0, 0, 0]) for x in imgs[2:]]
    assert any(o != i + 2 for i, o in enumerate(outs))  # some queries return older images
    assert all(o <= i + 2 for i, o in enumerate(outs))  # never a future one
    assert [float(clone.query(x)[0, 0, 0, 0]) for x in imgs[2:]] == outs
    assert torch.equal(ImagePool(0, 0).query(imgs[3]), imgs[3])  # size 0 = no pool (Pix2Pix)


@pytest.mark.parametrize("name, config, directions", [("demo-ours", "demo_ours", ("AtoB", "BtoA")),
                                                      ("demo-pix2pix", "demo_pix2pix", ("AtoB",))])
def test_committed_demo_checkpoints_load_and_match_their_configs(name, config, directions):
    from stimuli_gen.config import load_config

    root = Path(__file__).resolve().parents[2]
    data, cfg = load_checkpoint(root / "data/checkpoints" / f"{name}.pt")
    assert cfg == load_config(root / "stimuli_gen/configs" / f"{config}.toml")  # README's command reproduces it
    assert data["training"] is None  # inference-only export
    for direction in directions:
        net, info = load_generator(root / "data/checkpoints" / f"{name}.pt", direction)
        assert info["checkpoint_id"] == name and info["image_size"] == 64
        with torch.no_grad():
            y = net(torch.rand(1, 3, 64, 64) * 2 - 1)
        assert y.shape == (1, 3, 64, 64) and float(y.abs().max()) <= 1.0 and float(y.std()) > 0.01


@pytest.mark.parametrize("kind", ["cyclegan_asym", "pix2pix"])
def test_sample_grids_are_written_and_do_not_change_training(data_root, tmp_path, kind):

    base = _cfg(kind, 3)
    with_samples = base.model_copy(update={"train": base.train.model_copy(update={"sample_every": 1, "n_samples": 2})})
    no_samples = base.model_copy(update={"train": base.train.model_copy(update={"sample_every": 0})})
    a = run(with_samples, data_root, tmp_path / "s", device="cpu")
    b = run(no_samples, data_root, tmp_path / "n", device="cpu")
    grids = sorted((tmp_path / "s" / "samples").glob("iter_*.png"))
    assert [g.name for g in grids] == ["iter_000001.png", "iter_000002.png", "iter_000003.png"]
    assert not (tmp_path / "n" / "samples").exists()
    size = base.train.crop_size
    cols = 6 if kind == "cyclegan_asym" else 3
    with Image.open(grids[-1]) as im:
        assert im.size == (cols * (size + 2) - 2, 2 * (size + 2) - 2)
    ta, tb = _all_tensors(a), _all_tensors(b)
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def test_gradient_norms_per_term_scale_with_their_lambda(data_root):

    cfg = _cfg("cyclegan_asym", 1)
    batch = {k: v[:1] for k, v in Trainer(cfg, data_root, setup_runtime(False, False, "cpu")).sample_batch.items()}
    norms = {}
    for lam in (1.0, 10.0):
        c = cfg.model_copy(update={"loss": cfg.loss.model_copy(update={"lambda_edge": lam})})
        trainer = Trainer(c, data_root, setup_runtime(False, False, "cpu"))
        norms[lam] = trainer.gradient_norms(batch)
        assert all(p.grad is None for p in trainer.nets["G"].parameters())
    assert set(norms[1.0]) >= {"adv", "cyc", "idt", "edge", "loss_edge"}
    assert norms[10.0]["edge"] == pytest.approx(10 * norms[1.0]["edge"], rel=1e-4)
    assert norms[10.0]["cyc"] == pytest.approx(norms[1.0]["cyc"], rel=1e-5)


def test_pilot_sweep_script_writes_losses_shares_and_grids(tmp_path):
    import csv
    import runpy

    root = Path(__file__).resolve().parents[2]
    sweep = runpy.run_path(str(root / "benchmarks" / "pilot_sweep.py"), run_name="pilot_sweep")
    from stimuli_gen.demo_training_sets import build

    data = build(tmp_path / "demo", n=2, size=40, seed=0) / "unaligned"
    assert sweep["main"](["--values", "1,100", "--iterations", "1", "--size", "32", "--ngf", "4",
                          "--data", str(data), "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["lambda_edge"]) for r in rows] == [1.0, 100.0]
    for r in rows:
        shares = [float(r[f"end_share_{t}"]) for t in ("adv", "cyc", "idt", "edge")]
        assert sum(shares) == pytest.approx(1.0, abs=0.01)
    assert float(rows[1]["start_share_edge"]) > float(rows[0]["start_share_edge"])
    for v in ("1", "100"):
        assert (tmp_path / "out" / f"lambda_edge_{v}" / "samples.png").is_file()
        assert (tmp_path / "out" / f"lambda_edge_{v}" / "losses.csv").is_file()
