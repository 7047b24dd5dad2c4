"""Argument checks for layers and recipes: each error names the argument, the value and the expected form."""

import math
import numbers

#: Integer arguments become int32 tensors: larger ones would fail (or wrap) only when the layer runs.
INT_LIMIT = 2**31 - 1


def _is_number(value):
    """A finite real number (NumPy scalars included, bools not): infinities and NaN are never accepted."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def check_bool(name, value):
    """`value` if it is True or False; a ValueError naming `name` otherwise (1 and 0 included)."""
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")
    return value


def check_probability(name, value):
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"`{name}` must be a finite number in [0, 1], got {value!r}.")
    return float(value)


def check_number(name, value, low, high):
    """A finite number in `[low, high]` (NumPy scalars included), as a float."""
    if not _is_number(value) or not low <= value <= high:
        raise ValueError(f"`{name}` must be a finite number in [{low}, {high}], got {value!r}.")
    return float(value)


def check_positive(name, value, allow_zero=False):
    ok = _is_number(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be a finite number {bound}, got {value!r}.")
    return float(value)


def check_range(name, value, low=None, high=None, allow_equal=True):
    """Checks a `(min, max)` pair with `min <= max` (or `<`), optionally inside `[low, high]`."""
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(_is_number(v) for v in value):
        raise ValueError(f"`{name}` must be a pair of finite numbers (min, max), got {value!r}.")
    lo, hi = float(value[0]), float(value[1])
    if lo > hi or (not allow_equal and lo == hi):
        op = "<=" if allow_equal else "<"
        raise ValueError(f"`{name}` must satisfy min {op} max, got {value!r}.")
    if (low is not None and lo < low) or (high is not None and hi > high):
        raise ValueError(f"`{name}` must lie within [{low}, {high}], got {value!r}.")
    return (lo, hi)


def check_value_range(value_range):
    return check_range("value_range", value_range, allow_equal=False)


def check_num_classes(num_classes):
    if num_classes is None:
        return None
    integral = isinstance(num_classes, numbers.Integral) and not isinstance(num_classes, bool)
    if not integral or not 1 <= num_classes <= INT_LIMIT:
        raise ValueError(f"`num_classes` must be a positive int (at most 2**31 - 1) or None, got {num_classes!r}.")
    return int(num_classes)


def check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{name}` must be one of {sorted(choices)}, got {value!r}.")
    return value


def check_int(name, value, low=None, high=None):
    """An int in `[low, high]`, and always in int32's range (`high` defaults to `INT_LIMIT`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an int, got {value!r}.")
    high = INT_LIMIT if high is None else high
    low = -INT_LIMIT - 1 if low is None else low
    if not low <= value <= high:
        raise ValueError(f"`{name}` must be an int in [{low}, {high}], got {value!r}.")
    return int(value)


def check_fill_value(fill_value, value_range):
    """A number or a per-channel sequence of numbers, each inside `value_range`."""
    values = fill_value if isinstance(fill_value, (tuple, list)) else [fill_value]
    if not values or not all(_is_number(x) for x in values):
        raise ValueError(
            f"`fill_value` must be a finite number or a sequence of per-channel finite numbers, got {fill_value!r}."
        )
    low, high = value_range
    if any(x < low or x > high for x in values):
        raise ValueError(f"`fill_value` must lie within value_range={value_range}, got {fill_value!r}.")
    if isinstance(fill_value, (tuple, list)):
        return tuple(float(x) for x in fill_value)
    return float(fill_value)


def check_size(size):
    """None, a positive int, or a `(height, width)` pair of positive ints -> None or an int pair."""
    if size is None:
        return None
    pair = (size, size) if isinstance(size, numbers.Integral) else size
    ok = isinstance(pair, (tuple, list)) and len(pair) == 2
    if not ok or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ValueError(f"`size` must be None, a positive int or a (height, width) pair, got {size!r}.")
    return (int(pair[0]), int(pair[1]))
