"""Code a person can take home: the spec's model in flax NNX, and a standalone training script in
flax.linen or flax NNX with a run's settings.

The text comes from the templates in ``core/assets/code`` (``string.Template``: ``${name}`` is filled
in), so each piece reads as the Python it will be. The NNX model's lines come from its layer types
(``Layer.nnx_code`` / ``nnx_call_code``), the linen ones from ``Layer.linen_call_code``: explicit
``@nn.compact`` modules as in flax's examples, holding exactly the spec's layers (their variables are
named and shaped as ``core.models``' own, which a test checks). A script needs only jax, flax, optax and
numpy (and tensorflow-datasets to download a dataset): it never imports this project.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from string import Template

from core import nnx_models
from core.data import dataset_title, parse_dataset_name
from core.errors import DataError
from core.spec import AutoEncoderSpec, MLPSpec, ModelSpec
from core.training import TrainConfig

TEMPLATES = Path(__file__).parent / "assets" / "code"
#: The APIs a script can be written in, in words.
APIS = {"linen": "flax.linen", "nnx": "flax NNX"}


def template(name: str) -> Template:
    return Template((TEMPLATES / f"{name}.tmpl").read_text())


def fill(name: str, **values: object) -> str:
    """The template ``name`` with its ``${...}`` filled (KeyError for a missing value)."""
    return template(name).substitute(**{key: str(value) for key, value in values.items()}).rstrip() + "\n"


@dataclass(frozen=True)
class KindCode:
    """What differs between the kinds of model in the generated code."""

    model_class: str  # the NNX class that is the model
    stack_docs: dict[str, str]  # each NNX stack class's docstring
    linen_outputs: str  # defines OUTPUTS: the ``method=`` of linen's ``model.apply`` the loss starts from
    nnx_outputs: str  # defines ``model_outputs(model, images)``, the same in NNX
    usage: str  # the snippet's last lines


KIND_CODE: dict[type[ModelSpec], KindCode] = {
    MLPSpec: KindCode(
        model_class="MLP",
        stack_docs={"MLP": "Layers applied in order to the images; the last gives one score per class."},
        linen_outputs="OUTPUTS = None  # model.apply calls the model itself: one score (logit) per class",
        nnx_outputs='def model_outputs(model, images):\n    """One score (logit) per class."""\n'
        "    return model(images)",
        usage="logits = model(x)  # one score per class, shape (1, ${classes})",
    ),
    AutoEncoderSpec: KindCode(
        model_class="AutoEncoder",
        stack_docs={
            "Encoder": "From the image's pixels down to the code (its last layer).",
            "Decoder": "From the code back up to one value per pixel (before the sigmoid).",
        },
        linen_outputs='def reconstruction_logits(module, images, train=False):\n    """The decoder\'s output '
        'before its sigmoid: the losses start from it."""\n    return module.decode_logits(module.encode(images, '
        "train), train)\n\n\nOUTPUTS = reconstruction_logits  # what model.apply(..., method=OUTPUTS) returns",
        nnx_outputs='def model_outputs(model, images):\n    """The decoder\'s output before its sigmoid: the losses '
        'start from it."""\n    return model.decode_logits(model.encode(images))',
        usage="code = model.encode(x)  # shape (1, ${code_size})\n"
        "reconstruction = model.decode(code)  # shape (1, 28, 28, 1)",
    ),
}


def _indent(lines: list[str]) -> str:
    return textwrap.indent("\n".join(lines), " " * 8)


def nnx_model_source(spec: ModelSpec) -> str:
    """The NNX classes of the spec's model: one per stack of layers, then the autoencoder around them."""
    kind = KIND_CODE[type(spec)]
    classes = []
    for stack in nnx_models.stacks(spec):
        classes.append(
            fill(
                "nnx_stack",
                class_name=stack.class_name,
                doc=kind.stack_docs[stack.class_name],
                constructors=_indent([line for one in stack.layers for line in one.code()]),
                calls=_indent([line for one in stack.layers for line in one.call_code()]),
            )
        )
    if spec.code_size is not None:
        classes.append(fill("nnx_autoencoder", code_size=spec.code_size, input_shape=_shape(spec)))
    return "\n\n".join(classes)


def train_flag_note(stack: nnx_models.Stack) -> str:
    """What ``train`` changes in a linen stack, in words, from the layers it holds."""
    changes = []
    if any(one.layer.rngs for one in stack.layers):
        changes.append("Dropout drops values at random")
    if any(one.layer.collections for one in stack.layers):
        changes.append("BatchNorm normalises with the batch's own statistics, updating its running averages")
    if not changes:
        return "``train`` changes nothing here (no Dropout or BatchNorm)."
    return f"``train`` is True while training: {' and '.join(changes)}."


def linen_model_source(spec: ModelSpec) -> str:
    """The flax.linen classes of the spec's model: one ``@nn.compact`` module per stack of layers, each
    layer created where it is used, then the autoencoder around them (``setup``, ``encode``, ``decode``)."""
    kind = KIND_CODE[type(spec)]
    classes = []
    for stack in nnx_models.stacks(spec):
        note = textwrap.fill(train_flag_note(stack), 100, initial_indent="    ", subsequent_indent="    ")
        doc = f"{kind.stack_docs[stack.class_name]}\n\n{note}\n    "
        calls = _indent([line for one in stack.layers for line in one.linen_code()])
        classes.append(fill("linen_stack", class_name=stack.class_name, doc=doc, calls=calls))
    if spec.code_size is not None:
        classes.append(fill("linen_autoencoder", code_size=spec.code_size, input_shape=_shape(spec)))
    return "\n\n".join(classes)


def _shape(spec: ModelSpec) -> str:
    return ", ".join(str(d) for d in spec.input_shape)


def nnx_source(spec: ModelSpec) -> str:
    """Runnable flax NNX code that builds the same model as ``core.variables.flax_source``."""
    kind = KIND_CODE[type(spec)]
    usage = Template(kind.usage).substitute(classes=spec.output_size, code_size=spec.code_size)
    return fill(
        "nnx_snippet",
        classes=nnx_model_source(spec).rstrip(),
        model_class=kind.model_class,
        seed=spec.seed,
        input_shape=_shape(spec),
        usage=usage,
    )


# ----- training scripts ---------------------------------------------------------------------------

#: The run's settings a script carries, with a word on each where it helps.
SETTING_NOTES = {
    "optimizer": "adam, adamw or sgd",
    "momentum": "sgd only",
    "weight_decay": "adamw only",
    "augment": "shift each training image by up to one pixel",
    "l2": "the loss adds l2 times half the sum of squared kernels (Dense and conv)",
    "noise": "standard deviation of Gaussian noise added to each training pixel (0 to 1)",
    "train_fraction": "the share of training images used: a fixed subset, each class keeping its share",
}
SCRIPT_SETTINGS = ("optimizer", "learning_rate", "batch_size", "epochs", "seed", "momentum", "weight_decay",
                   "augment", "l2", "noise", "train_fraction")  # fmt: skip
#: The datasets a script downloads (its four IDX files, from the address tensorflow-datasets' builder uses).
DOWNLOAD_URLS = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "kmnist": "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
}


def script_dataset(dataset: str) -> tuple[str, str]:
    """What a script of a run on ``dataset`` downloads, and a sentence for its header when that is not
    the run's dataset ("" when it is)."""
    if dataset in DOWNLOAD_URLS:
        return dataset, ""
    try:
        kind, _folder = parse_dataset_name(dataset)
    except DataError:
        kind = ""
    if kind == "sample":
        return "mnist", ("The run trained on the dashboard's bundled sample of 5,000 MNIST digits; this script "
                         "downloads the whole of MNIST (60,000 training images) instead.")  # fmt: skip
    title = dataset_title(dataset, "data of its own")
    return "mnist", (f"The run trained on {title}, which this script cannot download: give its four IDX files "
                     "with --idx-dir (without it, the script downloads MNIST).")  # fmt: skip


def config_source(config: TrainConfig) -> str:
    """The ``CONFIG = {...}`` dictionary of a script, one setting per line."""
    lines = []
    for name in SCRIPT_SETTINGS:
        note = f"  # {SETTING_NOTES[name]}" if name in SETTING_NOTES else ""
        value = getattr(config, name)
        written = json.dumps(value) if isinstance(value, str) else repr(value)  # Python, strings in double quotes
        lines.append(f'    "{name}": {written},{note}')
    return "{\n" + "\n".join(lines) + "\n}"


def script_name(spec: ModelSpec, api: str) -> str:
    """``train_mlp_nnx.py``: the file name a download suggests."""
    return f"train_{spec.name}_{api}.py"


def training_script(spec: ModelSpec, config: TrainConfig, api: str = "linen", dataset: str = "mnist") -> str:
    """A standalone training script of ``spec`` with ``config``'s settings, in ``api`` ("linen" or "nnx"),
    downloading ``dataset`` (the run's) when it can."""
    if api not in APIS:
        raise ValueError(f"api must be one of {', '.join(APIS)}, got {api!r}")
    kind = KIND_CODE[type(spec)]
    download, note = script_dataset(dataset)
    header = fill(
        "header",
        description=spec.describe(),
        api_title=APIS[api],
        parameters=f"{spec.parameter_count:,}",
        filename=script_name(spec, api),
        download=dataset_title(download),
        data_note=f"\n{textwrap.fill(note, 100)}\n" if note else "",
    )
    urls = "{\n" + "".join(f'    "{name}": "{url}",\n' for name, url in DOWNLOAD_URLS.items()) + "}"
    shared = {
        "header": header.rstrip(),
        "config": config_source(config),
        "dataset": download,
        "task": fill(f"task_{spec.name}", reconstruction_loss=config.reconstruction_loss).rstrip(),
        "data": fill("data", urls=urls).rstrip(),
        "common": fill("common").rstrip(),
        "run": fill("run").rstrip(),
    }
    if api == "linen":
        return fill(
            "train_linen",
            model=linen_model_source(spec).rstrip(),
            model_class=kind.model_class,
            outputs=kind.linen_outputs,
            **shared,
        )
    return fill(
        "train_nnx", model=nnx_model_source(spec).rstrip(), model_class=kind.model_class, outputs=kind.nnx_outputs,
        **shared,
    )  # fmt: skip
