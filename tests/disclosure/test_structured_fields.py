"""RFC 9651 serialisation: nothing that could split a header gets through."""

from __future__ import annotations

import pytest

from aiact_transparency.disclosure.structured_fields import StructuredFieldError, sf_dictionary, sf_string, sf_token

SYSTEM = {"name": "Acme Studio", "provider": "Acme GmbH"}


# -- RFC 9651 serialisation ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Acme\n", "Acme\r\n"])
def test_sf_string_rejects_a_trailing_line_break(value: str) -> None:
    # Python's `$` also matches before a trailing "\n": the check let a header-splitting value through.
    with pytest.raises(StructuredFieldError):
        sf_string(value)


def test_sf_token_and_key_reject_a_trailing_line_break() -> None:
    with pytest.raises(StructuredFieldError):
        sf_token("ai-originated\n")
    with pytest.raises(StructuredFieldError):
        sf_dictionary([("mode\n", "x")])
