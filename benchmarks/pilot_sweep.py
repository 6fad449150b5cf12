"""Pilot sweep of a loss weight of the asymmetric CycleGAN: losses, gradient shares and a sample grid per setting.

    python benchmarks/pilot_sweep.py --param lambda_edge --values 1,3,10,30,100,300,1000 \
        [--data DIR] [--size 128] [--iterations 30] [--ngf 16] [--config base.toml] [--out runs/pilot_edge]

For each value of ``--param`` (``lambda_edge`` or ``lambda_cyc``; any ``[loss]`` key works)
a fresh model (same seed, same data stream) is trained for ``--iterations`` iterations,
and the script writes into ``--out``:

* ``<param>_<value>/losses.csv``: every iteration's loss terms (the training log);
* ``<param>_<value>/samples.png``: the sample grid after the last iteration (rows: the
  fixed sample images; columns: real A, G(A), F(G(A)), real B, F(B), G(F(B)));
* ``summary.csv`` and ``summary.md``: per value, the L2 norm of the gradient on G of each
  weighted term of Eq. (13) (:meth:`stimuli_gen.train.Trainer.gradient_norms`, averaged
  over the sample images) at the start and at the end, each term's share of their sum,
  and the mean of each loss term over the last 5 iterations.

Without ``--data`` the demo data set is built (``python -m stimuli_gen.demo_training_sets``, 40
images per domain at ``--size + 8`` px) in a temporary folder. The base configuration is
the demo one (``ngf = ndf = 16``, pixel cycle loss unless ``--config`` sets
``vgg19_weights``) at ``--size`` px; give ``--config`` to sweep another. CPU: set
``OMP_NUM_THREADS=1`` on a shared machine; a 128-px ngf-16 iteration takes about 1 s.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stimuli_gen.config import Config, load_config  # noqa: E402
from stimuli_gen.training_data import make_dataset  # noqa: E402
from stimuli_gen.train import Trainer  # noqa: E402
from stimuli_gen.train_utils import setup_runtime  # noqa: E402

TERMS = ("adv", "cyc", "idt", "edge")


def base_config(path: Path | None, size: int, ngf: int, iterations: int) -> Config:
    cfg = load_config(path) if path else load_config(ROOT / "stimuli_gen" / "configs" / "demo_ours.toml")
    model = cfg.model.model_copy(update=dict(ngf=ngf, ndf=ngf))
    train = cfg.train.model_copy(update=dict(load_size=size + 8, crop_size=size, max_iterations=iterations,
                                             num_workers=0, sample_every=0, save_every=10 ** 9, log_every=10 ** 9))
    return cfg.model_copy(update=dict(model=model, train=train))


def mean_norms(trainer: Trainer) -> dict[str, float]:
    s = trainer.sample_batch
    runs = [trainer.gradient_norms({"A": s["A"][i:i + 1], "B": s["B"][i:i + 1]}) for i in range(len(s["A"]))]
    return {k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}


def shares(norms: dict[str, float]) -> dict[str, float]:
    total = sum(norms.get(t, 0.0) for t in TERMS)
    return {t: norms.get(t, 0.0) / total for t in TERMS}


def run_one(cfg: Config, data: Path, out: Path) -> dict[str, object]:
    torch.manual_seed(cfg.train.seed)
    trainer = Trainer(cfg, data, setup_runtime(False, False, "cpu"))
    start = mean_norms(trainer)
    t = cfg.train
    ds = make_dataset(trainer.kind, data, t, t.seed, trainer.folders, n_iterations=trainer.total_iterations)
    loader = DataLoader(ds, batch_size=t.batch_size, shuffle=False, num_workers=0)
    out.mkdir(parents=True, exist_ok=True)
    log: list[dict[str, float]] = []
    t0 = time.perf_counter()
    for batch in loader:
        trainer._update_lr()
        log.append({"iteration": trainer.iteration + 1, **trainer.step(batch)})
    seconds = (time.perf_counter() - t0) / max(1, len(log))
    with open(out / "losses.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(log[0]))
        w.writeheader()
        w.writerows(log)
    trainer.write_samples(out / "samples.png")
    end = mean_norms(trainer)
    last = log[-5:]
    return {"start": start, "end": end, "seconds_per_iteration": seconds,
            "losses": {k: sum(r[k] for r in last) / len(last) for k in log[0] if k != "iteration"}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--param", default="lambda_edge", help="[loss] key to sweep (default: lambda_edge)")
    ap.add_argument("--values", default="1,3,10,30,100,300,1000", help="comma-separated values")
    ap.add_argument("--data", type=Path, default=None, help="dataset root (default: the demo set, built)")
    ap.add_argument("--config", type=Path, default=None, help="base config (default: demo_ours.toml)")
    ap.add_argument("--size", type=int, default=128, help="crop size in px (default: 128)")
    ap.add_argument("--ngf", type=int, default=16, help="generator/discriminator width (default: 16)")
    ap.add_argument("--iterations", type=int, default=30, help="iterations per value (default: 30)")
    ap.add_argument("--out", type=Path, default=Path("runs/pilot_sweep"), help="output folder")
    a = ap.parse_args(argv)
    values = [float(v) for v in a.values.split(",")]
    base = base_config(a.config, a.size, a.ngf, a.iterations)
    if a.param not in type(base.loss).model_fields:
        ap.error(f"--param must be a [loss] key, got {a.param!r}")
    tmp = None
    data = a.data
    if data is None:
        from stimuli_gen.demo_training_sets import build

        tmp = tempfile.TemporaryDirectory()
        data = build(Path(tmp.name), n=40, size=a.size + 8, seed=0) / "unaligned"
    rows = []
    for v in values:
        cfg = base.model_copy(update={"loss": base.loss.model_copy(update={a.param: v})})
        res = run_one(cfg, data, a.out / f"{a.param}_{v:g}")
        row = {a.param: v, "s_per_it": round(res["seconds_per_iteration"], 2)}
        for when in ("start", "end"):
            norms, share = res[when], shares(res[when])
            for t in TERMS:
                row[f"{when}_grad_{t}"] = round(norms.get(t, 0.0), 4)
                row[f"{when}_share_{t}"] = round(share[t], 3)
        for k, val in res["losses"].items():
            row[f"loss_{k}"] = round(val, 4)
        rows.append(row)
        print(", ".join(f"{k}={val}" for k, val in row.items()), flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    with open(a.out / "summary.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cols = [a.param] + [f"end_share_{t}" for t in TERMS] + [f"end_grad_{t}" for t in TERMS] + \
        ["loss_cyc", "loss_edge", "loss_G"]
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    (a.out / "summary.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print(f"wrote {a.out}/summary.csv, summary.md and one folder per value")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
