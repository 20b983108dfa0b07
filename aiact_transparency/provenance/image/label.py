"""Visible "AI" badge for images (EU Code of Practice on marking and labelling: capital letters "AI",
recognisable at once, e.g. in the top-right corner).

The badge is a dark semi-opaque rounded plate with white bold text and a thin light outline: white text on the
plate keeps a WCAG contrast ratio far above 4.5:1 whatever lies beneath, and the light outline separates the
plate from dark backgrounds. No system font is needed: Pillow's bundled FreeType font is used when Pillow was
built with FreeType, else the letters are drawn as shapes.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

__all__ = ["LABEL_TEXTS", "badge_for", "draw_ai_label", "label_box", "label_text"]

# The Code of Practice's Annex 1 icon: the capital letters "AI", and its two variants.
LABEL_TEXTS = {"ai": "AI", "ai-generated": "AI GENERATED", "ai-modified": "AI MODIFIED"}

_SUPPORTED_MODES = ("RGB", "RGBA", "L", "LA")
BADGE_FRACTION = 0.07  # of the shorter side: visible at a glance without hiding the content
MIN_BADGE_PX = 18  # below this the letters stop being legible on screen
MIN_IMAGE_PX = 16
_PLATE_RGBA = (16, 16, 16, 210)
_OUTLINE_RGBA = (255, 255, 255, 190)
_TEXT_RGB = (255, 255, 255)
_INK_HEIGHT = 0.52  # text cap height as a share of the plate height


def _badge_height(size: tuple[int, int]) -> tuple[int, int]:
    short = min(size)
    if short < MIN_IMAGE_PX:
        # Refuse rather than return an image that silently lacks the label it is supposed to carry.
        raise ValueError(f"image {size[0]}x{size[1]} is too small for a legible AI label (min side {MIN_IMAGE_PX})")
    margin = max(2, round(short * 0.025))
    height = min(max(MIN_BADGE_PX, round(short * BADGE_FRACTION)), short - 2 * margin)
    return height, margin


def _freetype_font(size: int) -> ImageFont.FreeTypeFont | None:
    font = ImageFont.load_default(size=size)
    # Without FreeType, load_default ignores size and returns the tiny bitmap font.
    return font if isinstance(font, ImageFont.FreeTypeFont) else None


def _freetype_mask(text: str, ink_height: int) -> Image.Image | None:
    probe = _freetype_font(100)
    if probe is None:
        return None
    top, bottom = probe.getbbox(text)[1::2]
    font = _freetype_font(max(4, round(100 * ink_height / max(1, bottom - top))))
    if font is None:
        return None
    # The bundled face is regular; a same-colour stroke makes it bold, except at small sizes where a whole pixel
    # of stroke would fill the counters of letters like "e".
    stroke = round(font.size * 0.05)
    # Letter by letter with extra tracking: the stroke would otherwise fuse "A" and "I" at small sizes.
    tracking = 2 * stroke + max(1, round(font.size * 0.04))
    top, bottom = (round(v) for v in font.getbbox(text, stroke_width=stroke)[1::2])
    advances = [round(font.getlength(ch)) + tracking for ch in text]
    left = round(font.getbbox(text[0], stroke_width=stroke)[0])
    right = sum(advances[:-1]) + round(font.getbbox(text[-1], stroke_width=stroke)[2])
    mask = Image.new("L", (right - left, bottom - top), 0)
    draw = ImageDraw.Draw(mask)
    x = -left
    for ch, advance in zip(text, advances, strict=True):
        draw.text((x, -top), ch, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
        x += advance
    return mask


def _vector_ai_mask(ink_height: int) -> Image.Image:
    # The EU icon's two capitals as strokes, so the label exists even where Pillow lacks FreeType.
    h = ink_height
    t = max(2, round(h * 0.2))
    a_width = round(h * 0.85)
    gap = max(1, round(h * 0.22))
    mask = Image.new("L", (a_width + gap + t, h), 0)
    draw = ImageDraw.Draw(mask)
    draw.polygon([(0, h), (a_width // 2 - t // 2, 0), (a_width // 2 + t // 2, 0), (a_width, h)], fill=255)
    draw.polygon([(t, h), (a_width // 2, round(t * 1.8)), (a_width - t, h)], fill=0)  # hollow the triangle
    bar = round(h * 0.62)
    draw.rectangle((round(a_width * 0.25), bar, round(a_width * 0.75), bar + max(1, round(t * 0.8))), fill=255)
    draw.rectangle((a_width + gap, 0, a_width + gap + t - 1, h - 1), fill=255)
    return mask


def _bitmap_mask(text: str, ink_height: int) -> Image.Image:
    # Last resort for custom text without FreeType: Pillow's built-in bitmap font, scaled up.
    font = ImageFont.load_default()
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    small = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(small).text((-left, -top), text, fill=255, font=font)
    scale = ink_height / small.height
    return small.resize((max(1, round(small.width * scale)), ink_height), Image.Resampling.BICUBIC)


def _text_mask(text: str, ink_height: int) -> Image.Image:
    mask = _freetype_mask(text, ink_height)
    if mask is not None:
        return mask
    return _vector_ai_mask(ink_height) if text == "AI" else _bitmap_mask(text, ink_height)


def _badge(text: str, height: int) -> Image.Image:
    mask = _text_mask(text, max(4, round(height * _INK_HEIGHT)))
    pad = round(height * 0.3)
    width = max(height, mask.width + 2 * pad)
    badge = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(badge)
    outline = max(1, round(height / 24))
    radius = round(height * 0.22)
    draw.rounded_rectangle(
        (0, 0, width - 1, height - 1), radius=radius, fill=_PLATE_RGBA, outline=_OUTLINE_RGBA, width=outline
    )
    badge.paste((*_TEXT_RGB, 255), ((width - mask.width) // 2, (height - mask.height) // 2), mask)
    return badge


def label_text(variant: str) -> str:
    """The icon's letters for a variant name ("ai", "ai-generated", "ai-modified")."""
    try:
        return LABEL_TEXTS[variant]
    except KeyError:
        raise ValueError(f"unknown label variant {variant!r}; use one of {', '.join(LABEL_TEXTS)}") from None


def badge_for(size: tuple[int, int], *, text: str = "AI") -> tuple[Image.Image, tuple[int, int]]:
    """The badge (RGBA) for a picture of ``size`` and where its top-left corner goes: what video frames
    composite themselves (provenance/video/label.py), in their own pixel format."""
    height, margin = _badge_height(size)
    badge = _badge(text, height)
    if badge.width > size[0] - 2 * margin:
        raise ValueError(f"label {text!r} does not fit a picture {size[0]} pixels wide")
    return badge, (size[0] - margin - badge.width, margin)


def label_box(size: tuple[int, int], *, text: str = "AI") -> tuple[int, int, int, int]:
    """(left, top, right, bottom) the badge occupies on an image of ``size``; right/bottom exclusive."""
    height, margin = _badge_height(size)
    width = _badge(text, height).width
    right = size[0] - margin
    return right - width, margin, right, margin + height


def draw_ai_label(image: Image.Image, *, text: str = "AI") -> Image.Image:
    """A copy of ``image`` with the badge in its top-right corner; mode (and alpha outside the badge) kept."""
    if image.mode not in _SUPPORTED_MODES:
        raise ValueError(f"draw_ai_label supports modes {', '.join(_SUPPORTED_MODES)}, not {image.mode}; convert first")
    if not text.strip():
        raise ValueError("label text must not be empty")
    height, margin = _badge_height(image.size)
    badge = _badge(text, height)
    if badge.width > image.width - 2 * margin:
        raise ValueError(f"label {text!r} does not fit an image {image.width} pixels wide")
    # Composite on the badge's own rectangle only: converting the whole image to RGBA and back cost ~10 ms
    # at 4 MP for a badge that covers a few percent of it.
    box = (image.width - margin - badge.width, margin, image.width - margin, margin + badge.height)
    region = image.crop(box).convert("RGBA")
    region.alpha_composite(badge)
    result = image.copy()
    result.paste(region if image.mode == "RGBA" else region.convert(image.mode), box[:2])
    return result
