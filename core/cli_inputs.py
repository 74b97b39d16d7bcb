"""What the command line's arguments describe (``core/cli_arguments.py`` parses them, ``core/cli.py`` runs
the commands): the model and training settings of the shared options (``spec_and_config``), and the files
to write, checked before any work (``check_save_path``). A value that parses but cannot be used is a
``UsageError``: exit code 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from core.errors import CoreError


class UsageError(CoreError):
    """An argument that parses but cannot be used (a --save that cannot be written, an option for the other model)."""


def shortened(text: str) -> str:
    return text if len(text) <= 80 else text[:79] + "…"


def check_save_path(text: str, option: str = "--save") -> Path:
    """The destination of ``option``'s file, checked before any work: a failure after it would lose the work."""
    if not text.strip():
        raise UsageError(f"{option} needs a file name")
    if "\0" in text:
        raise UsageError(f"{option} cannot contain a NUL byte")
    path = Path(text)
    try:
        if path.is_dir():
            raise UsageError(f"{option} {shortened(text)} is a folder; give a file name inside it")
        parent = path.parent
        if not parent.is_dir():
            what = "is not a folder" if parent.exists() else "does not exist"
            raise UsageError(f"{option} {shortened(text)}: {shortened(str(parent))} {what}")
        # a real probe: permissions, read-only mounts and too-long names all show up here
        with tempfile.NamedTemporaryFile(dir=parent, prefix=f".{path.name[:40]}.", suffix=".tmp"):
            pass
        if path.exists() and not os.access(path, os.W_OK):
            raise UsageError(f"{option} {shortened(text)} exists and cannot be overwritten")
    except OSError as err:
        raise UsageError(f"{option} {shortened(text)} cannot be written: {err.strerror or err}") from None
    return path


def parse_items(option: str, text: str, activation: str, code: bool = False):
    """The layers of ``--layers``/``--encoder``/``--decoder``; a bad item is a UsageError naming it.
    ``code``: the last item, when a bare width, is the (linear) code layer."""
    from core.errors import SpecError
    from core.layer_items import parse_layers

    try:
        return parse_layers(text, option, activation, code_activation="linear" if code else None)
    except SpecError as err:
        raise UsageError(f"{option}: {err.reason}") from None


def spec_and_config(args: argparse.Namespace, seed: object):
    """The model and training settings the shared arguments describe."""
    from core.spec import MODEL_KINDS, MLPSpec
    from core.training import TrainConfig

    kind = MODEL_KINDS[args.model]  # argparse allows only the registry's names
    for other in MODEL_KINDS.values():
        for option in () if other is kind else other.cli_options:
            if getattr(args, option[2:]) is not None:
                raise UsageError(f"{option} is for {other.a_title}, not --model {args.model}")
    spec = mlp_spec(args, seed) if kind is MLPSpec else autoencoder_spec(args, seed)
    config = TrainConfig(
        optimizer=args.optimizer,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=seed,
        reconstruction_loss=args.loss,
        augment=not args.no_augment,
        l2=args.l2,
        noise=args.noise,
        train_fraction=fraction(args.train_fraction),
    )
    return spec, config


def mlp_spec(args: argparse.Namespace, seed: object):
    """The MLP of ``--layers`` or ``--widths``."""
    from core.spec import MLPSpec

    if args.layers is not None:
        if args.widths is not None:
            raise UsageError("give --widths or --layers, not both")
        return MLPSpec(hidden=parse_items("--layers", args.layers, args.activation), seed=seed)
    return MLPSpec.mlp(args.widths or "512,256", args.activation, seed=seed)


def autoencoder_spec(args: argparse.Namespace, seed: object):
    """The autoencoder of ``--encoder`` and ``--decoder``."""
    from core.spec import AutoEncoderSpec

    encoder = parse_items("--encoder", args.encoder or "256,64,16", args.activation, code=True)
    decoder = parse_items("--decoder", args.decoder or "64,256", args.activation)
    return AutoEncoderSpec(encoder=encoder, decoder=decoder, seed=seed)


def fraction(text: object) -> object:
    """``"5%"`` -> 0.05; anything else is left for TrainConfig to check."""
    if isinstance(text, str) and text.strip().endswith("%"):
        try:
            return float(text.strip()[:-1]) / 100
        except ValueError:
            return text
    return text
