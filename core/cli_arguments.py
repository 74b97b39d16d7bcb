"""The command line's arguments: ``build_parser`` for ``python -m core train|sweep|evaluate|export`` (core/cli.py).

A bad argument ends with exit code 2 and one line on stderr (no usage dump). Numbers stay text here:
``TrainConfig`` and ``ModelSpec`` check them, so the messages match the dashboard's.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        sys.exit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description="Build, train and evaluate flax.linen MLPs and autoencoders.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model and print one JSON line of results")
    _model_and_training_arguments(train)
    train.add_argument("--seed", default=0, type=_text, help="seeds initialisation, shuffling and augmentation")
    train.add_argument("--save", default=None, help="write the trained model to this checkpoint file")
    train.add_argument("--quiet", action="store_true", help="no progress on stderr")

    sweep = commands.add_parser("sweep", help="train one model per width (and seed), print one JSON line per run")
    _model_and_training_arguments(sweep)
    _sweep_arguments(sweep)

    evaluate = commands.add_parser("evaluate", help="evaluate a checkpoint on test data, print one JSON line")
    evaluate.add_argument("--checkpoint", required=True)
    source = evaluate.add_mutually_exclusive_group()
    source.add_argument("--idx-dir", help="folder with t10k-images* and t10k-labels* IDX files")
    source.add_argument("--folder", help="image folder: evaluate on FOLDER/test/<class name>/<images>")
    source.add_argument("--dataset", help="evaluate on this dataset's test split instead")
    evaluate.add_argument("--data-dir", default=None)

    export = commands.add_parser(
        "export",
        help="export a model: as ONNX (--onnx, checked against onnxruntime on test images) or as a standalone "
        "training script (--script, linen or NNX); print one JSON line",
    )
    _export_arguments(export)
    return parser


def _export_arguments(export: argparse.ArgumentParser) -> None:
    """The options of ``export``: the model (a checkpoint, or model and training options), what to write
    (``--onnx`` and/or ``--script``), which images check an ONNX file."""
    export.add_argument(
        "--checkpoint", default=None,
        help="the .msgpack checkpoint of a model (its settings too); --onnx needs one; without it, --script "
        "writes the model the model options describe",
    )  # fmt: skip
    export.add_argument(
        "--onnx", default=None,
        help="the ONNX file to write, e.g. model.onnx; an autoencoder also writes model.encode.onnx and "
        "model.decode.onnx beside it (or give model.zip for one zip of the three)",
    )  # fmt: skip
    export.add_argument("--script", default=None, help="write a standalone training script of the model here")
    export.add_argument("--api", choices=("linen", "nnx"), default="linen", help="the script's flax API")
    export.add_argument(
        "--dataset", help="the dataset: --onnx checks on its test images, --script downloads it (default: the one "
        "the checkpoint trained on; MNIST for a script without a checkpoint)",
    )  # fmt: skip
    export.add_argument("--data-dir", default=None, help="tensorflow-datasets folder")
    model_options = _model_and_training_arguments(export, data=False)
    model_options.append(
        export.add_argument("--seed", default=0, type=_text, help="seeds initialisation, shuffling and augmentation")
    )
    # what a checkpoint already holds: export refuses these options beside --checkpoint
    export.set_defaults(model_options=tuple((one.dest, one.option_strings[0], one.default) for one in model_options))
    export.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _sweep_arguments(sweep: argparse.ArgumentParser) -> None:
    """The options only ``sweep`` has: what varies, its values and the seeds."""
    sweep.add_argument(
        "--layer", default="0",
        help="the layer to resize, counted from 0 (autoencoder: encoder layers, then decoder layers), or 'all': "
        "scale every hidden layer together, each value then being the widest layer's width, the others keeping "
        "their proportions (an autoencoder's code keeps its size)",
    )  # fmt: skip
    sweep.add_argument(
        "--setting", default="width", choices=("width", "train_fraction", "l2", "dropout"),
        help="what the models differ in: the width of --layer, the share of the training images, the L2 penalty, "
        "or the rate of every Dropout layer",
    )  # fmt: skip
    sweep.add_argument(
        "--values", default=None,
        help="the values to try, e.g. 8,16,32 (widths; the default 8 to 1,024), 0.05,0.2,1 (train_fraction) "
        "or 0,0.0001,0.001 (l2)",
    )  # fmt: skip
    sweep.add_argument("--seeds", default="0", help="seeds per width, e.g. 0,1,2 (error bars need two or more)")
    sweep.add_argument(
        "--no-vmap", action="store_true",
        help="train the seeds of a width one after another with the ordinary engine, not together in one program",
    )  # fmt: skip
    sweep.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _model_and_training_arguments(command: argparse.ArgumentParser, data: bool = True) -> list[argparse.Action]:
    """The options of a model and its training, shared by ``train``, ``sweep`` and (without the data) ``export``;
    those of the model and its training (not the data's)."""
    from core.data import DATASET_CHOICES
    from core.spec import ACTIVATIONS, MODEL_KINDS
    from core.tasks import RECONSTRUCTION_LOSSES
    from core.training import OPTIMIZERS, TrainConfig

    defaults = TrainConfig()
    options: list[argparse.Action] = []

    def add(*args, **kwargs) -> None:
        options.append(command.add_argument(*args, **kwargs))

    add("--model", choices=tuple(MODEL_KINDS), default="mlp")
    # No defaults here: an option given for the other kind of model is refused, so it is seen as None
    add("--widths", help="MLP hidden layer widths (default 512,256)")
    add(
        "--layers", help="MLP hidden layers, items WIDTH[:ACTIVATION], dropout:RATE, batchnorm, layernorm, e.g. "
        "512:relu,batchnorm,dropout:0.2,256:relu (instead of --widths)",
    )  # fmt: skip
    add(
        "--encoder", help="autoencoder encoder layers (items as --layers); its last Dense layer is the code, "
        "linear unless given an activation (default 256,64,16)",
    )  # fmt: skip
    add("--decoder", help="autoencoder decoder layers, items as --layers (default 64,256)")
    add("--activation", choices=tuple(ACTIVATIONS), default="relu")
    if data:
        command.add_argument(
            "--dataset", default="sample",
            help=f"one of {', '.join(DATASET_CHOICES)} (folder: DIR/train/<class name>/<images>, DIR/test/...)",
        )  # fmt: skip
        command.add_argument(
            "--data-dir",
            default=None,
            help="tensorflow-datasets folder (mnist, fashion_mnist, kmnist, emnist_digits, emnist_letters)",
        )
    add("--epochs", default=defaults.epochs, type=_text)
    add("--batch-size", default=defaults.batch_size, type=_text)
    add("--lr", default=defaults.learning_rate, type=_text, help="learning rate")
    add("--optimizer", choices=tuple(OPTIMIZERS), default=defaults.optimizer)
    add("--loss", choices=tuple(RECONSTRUCTION_LOSSES), default="mse", help="autoencoder loss")
    add("--no-augment", action="store_true", help="do not shift training images by up to 1 pixel")
    add(
        "--l2", default=defaults.l2, type=_text,
        help="L2 penalty: the loss adds this times half the sum of squared weights (default 0: none)",
    )  # fmt: skip
    add(
        "--noise", default=defaults.noise, type=_text,
        help="standard deviation of Gaussian noise added to each training pixel, pixels being 0 to 1 (default 0)",
    )  # fmt: skip
    add(
        "--train-fraction", default=defaults.train_fraction, type=_text,
        help="train on this share of the training images, e.g. 0.05 or 5%% (a fixed subset with every "
        "class's share; default 1: all)",
    )  # fmt: skip
    return options


def _text(value: str) -> str:
    """Numbers are validated by TrainConfig so that the messages match the dashboard's."""
    return value
