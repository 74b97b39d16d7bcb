"""Walking around an autoencoder's latent space: axes to move along, their ranges, and paths.

A code with a few numbers gets one axis per number. A wider code gets its two principal
directions (PCA over the test images' codes): moving along them from the mean code changes
the decoded image the most, and a point of a 2-D PCA map maps back to a full code as
``mean + coordinates @ directions``. Decoding itself is ``core.predict.decode``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import CoreError
from core.i18n import N_

#: Codes with at most this many numbers get one slider per number; wider ones get PCA directions.
MAX_UNIT_AXES = 6
PCA_AXES = 2


@dataclass(frozen=True, eq=False)
class LatentAxes:
    """Directions to move along in code space: ``code = origin + coordinates @ directions``.

    ``directions`` (axes, code size) has orthonormal rows: the code's own units (origin 0)
    or its principal directions (origin: the mean code). ``variance_share`` is the share of
    the codes' spread along each axis.
    """

    origin: np.ndarray  # (code size,)
    directions: np.ndarray  # (axes, code size)
    variance_share: tuple[float, ...]
    principal: bool  # True: PCA directions; False: the code's units themselves

    @property
    def count(self) -> int:
        return int(self.directions.shape[0])

    @property
    def code_size(self) -> int:
        return int(self.directions.shape[1])

    def names(self) -> list[str]:
        """What each axis is called on screen."""
        if self.principal:
            shares = self.variance_share
            return [f"main direction {i + 1} ({share:.0%} of the spread)" for i, share in enumerate(shares)]
        return [f"code number {i + 1}" for i in range(self.count)]

    def coordinates(self, codes: np.ndarray) -> np.ndarray:
        """Where codes (N, code size) lie along the axes: (N, axes)."""
        codes = _as_codes(codes, self.code_size)
        return ((codes - self.origin) @ self.directions.T).astype(np.float32)

    def codes_at(self, coordinates: np.ndarray) -> np.ndarray:
        """Full codes (N, code size) for points (N, axes) or one point (axes,) given along the axes.

        For PCA axes the other directions stay at the mean code.
        """
        points = np.atleast_2d(np.asarray(coordinates, np.float64))
        if points.shape[1] != self.count:
            raise CoreError(
                N_("a point needs {count} coordinates, got {points_shape}"),
                count=self.count,
                points_shape=points.shape[1],
            )
        return (self.origin + points @ self.directions).astype(np.float32)


def _as_codes(codes: np.ndarray, size: int | None = None) -> np.ndarray:
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or (size is not None and codes.shape[1] != size):
        expected = f"(N, {size})" if size is not None else "(N, code size)"
        raise CoreError(
            N_("codes must have shape {expected}, got {codes_shape}"), expected=expected, codes_shape=codes.shape
        )
    return finite_codes(codes)


def finite_codes(codes: np.ndarray) -> np.ndarray:
    """``codes`` unchanged, or a CoreError saying why a map of them cannot be drawn."""
    if not np.all(np.isfinite(codes)):
        raise CoreError(
            N_(
                "some codes are too large to be numbers (infinite) or not a number at all: the "
                "model's weights are far too large, or its training went to NaN"
            )
        )
    return codes


def latent_axes(codes: np.ndarray, max_unit_axes: int = MAX_UNIT_AXES) -> LatentAxes:
    """Axes for exploring the space of ``codes`` (N, code size), usually the test images' codes.

    Up to ``max_unit_axes`` numbers: one axis per number. Wider: the first two principal
    directions of the codes (needs at least 2 codes).
    """
    codes = _as_codes(codes)
    size = codes.shape[1]
    variance = codes.var(axis=0)
    if size <= max_unit_axes:
        total = float(variance.sum())
        shares = tuple(float(v / total) if total > 0 else 0.0 for v in variance)
        return LatentAxes(np.zeros(size), np.eye(size), shares, principal=False)
    return pca_axes(codes, PCA_AXES)


def pca_axes(codes: np.ndarray, count: int = PCA_AXES) -> LatentAxes:
    """The ``count`` directions along which ``codes`` vary most, through their mean.

    ``core.predict.project_2d`` draws its map with these axes, so a point of the Results page's
    map and of the explorer's map are the same point.
    """
    codes = _as_codes(codes)
    if len(codes) < 2:
        raise CoreError(
            N_("need at least 2 codes to find their main directions, got {codes_count}"), codes_count=len(codes)
        )
    count = min(count, codes.shape[1])
    mean = codes.mean(axis=0)
    _, singular, vt = np.linalg.svd(codes - mean, full_matrices=False)
    variance = singular**2
    total = float(variance.sum())
    shares = tuple(float(v / total) if total > 0 else 0.0 for v in variance[:count])
    return LatentAxes(mean, vt[:count], shares, principal=True)


def slider_ranges(
    coordinates: np.ndarray, low_percentile: float = 1.0, high_percentile: float = 99.0, margin: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Low and high ends (axes,) of a slider per axis: where most codes lie, widened by ``margin``
    of that span on each side so a person can step a little past the data (in float64: codes of 3e38
    stay within float32).

    Percentiles rather than min/max: one odd image should not stretch a slider so far that
    most of it decodes to noise. An axis on which every code is equal gets -1..1 around it.
    """
    points = _as_codes(coordinates)
    if len(points) == 0:
        raise CoreError(N_("need at least one code to size the sliders"))
    low = np.percentile(points, low_percentile, axis=0)
    high = np.percentile(points, high_percentile, axis=0)
    span = high - low
    # a flat axis gets 1 on each side, or a thousandth of its size where 1 is lost to float32 (codes of 1e8)
    flat = span <= np.maximum(1e-6, np.abs(low) * 1e-6)
    pad = np.where(flat, np.maximum(1.0, np.abs(low) * 1e-3), margin * span)
    limit = float(np.finfo(np.float32).max)  # codes near it (3e38) must not widen into infinity
    low, high = np.clip(low - pad, -limit, limit), np.clip(high + pad, -limit, limit)
    return low.astype(np.float32), high.astype(np.float32)


def interpolate(start: np.ndarray, end: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` codes on the straight line from ``start`` to ``end`` (both included): (steps, code size)."""
    start = np.asarray(start, np.float32).ravel()
    end = np.asarray(end, np.float32).ravel()
    if start.shape != end.shape:
        raise CoreError(
            N_("both ends need codes of the same size, got {start_size} and {end_size}"),
            start_size=start.size,
            end_size=end.size,
        )
    if steps < 2:
        raise CoreError(N_("an interpolation needs at least 2 steps (the two ends), got {steps}"), steps=steps)
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return (1.0 - weights) * start + weights * end
