"""The speed a visitor sees a run train at and the time it has left, computed from that speed: images per
second of wall time over the last ``WINDOW_S`` seconds it trained (its turns of the machine shared with
others, its evaluations and compile waits inside that time; a presenter's pause and a wait for a training
slot left out), and the images still to go at that speed. Shown side by side, the two never disagree.
"""

from __future__ import annotations

from collections import deque

#: Seconds of training the shown speed is measured over: long enough that one slow chunk, an evaluation or
#: another visitor's turn moves it little, short enough to follow a machine that gets busier.
WINDOW_S = 20.0
#: Seconds of training between two reports before a speed is shown at all ("working it out" until then).
MIN_MEASURED_S = 0.5


class SpeedMeter:
    """Images trained against a steady clock (any monotonic seconds), read as a speed and a time left."""

    def __init__(self, window_s: float = WINDOW_S, min_measured_s: float = MIN_MEASURED_S) -> None:
        self.window_s = window_s
        self.min_measured_s = min_measured_s
        self._points: deque[tuple[float, float]] = deque()  # (training seconds, images trained so far)
        self._held_at: float | None = None
        self._held_s = 0.0  # seconds held so far: the clock of the points leaves them out

    def hold(self, now: float) -> None:
        """Stop the clock from ``now``: paused, or waiting for a training slot (no images, no time)."""
        if self._held_at is None:
            self._held_at = now

    def go_on(self, now: float) -> None:
        if self._held_at is not None:
            self._held_s += max(0.0, now - self._held_at)
            self._held_at = None

    def add(self, now: float, images: float) -> None:
        """``images`` trained in all by ``now`` (a report after a chunk of steps)."""
        self.go_on(now)
        at = now - self._held_s
        self._points.append((at, float(images)))
        while len(self._points) > 2 and self._points[1][0] <= at - self.window_s:
            self._points.popleft()

    def images_per_s(self) -> float | None:
        """Images per second over the window; None before ``min_measured_s`` seconds of training."""
        if len(self._points) < 2:
            return None
        (t0, i0), (t1, i1) = self._points[0], self._points[-1]
        if t1 - t0 < self.min_measured_s or i1 <= i0:
            return None
        return (i1 - i0) / (t1 - t0)

    def time_left(self, images_left: float) -> float | None:
        """Seconds to train ``images_left`` more images at ``images_per_s`` (None while it is unknown)."""
        speed = self.images_per_s()
        return None if speed is None else max(0.0, images_left) / speed
