"""``python -m stimuli_gen <command>``: train, datasets, generate, evaluate.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``main(args) -> int``; modules are imported lazily, so ``--help`` is fast and a command
whose module is missing says so (exit code 1) instead of breaking the others. Bad
input exits with code 2 and a message naming the file and the fix, never a traceback
(:func:`stimuli_gen.errors.run_cli`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from stimuli_gen.errors import EXIT_FAILED, run_cli

COMMANDS = {
    "train": ("stimuli_gen.train", "train the asymmetric CycleGAN or the Pix2Pix baseline from a TOML config"),
    "datasets": ("stimuli_gen.datasets", "download and verify the training datasets (e.g. monet2photo)"),
    "generate": ("stimuli_gen.generate", "reconstruct the artworks with trained generators; write the stimuli and manifest"),
    "evaluate": ("stimuli_gen.evaluate", "image-quality metrics of generated stimuli (SSIM, COSIN, sharpness, entropy)"),
}


def _load(command: str):
    module_name = COMMANDS[command][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    if not (hasattr(module, "add_arguments") and hasattr(module, "main")):
        return None
    return module


def build_parser(command: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, object]]:
    """The top-level parser; only ``command``'s module is imported (all of them for ``--help``)."""
    parser = argparse.ArgumentParser(prog="python -m stimuli_gen", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, object] = {}
    for name, (module_name, help_text) in COMMANDS.items():
        module = _load(name) if command in (None, name) else None
        if module is None and command in (None, name):
            help_text += f" [not available: {module_name} is not installed in this checkout]"
        p = sub.add_parser(name, help=help_text, description=help_text)
        if module is not None:
            module.add_arguments(p)  # type: ignore[attr-defined]
            modules[name] = module
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        command = None
    parser, modules = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_FAILED
    module = modules.get(args.command)
    if module is None:
        print(f"error: the '{args.command}' command is not available yet: module "
              f"{COMMANDS[args.command][0]} is missing or has no add_arguments/main", file=sys.stderr)
        return EXIT_FAILED
    return int(module.main(args) or 0)  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(run_cli(main))
