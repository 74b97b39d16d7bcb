"""A run's training settings (``TrainConfig``), validated on construction, JSON round-trippable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from core import validate
from core.errors import ConfigError
from core.i18n import N_
from core.spec import MAX_SEED
from core.tasks import RECONSTRUCTION_LOSSES

#: The optimizers a person can pick, in words.
OPTIMIZERS: dict[str, str] = {
    "adam": N_("Adam: adapts each weight's step size; the reliable default"),
    "adamw": N_("Adam with weight decay: also pulls weights gently towards zero"),
    "sgd": N_("Stochastic gradient descent with momentum: the classic"),
}
MAX_BATCH_SIZE = 8192
MAX_EPOCHS = 1000
MAX_LEARNING_RATE = 1e6
#: Largest L2 penalty factor and input-noise standard deviation (pixels run from 0 to 1).
MAX_L2 = 1.0
MAX_NOISE = 1.0
#: Each training image is shifted by up to this many pixels in x and y when augmenting.
SHIFT_PIXELS = 1


def checked_learning_rate(value: Any) -> float:
    """``value`` as a learning rate (above 0, at most MAX_LEARNING_RATE), or a ConfigError naming
    ``learning_rate``: the one check of a rate, typed before a run or changed while it trains."""
    rate = validate.number(value, "learning_rate", N_("learning rate"))
    if not 0 < rate <= MAX_LEARNING_RATE:
        raise ConfigError(
            "learning_rate",
            N_("learning rate must be above 0 and at most {max_learning_rate:g}, got {rate:g}"),
            max_learning_rate=MAX_LEARNING_RATE,
            rate=rate,
        )
    return rate


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one run, validated on construction (a ConfigError names the field)."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 128
    epochs: int = 10
    seed: int = 0  # shuffles and augmentation of the training images
    momentum: float = 0.9  # sgd only
    weight_decay: float = 1e-4  # adamw only
    reconstruction_loss: str = "mse"  # autoencoder only
    augment: bool = True  # shift each training image by up to SHIFT_PIXELS in x and y
    l2: float = 0.0  # the loss adds l2 * (half the sum of squared weights)
    noise: float = 0.0  # standard deviation of Gaussian noise added to each training pixel (0 to 1)
    train_fraction: float = 1.0  # train on this share of the training images (a fixed stratified subset)

    def __post_init__(self) -> None:
        validate.choice(self.optimizer, "optimizer", OPTIMIZERS, N_("optimizer"))
        lr = checked_learning_rate(self.learning_rate)
        momentum = validate.number(self.momentum, "momentum", N_("momentum"))
        if not 0 <= momentum < 1:
            raise ConfigError(
                "momentum", N_("momentum must be at least 0 and below 1, got {momentum:g}"), momentum=momentum
            )
        decay = validate.number(self.weight_decay, "weight_decay", N_("weight decay"))
        if not 0 <= decay <= 1:
            raise ConfigError("weight_decay", N_("weight decay must be between 0 and 1, got {decay:g}"), decay=decay)
        l2 = validate.number(self.l2, "l2", N_("L2 penalty"))
        if not 0 <= l2 <= MAX_L2:
            raise ConfigError("l2", N_("L2 penalty must be between 0 and {max_l2:g}, got {l2:g}"), max_l2=MAX_L2, l2=l2)
        noise = validate.number(self.noise, "noise", N_("input noise"))
        if not 0 <= noise <= MAX_NOISE:
            raise ConfigError(
                "noise",
                N_("input noise must be between 0 and {max_noise:g}, got {noise:g}"),
                max_noise=MAX_NOISE,
                noise=noise,
            )
        fraction = validate.number(self.train_fraction, "train_fraction", N_("training fraction"))
        if not 0 < fraction <= 1:
            raise ConfigError(
                "train_fraction",
                N_("training fraction must be above 0 and at most 1 (100%), got {fraction:g}"),
                fraction=fraction,
            )
        checked = {
            "l2": l2,
            "noise": noise,
            "train_fraction": fraction,
            "learning_rate": lr,
            "momentum": momentum,
            "weight_decay": decay,
            "batch_size": validate.whole_number(self.batch_size, "batch_size", 1, MAX_BATCH_SIZE, N_("batch size")),
            "epochs": validate.whole_number(self.epochs, "epochs", 1, MAX_EPOCHS, N_("number of epochs")),
            "seed": validate.whole_number(self.seed, "seed", 0, MAX_SEED, N_("seed")),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        validate.choice(self.reconstruction_loss, "reconstruction_loss", RECONSTRUCTION_LOSSES, N_("loss"))
        validate.flag(self.augment, "augment", N_("augment"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        if not isinstance(data, dict):
            raise ConfigError(
                "config", N_("training settings must be a JSON object, got {data_type}"), data_type=type(data).__name__
            )
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(str(unknown[0]), N_("unknown training setting"))
        return cls(**data)

    def with_epochs(self, epochs: int) -> TrainConfig:
        return replace(self, epochs=epochs)
