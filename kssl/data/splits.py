"""Train/test splits, one home for every loader: held-out groups, per-class (stratified) and shuffled.

Each returns index arrays `(train, test)` and is a pure function of its arguments and `seed` (numpy's
`default_rng`), so a split is the same on every machine and every run. These are the splits the
README's numbers were measured on (CPC speech probes: `grouped_split`; Open Clip Art: `stratified_split`;
Rotten Tomatoes: `shuffled_split`). scikit-learn's `GroupShuffleSplit` and
`train_test_split(stratify=...)` make splits of the same kind but draw them with another generator (and
round the test size up), so they would move examples between train and test and change those numbers.
"""

import numpy as np

from kssl.checks import check_probability


def _check_fraction(test_fraction):
    return check_probability("test_fraction", test_fraction, low_open=True, high_open=True)


def grouped_split(groups, test_fraction=0.25, seed=0):
    """Holds out a random `test_fraction` of the distinct `groups` (round(), at least one group): no group
    is in both parts. Returns sorted `(train, test)` indices.

    Example:
    >>> groups = [0, 0, 1, 1, 2, 2, 3, 3]
    >>> train, test = grouped_split(groups, test_fraction=0.25, seed=0)
    >>> len(test), len({groups[i] for i in test}), {groups[i] for i in test} & {groups[i] for i in train}
    (2, 1, set())
    """
    _check_fraction(test_fraction)
    groups = np.asarray(groups)
    distinct = np.unique(groups)
    held = np.random.default_rng(seed).permutation(distinct)[: max(1, int(round(len(distinct) * test_fraction)))]
    test = np.isin(groups, held)
    return np.flatnonzero(~test), np.flatnonzero(test)


def stratified_split(labels, test_fraction=0.2, seed=0):
    """Per class, the examples shuffled with `seed` and round(test_fraction * n) of them (at least one
    when n >= 2, never all) go to test, so rare classes are in both parts. Returns sorted `(train, test)`
    indices.

    Example:
    >>> train, test = stratified_split([0] * 10 + [1] * 2, test_fraction=0.2, seed=0)
    >>> len(train), len(test)
    (9, 3)
    """
    _check_fraction(test_fraction)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == label))
        count = min(len(index) - 1, max(1, round(test_fraction * len(index)))) if len(index) >= 2 else 0
        test.extend(index[:count])
        train.extend(index[count:])
    return np.sort(np.array(train, np.int64)), np.sort(np.array(test, np.int64))


def shuffled_split(count, test_fraction=0.2, seed=0):
    """A seeded permutation of `range(count)` cut in two: the last round(count * test_fraction) go to
    test. Returns `(train, test)` indices in the permutation's order (not sorted).

    Example:
    >>> train, test = shuffled_split(10, test_fraction=0.2, seed=0)
    >>> len(train), len(test), sorted([*train, *test]) == list(range(10))
    (8, 2, True)
    """
    _check_fraction(test_fraction)
    order = np.random.default_rng(seed).permutation(count)
    cut = int(round(count * (1 - test_fraction)))
    return order[:cut], order[cut:]


__all__ = ["grouped_split", "shuffled_split", "stratified_split"]
