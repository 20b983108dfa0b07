"""The A.8 wrapper: byte layout, offsets, padding, and every kind of bad input, against an independent decoder."""

from __future__ import annotations

import c2pa_text as reference  # the c2pa-text package: an independent A.8 implementation
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiact_transparency.provenance.text.c2pa_text import (
    HEADER_LEN,
    MAGIC,
    MARKER,
    encode_wrapper,
    find_wrapper,
    scan_wrappers,
    strip_c2pa_text,
    wrapper_length,
)

HOSTS = ["", "Plain ASCII answer.", "Café résumé naïve", "東京は晴れ。大阪は雨。", "Emoji 🙂👍🏽 and flags 🇪🇺",
         "مرحبا بالعالم", "שלום עולם", "Mixed: 한국어, हिन्दी, ελληνικά ☺️."]


def selectors_to_bytes(run: str) -> bytes:
    out = bytearray()
    for ch in run:
        cp = ord(ch)
        assert 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF, hex(cp)
        out.append(cp - 0xFE00 if cp <= 0xFE0F else cp - 0xE0100 + 16)
    return bytes(out)


def test_byte_mapping_follows_the_spec() -> None:
    chars = encode_wrapper(bytes(range(256)))[1 + HEADER_LEN:1 + HEADER_LEN + 256]
    assert [ord(c) for c in chars[:16]] == list(range(0xFE00, 0xFE10))
    assert [ord(c) for c in chars[16:]] == list(range(0xE0100, 0xE01F0))


def test_frame_layout_magic_version_length_store_padding() -> None:
    store = b"\x00\x01jumbf\xff" * 7
    wrapper = encode_wrapper(store)
    assert wrapper[0] == MARKER
    raw = selectors_to_bytes(wrapper[1:])
    assert raw[:8] == b"C2PATXT\x00" == MAGIC
    assert raw[8] == 1
    assert int.from_bytes(raw[9:13], "big") == len(store)
    assert raw[13:13 + len(store)] == store
    padding = raw[13 + len(store):]
    assert set(padding) <= {0x00, 0x10} and padding == bytes(sorted(padding))  # zeros first, then 0x10s


def test_padding_matches_the_hand_computed_case() -> None:
    # The worked case c2pa-rs pins: a 16-byte store frames to 114 UTF-8 bytes, the target is 125, so the gap of
    # 11 is one 0x00 (3 bytes) and two 0x10 (4 bytes each).
    store = b"c2pa-manifest-01"
    wrapper = encode_wrapper(store)
    assert wrapper_length(len(store)) == 125 == len(wrapper.encode("utf-8"))
    assert selectors_to_bytes(wrapper[1:])[13 + 16:] == b"\x00\x10\x10"


@given(st.binary(min_size=1, max_size=600))
def test_length_depends_on_the_store_size_only(store: bytes) -> None:
    wrapper = encode_wrapper(store)
    assert len(wrapper.encode("utf-8")) == wrapper_length(len(store))
    found = find_wrapper("host" + wrapper)
    assert found is not None and found.store == store


@pytest.mark.parametrize("host", HOSTS)
def test_offsets_are_utf8_bytes_and_match_the_reference_decoder(host: str) -> None:
    store = bytes(range(256)) * 3
    text = host + encode_wrapper(store)
    found = find_wrapper(text)
    assert found is not None
    assert (found.start, found.start + found.length) == (len(host.encode("utf-8")), len(text.encode("utf-8")))
    assert text[found.char_start:found.char_end] == text[len(host):]
    assert reference.find_wrapper_info(text) == (store, found.start, found.length)


def test_reads_a_wrapper_written_by_the_reference_implementation() -> None:
    # c2pa-text writes no padding: the frame alone must decode.
    text = "hello from c2pa-text " + reference.encode_wrapper(bytes(range(16)))
    found = find_wrapper(text)
    assert found is not None and found.store == bytes(range(16))
    assert found.start + found.length == len(text.encode("utf-8"))


def test_two_wrappers_mean_no_wrapper() -> None:
    text = "host" + encode_wrapper(b"first") + " more" + encode_wrapper(b"second")
    scan = scan_wrappers(text)
    assert [w.store for w in scan.wrappers] == [b"first", b"second"]
    assert scan.single is None and find_wrapper(text) is None


@pytest.mark.parametrize("cut", [1, 5, 12, 20, -1])
def test_a_truncated_wrapper_is_damaged_not_a_wrapper(cut: int) -> None:
    wrapper = encode_wrapper(b"a manifest store of some length" * 3)
    # Cut inside the selector run: the padding alone (-1) does not count, so cut before it.
    end = 1 + cut if cut > 0 else 1 + HEADER_LEN + 50
    scan = scan_wrappers("answer" + wrapper[:end])
    assert scan.wrappers == ()
    assert len(scan.damaged) == 1 and "truncated" in (scan.damaged[0].problem or "")


def test_a_wrapper_cut_in_its_padding_still_decodes() -> None:
    store = b"store"
    found = find_wrapper("x" + encode_wrapper(store)[:-1])
    assert found is not None and found.store == store


def test_unknown_version_is_damaged() -> None:
    wrapper = encode_wrapper(b"store")
    raw = bytearray(selectors_to_bytes(wrapper[1:]))
    raw[8] = 2
    text = "x" + MARKER + "".join(chr(0xFE00 + b) if b < 16 else chr(0xE0100 + b - 16) for b in raw)
    scan = scan_wrappers(text)
    assert scan.wrappers == () and "version 2" in (scan.damaged[0].problem or "")


@pytest.mark.parametrize("clean", [
    "A smiley \u263a\ufe0f with its variation selector.",
    "A stray zero-width no-break space \ufeff alone, and \ufeff\ufe0f one before a selector.",
    "\ufeffA leading byte-order mark, then prose.",
    "",
])
def test_ordinary_text_has_no_wrapper(clean: str) -> None:
    scan = scan_wrappers(clean)
    assert scan.wrappers == () and scan.damaged == ()
    assert strip_c2pa_text(clean) == clean


@pytest.mark.parametrize("host", HOSTS)
def test_strip_removes_wrappers_damaged_ones_included(host: str) -> None:
    wrapper = encode_wrapper(b"store bytes")
    assert strip_c2pa_text(host + wrapper) == host
    assert strip_c2pa_text(wrapper + host + wrapper[:9]) == host
    assert strip_c2pa_text(host + " \u263a\ufe0f" + wrapper) == host + " \u263a\ufe0f"


def test_an_empty_store_is_damaged() -> None:
    scan = scan_wrappers("x" + encode_wrapper(b""))
    assert scan.wrappers == () and "empty" in (scan.damaged[0].problem or "")
