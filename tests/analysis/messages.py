"""Checks on the wording of reader messages, shared by the bad-input and fuzz tests."""

from __future__ import annotations

import re

#: A numpy repr in a message (``np.float64(2.0)``, ``np.int64(5)``, ``array([...])``): messages show
#: plain numbers (COMMON standards; ``analysis.io._common.plain``).
NUMPY_REPR = re.compile(r"\bnp\.[A-Za-z_0-9]+\(|\barray\(")


def assert_plain_message(exc: BaseException) -> None:
    """The message is not empty and shows no numpy repr."""
    text = str(exc)
    assert text.strip(), "empty message"
    assert not NUMPY_REPR.search(text), f"numpy repr in the message: {text}"
