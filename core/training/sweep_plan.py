"""The plan of a sweep: which model and settings, which setting varies, its values and the seeds.

A width sweep's ``SweepPlan`` names the base model, the layer to vary (an index into
``spec.layers``, or ``"all"``), the widths and the seeds; every model gets the same data,
epochs, batch size and optimizer. ``"all"`` scales every hidden layer together: each value is the new width
of the widest of them and the others keep their proportions (rounded, at least 1); an
autoencoder's code layer keeps its size, so only the capacity around it changes. Any other setting
(``SETTINGS``) changes the model or its training settings at each value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from core import validate
from core.errors import ConfigError, SpecError
from core.i18n import N_
from core.spec import MAX_SEED, MAX_WIDTH, MIN_WIDTH, ModelSpec
from core.training.config import TrainConfig
from core.training.stack import fit_batch_size
from core.training.sweep_settings import (
    ALL_LAYERS,
    DROPOUT,
    SETTINGS,
    WIDTH,
    SweptSetting,
    numbers,
    scalable_layers,
    spec_with_width,
)

MAX_VALUES = 16
MAX_SEEDS = 10
#: Most parameters (all seeds together) trained in one batched program; more seeds are split.
BATCH_PARAMETER_BUDGET = 20_000_000


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep trains: ``spec`` and ``config`` with ``setting`` at each of ``values``, once per seed.

    For the width sweep (``setting="width"``) the values are widths of ``layer``. Values are
    sorted and deduplicated (small models first, so the first results come fast); errors about
    them name the field ``values``, the command line's name for the values to try; every model
    and its settings are checked on construction, so an invalid value fails before anything runs.
    ``config.seed`` is ignored: each run uses its seed for initialisation, shuffling and augmentation.
    """

    spec: ModelSpec
    layer: int | str
    values: tuple[float, ...]
    seeds: tuple[int, ...] = (0,)
    config: TrainConfig = field(default_factory=TrainConfig)
    setting: str = WIDTH

    def __post_init__(self) -> None:
        validate.choice(self.setting, "setting", SETTINGS, N_("setting to sweep"))
        if self.setting != WIDTH:
            self._check_values()
            return
        if self.layer != ALL_LAYERS:
            object.__setattr__(self, "layer", self._layer_number())
        elif not scalable_layers(self.spec):
            raise ConfigError(
                "layer", N_("this autoencoder has no layer besides its code to scale; pick the code layer")
            )
        widths = sorted(set(validate.whole_numbers(self.values, "values", N_("widths"))))
        self._check_counts(widths, "widths")
        for width in widths:
            if not MIN_WIDTH <= width <= MAX_WIDTH:
                raise ConfigError(
                    "values",
                    N_("each width must be between {min_width} and {max_width:,}, got {width:,}"),
                    min_width=MIN_WIDTH,
                    max_width=MAX_WIDTH,
                    width=width,
                )
        object.__setattr__(self, "values", tuple(widths))
        for width in widths:
            try:
                spec_with_width(self.spec, self.layer, width)
            except SpecError as err:
                raise ConfigError(
                    "values",
                    N_("width {width:,} gives an invalid model: {reason}"),
                    width=width,
                    reason=err.reason_error(),
                ) from None

    def _layer_number(self) -> int:
        """The layer a width sweep scales, as its number; ConfigError naming ``layer`` otherwise."""
        layers = len(self.spec.layers)
        if isinstance(self.layer, bool) or not isinstance(self.layer, (int, str)):
            raise ConfigError(
                "layer",
                N_("layer must be a layer number or {all_layers!r}, got {layer!r}"),
                all_layers=ALL_LAYERS,
                layer=self.layer,
            )
        try:
            layer = int(self.layer)
        except ValueError:
            raise ConfigError(
                "layer",
                N_("layer must be a layer number (0 to {layers}) or {all_layers!r}, got {layer!r}"),
                layers=layers - 1,
                all_layers=ALL_LAYERS,
                layer=self.layer,
            ) from None
        if not 0 <= layer < layers:
            raise ConfigError(
                "layer",
                N_("this model has {layers} layers, numbered 0 to {last}; got layer {layer}"),
                layers=layers,
                last=layers - 1,
                layer=layer,
            )
        if self.spec.layers[layer].units() is None:
            what = self.spec.layers[layer].describe()
            raise ConfigError(
                "layer",
                N_("layer {layer} is {what}, which has no width; pick a Dense or conv layer"),
                layer=layer,
                what=what,
            )
        return layer

    def _check_counts(self, values: Sequence[float], what: str) -> None:
        seeds = sorted(set(validate.whole_numbers(self.seeds, "seeds", N_("seeds"))))
        if len(values) > MAX_VALUES:
            raise ConfigError(
                "values",
                N_("at most {max_values} {what} per sweep, got {values_count}"),
                max_values=MAX_VALUES,
                what=what,
                values_count=len(values),
            )
        if len(seeds) > MAX_SEEDS:
            raise ConfigError(
                "seeds",
                N_("at most {max_seeds} seeds per {what}, got {seeds_count}"),
                max_seeds=MAX_SEEDS,
                what=what[:-1],
                seeds_count=len(seeds),
            )
        for seed in seeds:
            if not 0 <= seed <= MAX_SEED:
                raise ConfigError(
                    "seeds",
                    N_("each seed must be between 0 and {max_seed:,}, got {seed:,}"),
                    max_seed=MAX_SEED,
                    seed=seed,
                )
        object.__setattr__(self, "seeds", tuple(seeds))

    def _check_values(self) -> None:
        """The values of any other setting: each point is built (TrainConfig or ModelSpec checks the
        value), the sweep's error naming ``values``."""
        swept = SETTINGS[self.setting]
        if swept.key == DROPOUT and not self.spec.has_dropout:
            raise ConfigError("setting", N_("this model has no Dropout layer to vary; add one on the Build page"))
        values = sorted(set(numbers(self.values, swept.label)))
        self._check_counts(values, "values")
        for value in values:
            try:
                swept.point(self.spec, self.config, self.layer, value)
            except (ConfigError, SpecError) as err:
                raise ConfigError("values", err.template, **err.fields) from None
        object.__setattr__(self, "values", tuple(values))

    def for_classes(self, classes: int) -> SweepPlan:
        """This plan for a dataset of ``classes`` classes (an MLP gets one output per class)."""
        fitted = self.spec.for_classes(classes)
        return self if fitted == self.spec else replace(self, spec=fitted)

    def for_data(self, num_train: int) -> tuple[SweepPlan, str]:
        """This plan with a batch size that ``num_train`` training images fill at every point, and a
        sentence saying so when it was made smaller ("" when it fits)."""
        fractions = [config.train_fraction for _, config in self.points]
        config, note = fit_batch_size(self.config, num_train, fractions)
        return (self if config == self.config else replace(self, config=config)), note

    @property
    def swept(self) -> SweptSetting:
        return SETTINGS[self.setting]

    @property
    def widths(self) -> tuple[float, ...]:
        """The values, under the width sweep's name (kept for its callers)."""
        return self.values

    @property
    def points(self) -> tuple[tuple[ModelSpec, TrainConfig], ...]:
        """(model, training settings) of each value, in training order."""
        return tuple(self.swept.point(self.spec, self.config, self.layer, v) for v in self.values)

    @property
    def specs(self) -> tuple[ModelSpec, ...]:
        """One model per value, in training order."""
        return tuple(spec for spec, _ in self.points)

    @property
    def models(self) -> int:
        return len(self.values) * len(self.seeds)

    def describe(self) -> str:
        """``"MLP 784-512-256-10, layer 2 of 2 (256 units) at 8-1,024 units, seeds 0, 1"``, or
        ``"MLP 784-512-256-10, share of the training images at 5%, 20%, 100%, seeds 0"``."""
        seeds = ", ".join(str(s) for s in self.seeds)
        if self.setting != WIDTH:
            values = ", ".join(self.swept.format(v) for v in self.values)
            return f"{self.spec.describe()}, {self.swept.label} at {values}, seeds {seeds}"
        widths = self.values
        span = f"{widths[0]:,}" if len(widths) == 1 else f"{widths[0]:,}-{widths[-1]:,}"
        if self.layer == ALL_LAYERS:
            which = "all hidden layers"
        else:
            which = (
                f"layer {self.layer + 1} of {len(self.spec.layers)} ({self.spec.layers[self.layer].units():,} units)"
            )
        return f"{self.spec.describe()}, {which} at {span} units, seeds {seeds}"


def seed_groups(spec: ModelSpec, seeds: Sequence[int]) -> list[tuple[int, ...]]:
    """The seeds trained in one batched program each: all of them unless the stack would be too big."""
    per_group = max(1, BATCH_PARAMETER_BUDGET // spec.parameter_count)
    return [tuple(seeds[i : i + per_group]) for i in range(0, len(seeds), per_group)]
