"""``python -m stimuli_gen <command>``: train, datasets, generate, evaluate, pairs.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``main(args) -> int``; modules are imported lazily, so ``--help`` is fast and a command
whose module is missing says so (exit code 1) instead of breaking the others. Bad
input exits with code 2 and a message naming the file and the fix, never a traceback
(:func:`stimuli_gen.errors.run_cli`). A command whose optional dependencies (the ``gan``
extra: torch, scikit-image) are not installed exits with code 2 and the install command
(``--help`` marks such commands as unavailable instead of failing).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from stimuli_gen.errors import EXIT_FAILED, InputError, run_cli

COMMANDS = {
    "train": ("stimuli_gen.train", "train the asymmetric CycleGAN or the Pix2Pix baseline from a TOML config"),
    "datasets": ("stimuli_gen.public_datasets", "download and verify the training datasets (e.g. monet2photo)"),
    "generate": ("stimuli_gen.generate", "reconstruct the artworks with trained generators; write the stimuli and manifest"),
    "evaluate": ("stimuli_gen.evaluate", "image-quality metrics of generated stimuli (SSIM, COSIN, sharpness, entropy)"),
    "pairs": ("stimuli_gen.pairs", "build Pix2Pix photo -> art training pairs with a neutral method (colour transfer)"),
}


#: top-level packages of the ``gan`` extra (pyproject.toml) and the command that installs them
EXTRA_PACKAGES = {"torch", "skimage"}
INSTALL_GAN = 'pip install -e ".[gan]"'


def _missing_dependency(command: str, exc: ModuleNotFoundError) -> InputError:
    return InputError(f"the '{command}' command needs the optional dependency {exc.name!r}, which is not installed",
                      expected="the project installed with its gan extra (torch, scikit-image)",
                      fix=f"run {INSTALL_GAN} in the project folder (README.md, Install), then rerun the command")


def _load(command: str, strict: bool = False):
    """Import ``command``'s module; None if it is missing. A missing optional dependency raises
    :class:`InputError` when ``strict`` (the command was asked for), else also gives None."""
    module_name = COMMANDS[command][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        if (exc.name or "").split(".")[0] in EXTRA_PACKAGES:
            if strict:
                raise _missing_dependency(command, exc) from None
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
        module = _load(name, strict=command == name) if command in (None, name) else None
        if module is None and command in (None, name):
            help_text += f" [not available: {module_name} or its dependencies are not installed; {INSTALL_GAN}]"
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
    try:
        return int(module.main(args) or 0)  # type: ignore[attr-defined]
    except ModuleNotFoundError as exc:  # a lazily imported optional dependency (e.g. torch in generate)
        if (exc.name or "").split(".")[0] in EXTRA_PACKAGES:
            raise _missing_dependency(args.command, exc) from None
        raise


if __name__ == "__main__":
    sys.exit(run_cli(main))
