"""The QR code of the ``pano view --lan`` URL, for a terminal.

The symbol itself comes from segno (pure Python, ISO/IEC 18004 complete, well kept); pano only draws
it with half-block characters, two module rows per character row, black on white so that it scans on
dark terminals too.

Example:
    >>> m = qr_matrix("https://192.168.1.2:8443/?t=abc")
    >>> len(m), len(m[0])
    (29, 29)
"""

from __future__ import annotations

from typing import Literal

import segno

__all__ = ["qr_matrix", "qr_terminal"]

MAX_VERSION = 10  # 57x57 modules: about the most a terminal shows legibly


def qr_matrix(text: str, level: Literal["L", "M"] = "M") -> list[list[bool]]:
    """Encode ``text`` (UTF-8, byte mode) as a QR symbol of the smallest version that holds it.

    Args:
        text: What the code says, e.g. a URL.
        level: Error correction: ``"L"`` (7 %) or ``"M"`` (15 %).

    Returns:
        Rows of modules, ``True`` = dark, without the quiet zone; side ``17 + 4·version``.

    Raises:
        ValueError: The text is longer than a version-10 symbol holds.
    """
    try:
        symbol = segno.make_qr(text, error=level, boost_error=False, encoding="utf-8")
    except segno.DataOverflowError as exc:
        raise ValueError(f"text of {len(text.encode('utf-8'))} bytes is too long for a QR code") from exc
    if symbol.version > MAX_VERSION:
        raise ValueError(f"text of {len(text.encode('utf-8'))} bytes is too long for a version-{MAX_VERSION} QR code")
    return [[bool(module) for module in row] for row in symbol.matrix]


def qr_terminal(text: str, quiet: int = 2, color: bool = True) -> str:
    """The QR code of ``text`` as lines of half-block characters (two module rows per line).

    Args:
        text: What the code says.
        quiet: Light border width in modules.
        color: Force black-on-white with ANSI colours, so the code scans on dark terminals too.

    Returns:
        A multi-line string ending in a newline.
    """
    m = qr_matrix(text)
    size = len(m) + 2 * quiet
    grid = [[False] * size for _ in range(quiet)]
    grid += [[False] * quiet + row + [False] * quiet for row in m]
    grid += [[False] * size for _ in range(quiet + 1)]  # +1: an even number of rows
    chars = {(False, False): " ", (True, False): "\u2580", (False, True): "\u2584", (True, True): "\u2588"}
    start, end = ("\x1b[30;47m", "\x1b[0m") if color else ("", "")
    lines = []
    for y in range(0, len(grid) - 1, 2):
        lines.append(start + "".join(chars[(grid[y][x], grid[y + 1][x])] for x in range(size)) + end)
    return "\n".join(lines) + "\n"
