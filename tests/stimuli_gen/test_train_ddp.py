"""Data-parallel training over 2 CPU processes (gloo, env:// as torchrun sets it): ranks stay in sync."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

WORKER = r"""
import sys
from pathlib import Path
import torch
import torch.distributed as dist
from stimuli_gen.config import Config, ModelConfig, TrainConfig
from stimuli_gen.train import Trainer
from stimuli_gen.train_utils import setup_runtime

torch.set_num_threads(1)
data, out = Path(sys.argv[1]), Path(sys.argv[2])
cfg = Config(model=ModelConfig(ngf=4, ndf=4, n_res_blocks=1, n_dense_blocks=1, dense_layers=1),
             train=TrainConfig(load_size=36, crop_size=32, max_iterations=2, pool_size=2, num_workers=0,
                               save_every=100, log_every=100, seed=int(sys.argv[3])))
rt = setup_runtime(False, False, "cpu")
assert dist.is_initialized() and dist.get_backend() == "gloo" and rt.world == 2
trainer = Trainer(cfg, data, rt)
init = {k: v.clone() for k, v in trainer.nets["G"].state_dict().items()}
trainer.fit(out)
torch.save({"init": init, "trained": trainer.nets["G"].state_dict()}, out / f"G_rank{rt.rank}.pt")
dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_ranks_train_in_lockstep(tmp_path):
    rs = np.random.default_rng(0)
    for d in ("trainA", "trainB"):
        (tmp_path / "data" / d).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rs.integers(0, 255, (20, 20, 3)).astype(np.uint8)).save(tmp_path / "data" / d / f"{i}.png")
    out = tmp_path / "out"
    out.mkdir()
    port = _free_port()
    procs = []
    for rank in range(2):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2",
               "RANK": str(rank), "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
        # different seeds per rank: rank 0's weights must be broadcast for the ranks to agree
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "data"), str(out), str(rank)],
                                      cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    g0 = torch.load(out / "G_rank0.pt", weights_only=True)
    g1 = torch.load(out / "G_rank1.pt", weights_only=True)
    for key in g0["trained"]:
        assert torch.equal(g0["init"][key], g1["init"][key])        # broadcast from rank 0
        assert torch.equal(g0["trained"][key], g1["trained"][key])  # averaged gradients: identical updates
    assert any(not torch.equal(g0["init"][k], g0["trained"][k]) for k in g0["init"])
    assert (out / "final.pt").is_file()  # written by rank 0 only
