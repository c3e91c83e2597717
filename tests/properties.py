"""What the property tests (hypothesis) share: the "never a traceback" check and JSON shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from hypothesis import strategies as st

from did.errors import FurusatoError

P = ParamSpec("P")
T = TypeVar("T")


def outcome(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
    """``call(...)``, or None if it raised a FurusatoError with a code and both messages (or
    returned None); any other exception fails the test."""
    try:
        return call(*args, **kwargs)
    except FurusatoError as exc:
        error = exc
    assert error.code
    assert error.message_en
    assert error.message_ja
    return None


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
)


def json_values(max_leaves: int) -> st.SearchStrategy[Any]:
    """Any JSON value, up to ``max_leaves`` scalars."""
    return st.recursive(
        SCALARS,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=12), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


# Text made of JSON's own characters reaches far more of a parser than arbitrary text.
JSONISH_TEXT = st.text(alphabet='[]{}",:-+.0123456789eEtrufalsn \\/u\n\ufeff', max_size=80)
