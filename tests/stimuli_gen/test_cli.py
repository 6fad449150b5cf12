"""The ``python -m stimuli_gen`` dispatcher and configuration errors (exit code 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import stimuli_gen.__main__ as cli
from stimuli_gen.config import Config, load_config
from stimuli_gen.errors import InputError, run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_configs_load_with_documented_defaults():
    ours = load_config(ROOT / "stimuli_gen/configs/cyclegan_asym.toml")
    assert ours == Config()  # the file spells out the defaults
    p2p = load_config(ROOT / "stimuli_gen/configs/pix2pix.toml")
    assert p2p.model.kind == "pix2pix" and p2p.model.norm_for_kind() == "batch"
    assert p2p.loss.gan_mode_for("pix2pix") == "vanilla" and p2p.loss.lambda_l1 == 100.0
    for name in ("demo_ours", "demo_pix2pix"):
        assert load_config(ROOT / f"stimuli_gen/configs/{name}.toml").train.crop_size == 64


@pytest.mark.parametrize("text, match", [
    ("[model]\nngf = 8\nwidth = 3\n", "unknown key 'width'"),
    ("[modle]\nngf = 8\n", "unknown section"),
    ("[model]\nngf = '8'\n", "wrong type"),
    ("[model]\nkind = 'stargan'\n", "model.kind = 'stargan' is not allowed"),
    ("[train]\nload_size = 64\ncrop_size = 128\n", "larger than train.load_size"),
    ("[train]\nlr = -1.0\n", "train.lr must be positive"),
    ("[model]\nkind = 'pix2pix'\nunet_downs = 8\n[train]\nload_size = 70\ncrop_size = 64\n", "2\\*\\*model.unet_downs"),
    ("[saliency]\nedges = 'hed'\n", "needs saliency.hed_weights"),
    ("[model]\nkind = 'pix2pix'\nunet_downs = 4\n", "unet_downs = 4 is too small"),
    ("[train]\nload_size = 20\ncrop_size = 16\n", "too small for a PatchGAN"),
    ("[model\n", "not valid TOML"),
])
def test_bad_config_is_a_clear_error(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as err:
        load_config(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("text, column, problem, expected", [
    ("[train]\nbatch_size = true\n", "train.batch_size", "wrong type (bool)", "an integer like 1"),
    ("[train]\nflip = 1\n", "train.flip", "wrong type (int)", "true or false like True"),
    ("[train]\nlr = '0.1'\n", "train.lr", "wrong type (str)", "a number like 0.0002"),
    ("model = 3\n", "model", "[model] must be a table", "a [model] table"),
    ("[loss]\nvgg_layer = 'relu9_1'\n", "loss.vgg_layer", "is not allowed", "'relu1_1', 'relu2_1'"),
    ("[train]\npool_size = -1\n", "train.pool_size", "must not be negative", "a number >= 0"),
    ("[data]\nfolder_c = 'x'\n", "data.folder_c", "unknown key 'folder_c' in [data]", "domain_a, domain_b"),
])
def test_validation_errors_name_file_key_and_expectation(tmp_path, text, column, problem, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_config(path)
    e = err.value
    assert e.file == path and e.column == column and problem in e.problem and expected in e.expected and e.fix


def test_int_is_accepted_for_a_float_option_and_stored_as_float(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text("[loss]\nlambda_cyc = 5\n")
    value = load_config(path).loss.lambda_cyc
    assert value == 5.0 and type(value) is float


def test_config_round_trips_through_its_dict_and_is_frozen():
    from stimuli_gen.config import config_from_dict

    cfg = Config()
    assert config_from_dict(cfg.to_dict()) == cfg
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        cfg.train.lr = 1.0  # type: ignore[misc]


def test_train_bad_config_exits_2_with_message(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nbatch_size = 0\n")
    code = run_cli(cli.main, ["train", "--config", str(path), "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "bad.toml" in err and "train.batch_size must be positive" in err and "fix:" in err
    assert run_cli(cli.main, ["train", "--config", str(tmp_path / "missing.toml"), "--data", "x"]) == 2
    assert "configuration file not found" in capsys.readouterr().err
    assert run_cli(cli.main, ["train", "--data", "x"]) == 2


def test_missing_dataset_exits_2_without_traceback(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nngf = 8\n[train]\nload_size = 36\ncrop_size = 32\n")
    proc = subprocess.run([sys.executable, "-m", "stimuli_gen", "train", "--config", str(cfg), "--data",
                           str(tmp_path / "nowhere")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2
    assert "trainA folder not found" in proc.stderr and "Traceback" not in proc.stderr


def test_help_lists_all_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in ("train", "datasets", "generate", "evaluate"):
        assert name in out


def test_missing_module_says_so(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "evaluate", ("stimuli_gen._no_such_module", "evaluate"))
    assert cli.main(["evaluate"]) == 1
    assert "not available" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 1
    assert "COMMAND" in capsys.readouterr().out


def test_train_command_end_to_end_with_export(tmp_path):
    import numpy as np
    import torch
    from PIL import Image

    from stimuli_gen.checkpoint import load_generator

    (tmp_path / "d" / "train").mkdir(parents=True)
    rs = np.random.default_rng(1)
    for i in range(2):
        Image.fromarray(rs.integers(0, 255, (36, 72, 3)).astype(np.uint8)).save(tmp_path / "d" / "train" / f"{i}.png")
    cfg = tmp_path / "p.toml"
    cfg.write_text("[model]\nkind = 'pix2pix'\nngf = 4\nndf = 4\nunet_downs = 5\n"
                   "[train]\nload_size = 36\ncrop_size = 32\nmax_iterations = 2\nnum_workers = 0\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = run_cli(cli.main, ["train", "--config", str(cfg), "--data", str(tmp_path / "d"),
                                  "--out", str(tmp_path / "out"), "--export", str(tmp_path / "demo-tiny.pt")])
    finally:
        torch.set_num_threads(threads)
    assert code == 0 and (tmp_path / "out" / "final.pt").is_file()
    net, info = load_generator(tmp_path / "demo-tiny.pt")
    assert info == {**info, "kind": "pix2pix", "checkpoint_id": "demo-tiny", "image_size": 32, "direction": "AtoB"}


def test_without_torch_a_command_exits_2_with_the_install_command(tmp_path):
    """Simulate the README's first install (no gan extra): importing torch fails."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import importlib.abc, sys\n"
        "class _NoTorch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\", name=name)\n"
        "sys.meta_path.insert(0, _NoTorch())\n")
    env = {**__import__("os").environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    for argv in (["train", "--config", "x.toml"], ["generate", "--demo", "--ours", "a.pt", "--pix2pix", "b.pt", "--out", str(tmp_path / "o")]):
        proc = subprocess.run([sys.executable, "-m", "stimuli_gen", *argv], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "'torch'" in proc.stderr and 'pip install -e ".[gan]"' in proc.stderr
        assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "stimuli_gen", "--help"], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0 and "not available" in proc.stdout and "Traceback" not in proc.stderr


def test_dataset_configs_set_the_domain_orientation():
    cfgs = {n: load_config(ROOT / f"stimuli_gen/configs/{n}.toml")
            for n in ("monet2photo", "horse2zebra", "summer2winter", "facades", "pix2pix_facades")}
    m = cfgs["monet2photo"]
    assert (m.data.folder_a, m.data.folder_b) == ("trainB", "trainA")  # the archive's A = Monet paintings
    assert m.data.domain_b == "Monet paintings" and m.model == Config().model and m.loss == Config().loss
    for n in ("horse2zebra", "summer2winter"):
        assert (cfgs[n].data.folder_a, cfgs[n].data.folder_b) == ("trainA", "trainB")
    assert cfgs["facades"].data.folder_a == "trainB"  # label maps -> photos, as Pix2Pix on facades
    p2p = cfgs["pix2pix_facades"]
    assert p2p.model.kind == "pix2pix" and p2p.train.direction == "BtoA"
    with pytest.raises(InputError, match="not a subfolder name"):
        from stimuli_gen.config import config_from_dict

        config_from_dict({"data": {"folder_a": "../x"}})


def test_docs_options_table_is_generated_from_the_models():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_config_reference", ROOT / "docs" / "make_config_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    block = mod.render()
    assert block in (ROOT / "docs" / "stimuli_gen.md").read_text(encoding="utf-8"), \
        "docs/stimuli_gen.md is out of date: run python docs/make_config_reference.py"
    for section, sfield in Config.model_fields.items():
        for key in sfield.annotation.model_fields:
            assert f"| `{key}` |" in block
