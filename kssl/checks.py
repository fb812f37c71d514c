"""Argument validation, one home for the whole package: every error names the argument and the value it
expects, so a user can act on it without reading kssl's code."""

import difflib
import numbers


def check_choice(arg, value, choices):
    """Returns `value` if it is one of `choices`, else a ValueError naming `arg`, the choices and the
    closest match (for typos such as "simclear").

    Example:
    >>> check_choice("pairs", "views", ("views", "labels"))
    'views'
    """
    if value in choices:
        return value
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"`{arg}` must be one of {sorted(choices)}; got {value!r}.{hint}")


def check_positive_int(arg, value, minimum=1):
    """Returns `value` if it is an integer >= `minimum` (bools refused), else a ValueError naming `arg`.

    Example:
    >>> check_positive_int("queue_size", 4096)
    4096
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{arg}` must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def check_probability(arg, value, low_open=False, high_open=False):
    """Returns `value` as a float if it lies in [0, 1] (ends excluded where `low_open` / `high_open`),
    else a ValueError naming `arg` and the interval.

    Example:
    >>> check_probability("momentum", 0.99, high_open=True)
    0.99
    """
    interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (0 < value if low_open else 0 <= value) and (value < 1 if high_open else value <= 1)
    if not ok:
        raise ValueError(f"`{arg}` must be a number in {interval}; got {value!r}.")
    return value


def check_non_negative(arg, value):
    """Returns `value` as a float if it is a finite number >= 0 (a weight of 0 switches a term off), else a
    ValueError naming `arg`.

    Example:
    >>> check_non_negative("margin", 0)
    0.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) < float("inf"):
        raise ValueError(f"`{arg}` must be a number >= 0; got {value!r}.")
    return float(value)


def check_positive(arg, value):
    """Returns `value` as a float if it is a finite number > 0, else a ValueError naming `arg`.

    Example:
    >>> check_positive("temperature", 0.5)
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < float("inf"):
        raise ValueError(f"`{arg}` must be a number > 0; got {value!r}.")
    return float(value)


# How far above 1 a float image may reach (rounding in a resize or a colour conversion) before it is refused
# as not in [0, 1]: images in [0, 255] are the mistake this catches.
UNIT_TOLERANCE = 1e-3


def check_unit_images(images, arg="images", owner=None):
    """Refuses float images (a numpy array) that hold NaN/Inf or values above 1, naming `arg` (and `owner`,
    e.g. the method): kssl trains and evaluates on [0, 1]; uint8 images pass (`to_unit_float` scales them).

    Example:
    >>> import numpy as np
    >>> check_unit_images(np.full((2, 4, 4, 1), 255.0, "float32"), "x")
    Traceback (most recent call last):
    ...
    ValueError: `x` must be images in [0, 1]; got float values up to 255. Divide by 255 (uint8 images are scaled for you).
    """
    import numpy as np

    images = np.asarray(images)
    if images.dtype.kind != "f" or images.size == 0:
        return images
    where = f"{owner}: `{arg}`" if owner else f"`{arg}`"
    rows = np.isfinite(images).reshape(len(images), -1).all(axis=1) if images.ndim else np.isfinite(images)[None]
    if not rows.all():
        raise ValueError(f"{where} must be finite images in [0, 1]; {int((~rows).sum())} of {len(rows)} hold NaN or "
                         f"Inf values (the first: index {int(np.argmin(rows))}).")
    top = float(images.max())
    if top > 1.0 + UNIT_TOLERANCE:
        raise ValueError(f"{where} must be images in [0, 1]; got float values up to {top:g}. Divide by 255 (uint8 "
                         "images are scaled for you).")
    return images
