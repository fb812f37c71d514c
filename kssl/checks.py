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
