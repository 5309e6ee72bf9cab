"""The organization's brand colour on customer pages, kept readable (WCAG 2.x AA).

``brand_palette`` gives three colours: the brand itself (backgrounds: the chosen score,
primary buttons), the text colour on it (black or white, whichever contrasts more) and
an "ink" version for text and links on white (the brand darkened until it reaches 4.5:1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_BRAND = "#1f5f8b"
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
AA_NORMAL_TEXT = 4.5


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _linear(red) + 0.7152 * _linear(green) + 0.0722 * _linear(blue)


def contrast_ratio(first: str, second: str) -> float:
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def text_colour_on(background: str) -> str:
    """Black or white text, whichever is more readable on ``background``."""
    on_white = contrast_ratio(background, "#ffffff")
    on_black = contrast_ratio(background, "#000000")
    return "#ffffff" if on_white >= on_black else "#000000"


def _darken(colour: str, factor: float) -> str:
    red, green, blue = (round(int(colour[i : i + 2], 16) * factor) for i in (1, 3, 5))
    return f"#{red:02x}{green:02x}{blue:02x}"


def ink_on_white(colour: str) -> str:
    """``colour``, darkened in small steps until text in it is AA-readable on white."""
    factor = 1.0
    ink = colour
    while contrast_ratio(ink, "#ffffff") < AA_NORMAL_TEXT and factor > 0:
        factor = round(factor - 0.05, 2)
        ink = _darken(colour, max(factor, 0.0))
    return ink


@dataclass(frozen=True, slots=True)
class BrandPalette:
    brand: str
    on_brand: str
    ink: str

    def css(self) -> str:
        return f":root{{--brand:{self.brand};--brand-text:{self.on_brand};--brand-ink:{self.ink}}}"


def brand_palette(colour: str | None) -> BrandPalette:
    brand = colour.lower() if colour and _HEX.match(colour) else DEFAULT_BRAND
    return BrandPalette(brand=brand, on_brand=text_colour_on(brand), ink=ink_on_white(brand))
