"""The LAN URL's QR code (segno), checked by decoding its symbols with OpenCV's QR detector."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pano.viewer.qr import qr_matrix, qr_terminal


def decode(matrix: list[list[bool]]) -> str:
    m = np.asarray(matrix, dtype=np.uint8)
    img = np.pad((1 - m) * 255, 4, constant_values=255).astype(np.uint8)  # 4-module quiet zone
    img = cv2.resize(img, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(img)
    return text


@pytest.mark.parametrize(
    ("text", "level", "side"),
    [
        ("https://127.0.0.1:8360/", "M", 25),  # version 2
        ("https://192.168.178.23:8360/?t=Zx9Yk3_kP2v-8sQwLm0aBc", "M", 33),  # a real --lan URL: version 4
        ("https://192.168.178.23:8360/?t=Zx9Yk3_kP2v-8sQwLm0aBc", "L", 29),
        ("x" * 100, "M", 41),  # version 6 (4 blocks)
        ("x" * 120, "M", 45),  # version 7 (version info bits)
        ("https://example.org/" + "é" * 60, "M", 49),  # UTF-8, version 8 (uneven blocks, version info)
        ("a" * 200, "M", 57),  # version 10
    ],
)
def test_symbols_decode(text: str, level: str, side: int) -> None:
    m = qr_matrix(text, level)  # type: ignore[arg-type]
    assert len(m) == side and all(len(row) == side for row in m)
    assert decode(m) == text


def test_too_long() -> None:
    with pytest.raises(ValueError, match="too long"):
        qr_matrix("a" * 300)


def test_terminal_rendering() -> None:
    text = "https://10.0.0.2:8360/?t=abc"
    out = qr_terminal(text, quiet=2, color=False)
    lines = out.splitlines()
    side = len(qr_matrix(text)) + 4
    assert len(lines) == (side + 1) // 2 and all(len(line) == side for line in lines)
    # Rebuild the module grid from the half blocks and decode it again.
    top = {" ": False, "\u2580": True, "\u2584": False, "\u2588": True}
    bottom = {" ": False, "\u2580": False, "\u2584": True, "\u2588": True}
    grid = [row for line in lines for row in ([top[c] for c in line], [bottom[c] for c in line])][:side]
    assert decode([row[2:-2] for row in grid[2:-2]]) == text
    assert qr_terminal(text).startswith("\x1b[30;47m")  # black on white, whatever the terminal theme
