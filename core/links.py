"""Shareable links: a model and its training settings as short, readable URL query parameters.

``?model=mlp&layers=512.relu-256.relu&seed=0&opt=adam&lr=0.001&bs=128&ep=10&data=sample``
Besides ``WIDTH.ACTIVATION`` a stack holds ``dropout.RATE``, ``batchnorm`` and ``layernorm``.
Autoencoders use ``enc=`` and ``dec=`` instead of ``layers=``. The overfitting lab's settings
(``l2=``, ``noise=``, ``frac=``) are written only when they are not their defaults, so older
links stay valid and mean what they meant. Parsing validates everything
through ModelSpec and TrainConfig, so a hand-edited link can only give valid settings or
a LinkError that says what was wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import CoreError
from core.i18n import N_
from core.layer_items import layer_from_link
from core.spec import MODEL_KINDS, Layer, ModelSpec
from core.training import TrainConfig

KEYS = ("model", "layers", "enc", "dec", "seed", "opt", "lr", "mom", "wd", "bs", "ep", "tseed", "aug", "loss", "data",
        "l2", "noise", "frac")  # fmt: skip
# local folders mean nothing on another computer
SHAREABLE_DATA = ("sample", "mnist", "fashion_mnist", "kmnist", "emnist_digits", "emnist_letters")
MAX_VALUE_CHARS = 1_000  # 65 layers of "4096.sigmoid" fit; a longer value is refused unread


#: The overfitting lab's link keys and the TrainConfig fields they carry.
LAB_KEYS = {"l2": "l2", "noise": "noise", "frac": "train_fraction"}


class LinkError(CoreError):
    """A link whose settings are not valid."""


@dataclass(frozen=True)
class LinkSettings:
    spec: ModelSpec
    config: TrainConfig
    dataset: str | None


#: The link key of each stack of layers.
STACK_KEYS = {"hidden": "layers", "encoder": "enc", "decoder": "dec"}
#: What ``model=`` may say, and the kind of model it names.
MODEL_NAMES = {"autoencoder": "autoencoder", **{kind.link_name: name for name, kind in MODEL_KINDS.items()}}


def _stack(layers: tuple[Layer, ...]) -> str:
    return "-".join(layer.link_item() for layer in layers)


def to_query(spec: ModelSpec, config: TrainConfig, dataset: str) -> dict[str, str]:
    query = {"model": spec.link_name}
    query.update({STACK_KEYS[name]: _stack(getattr(spec, name)) for name in spec.stacks})
    query.update(
        seed=str(spec.seed), opt=config.optimizer, lr=f"{config.learning_rate:g}", bs=str(config.batch_size),
        ep=str(config.epochs), tseed=str(config.seed), aug="1" if config.augment else "0",
    )  # fmt: skip
    if config.optimizer == "sgd":
        query["mom"] = f"{config.momentum:g}"
    if config.optimizer == "adamw":
        query["wd"] = f"{config.weight_decay:g}"
    if spec.code_size is not None:  # trained to rebuild its input
        query["loss"] = config.reconstruction_loss
    defaults = TrainConfig()
    for key, name in LAB_KEYS.items():
        if getattr(config, name) != getattr(defaults, name):
            query[key] = f"{getattr(config, name):g}"
    if dataset in SHAREABLE_DATA:
        query["data"] = dataset
    return query


def _parse_stack(text: str, name: str) -> tuple[Layer, ...]:
    if not text:
        return ()
    layers = []
    for i, part in enumerate(text.split("-")):
        layers.append(layer_from_link(part))  # ModelSpec validates it
        if i > 64:
            raise LinkError(N_("{name} lists too many layers"), name=name)
    return tuple(layers)


def from_query(query: Mapping[str, str]) -> LinkSettings | None:
    """Settings from a link, None if the link carries none; LinkError naming what is wrong."""
    query = {k: v for k, v in query.items() if k in KEYS}
    if not query:
        return None
    for key, value in query.items():
        if len(value) > MAX_VALUE_CHARS:
            raise LinkError(
                N_("{key} is {value_count:,} characters long, at most {max_value_chars:,} are read"),
                key=key,
                value_count=len(value),
                max_value_chars=MAX_VALUE_CHARS,
            )
    defaults = TrainConfig()
    try:
        kind = MODEL_NAMES.get(query.get("model", "mlp"))
        if kind is None:
            raise LinkError(N_("model must be mlp or ae, got {model!r}"), model=query.get("model"))
        # A setting the link leaves out takes its default, so ``?lr=0.01`` alone is the default model at that rate.
        default = MODEL_KINDS[kind].default()
        stacks = {name: _parse_stack(query[STACK_KEYS[name]], STACK_KEYS[name]) if STACK_KEYS[name] in query
                  else getattr(default, name) for name in default.stacks}  # fmt: skip
        spec = ModelSpec(kind=kind, seed=query.get("seed", "0"), **stacks)
        config = TrainConfig(
            optimizer=query.get("opt", defaults.optimizer),
            learning_rate=query.get("lr", defaults.learning_rate),
            momentum=query.get("mom", defaults.momentum),
            weight_decay=query.get("wd", defaults.weight_decay),
            batch_size=query.get("bs", defaults.batch_size),
            epochs=query.get("ep", defaults.epochs),
            seed=query.get("tseed", defaults.seed),
            augment=query.get("aug", "1") != "0",
            reconstruction_loss=query.get("loss", defaults.reconstruction_loss),
            **{name: query.get(key, getattr(defaults, name)) for key, name in LAB_KEYS.items()},
        )
    except LinkError:
        raise
    except CoreError as err:
        raise LinkError(err.template, **err.fields) from None  # the reason alone: the link's key says where
    dataset = query.get("data")
    if dataset is not None and dataset not in SHAREABLE_DATA:
        raise LinkError(
            N_("data must be one of {shareable_data}, got {dataset!r}"),
            shareable_data=", ".join(SHAREABLE_DATA),
            dataset=dataset,
        )
    return LinkSettings(spec, config, dataset)
