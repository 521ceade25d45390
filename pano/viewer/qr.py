"""A tiny QR code encoder (byte mode, versions 1-10, error correction L or M) for the terminal.

Enough for a LAN URL with an access token (up to 213 bytes at level M), so ``pano view --lan``
needs no extra dependency. It follows ISO/IEC 18004: Reed-Solomon over GF(256) (poly 0x11D),
interleaved blocks, the eight masks scored with the standard penalty rules.

Example:
    >>> m = qr_matrix("https://192.168.1.2:8443/?t=abc")
    >>> len(m), len(m[0])
    (29, 29)
"""

from __future__ import annotations

from typing import Literal

__all__ = ["qr_matrix", "qr_terminal"]

# version -> (ec codewords per block, [(blocks, data codewords per block), ...]) for levels L and M
_BLOCKS: dict[str, dict[int, tuple[int, list[tuple[int, int]]]]] = {
    "L": {
        1: (7, [(1, 19)]),
        2: (10, [(1, 34)]),
        3: (15, [(1, 55)]),
        4: (20, [(1, 80)]),
        5: (26, [(1, 108)]),
        6: (18, [(2, 68)]),
        7: (20, [(2, 78)]),
        8: (24, [(2, 97)]),
        9: (30, [(2, 116)]),
        10: (18, [(2, 68), (2, 69)]),
    },
    "M": {
        1: (10, [(1, 16)]),
        2: (16, [(1, 28)]),
        3: (26, [(1, 44)]),
        4: (18, [(2, 32)]),
        5: (24, [(2, 43)]),
        6: (16, [(4, 27)]),
        7: (18, [(4, 31)]),
        8: (22, [(2, 38), (2, 39)]),
        9: (22, [(3, 36), (2, 37)]),
        10: (26, [(4, 43), (1, 44)]),
    },
}
_ALIGN: dict[int, list[int]] = {
    1: [],
    2: [6, 18],
    3: [6, 22],
    4: [6, 26],
    5: [6, 30],
    6: [6, 34],
    7: [6, 22, 38],
    8: [6, 24, 42],
    9: [6, 26, 46],
    10: [6, 28, 50],
}
_FORMAT_BITS = {"L": 1, "M": 0}


def _gf_mul(x: int, y: int) -> int:
    z = 0
    for i in reversed(range(8)):
        z = (z << 1) ^ ((z >> 7) * 0x11D)
        z ^= ((y >> i) & 1) * x
    return z


def _rs_divisor(degree: int) -> list[int]:
    result = [0] * (degree - 1) + [1]
    root = 1
    for _ in range(degree):
        for j in range(degree):
            result[j] = _gf_mul(result[j], root)
            if j + 1 < degree:
                result[j] ^= result[j + 1]
        root = _gf_mul(root, 0x02)
    return result


def _rs_remainder(data: list[int], divisor: list[int]) -> list[int]:
    result = [0] * len(divisor)
    for b in data:
        factor = b ^ result.pop(0)
        result.append(0)
        for i, coef in enumerate(divisor):
            result[i] ^= _gf_mul(coef, factor)
    return result


def _codewords(data: bytes, version: int, level: str) -> list[int]:
    ec_len, groups = _BLOCKS[level][version]
    capacity = sum(n * k for n, k in groups)
    bits: list[int] = []

    def put(value: int, length: int) -> None:
        bits.extend((value >> i) & 1 for i in reversed(range(length)))

    put(0b0100, 4)
    put(len(data), 8 if version < 10 else 16)
    for b in data:
        put(b, 8)
    put(0, min(4, capacity * 8 - len(bits)))
    put(0, (-len(bits)) % 8)
    words = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)]
    pad = 0xEC
    while len(words) < capacity:
        words.append(pad)
        pad ^= 0xEC ^ 0x11
    divisor = _rs_divisor(ec_len)
    blocks, ecs, pos = [], [], 0
    for n, k in groups:
        for _ in range(n):
            blk = words[pos : pos + k]
            pos += k
            blocks.append(blk)
            ecs.append(_rs_remainder(blk, divisor))
    out = [blk[i] for i in range(max(map(len, blocks))) for blk in blocks if i < len(blk)]
    out += [ec[i] for i in range(ec_len) for ec in ecs]
    return out


_MASKS = [
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
]


class _Symbol:
    def __init__(self, version: int, level: str) -> None:
        self.version, self.level = version, level
        self.size = size = version * 4 + 17
        self.dark = [[False] * size for _ in range(size)]
        self.func = [[False] * size for _ in range(size)]
        self._draw_function_patterns()

    def set(self, x: int, y: int, dark: bool) -> None:
        self.dark[y][x] = dark
        self.func[y][x] = True

    def _draw_function_patterns(self) -> None:
        size = self.size
        for i in range(size):
            self.set(6, i, i % 2 == 0)
            self.set(i, 6, i % 2 == 0)
        for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    x, y = cx + dx, cy + dy
                    if 0 <= x < size and 0 <= y < size:
                        self.set(x, y, max(abs(dx), abs(dy)) not in (2, 4))
        pos = _ALIGN[self.version]
        last = len(pos) - 1
        for i, cy in enumerate(pos):
            for j, cx in enumerate(pos):
                if (i, j) in ((0, 0), (0, last), (last, 0)):
                    continue
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        self.set(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)
        self.draw_format(0)  # reserve the format areas
        if self.version >= 7:
            rem = self.version
            for _ in range(12):
                rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
            bits = self.version << 12 | rem
            for i in range(18):
                bit = (bits >> i) & 1 == 1
                a, b = size - 11 + i % 3, i // 3
                self.set(a, b, bit)
                self.set(b, a, bit)

    def draw_format(self, mask: int) -> None:
        size = self.size
        data = _FORMAT_BITS[self.level] << 3 | mask
        rem = data
        for _ in range(10):
            rem = (rem << 1) ^ ((rem >> 9) * 0x537)
        bits = (data << 10 | rem) ^ 0x5412

        def bit(i: int) -> bool:
            return (bits >> i) & 1 == 1

        for i in range(6):
            self.set(8, i, bit(i))
        self.set(8, 7, bit(6))
        self.set(8, 8, bit(7))
        self.set(7, 8, bit(8))
        for i in range(9, 15):
            self.set(14 - i, 8, bit(i))
        for i in range(8):
            self.set(size - 1 - i, 8, bit(i))
        for i in range(8, 15):
            self.set(8, size - 15 + i, bit(i))
        self.set(8, size - 8, True)

    def draw_data(self, words: list[int]) -> None:
        size, i, total = self.size, 0, len(words) * 8
        right = size - 1
        while right >= 1:
            if right == 6:
                right = 5
            for vert in range(size):
                for j in range(2):
                    x = right - j
                    y = size - 1 - vert if ((right + 1) & 2) == 0 else vert
                    if not self.func[y][x] and i < total:
                        self.dark[y][x] = (words[i >> 3] >> (7 - (i & 7))) & 1 == 1
                        i += 1
            right -= 2

    def masked(self, mask: int) -> list[list[bool]]:
        fn = _MASKS[mask]
        return [
            [d != (not f and fn(x, y)) for x, (d, f) in enumerate(zip(row, frow))]
            for y, (row, frow) in enumerate(zip(self.dark, self.func))
        ]


def _penalty(m: list[list[bool]]) -> int:
    size = len(m)
    score = 0
    lines = m + [list(col) for col in zip(*m)]
    finder_a = [True, False, True, True, True, False, True, False, False, False, False]
    finder_b = finder_a[::-1]
    for line in lines:
        run = 1
        for i in range(1, size + 1):
            if i < size and line[i] == line[i - 1]:
                run += 1
            else:
                if run >= 5:
                    score += run - 2
                run = 1
        for i in range(size - 10):
            window = line[i : i + 11]
            if window == finder_a or window == finder_b:
                score += 40
    for y in range(size - 1):
        for x in range(size - 1):
            if m[y][x] == m[y][x + 1] == m[y + 1][x] == m[y + 1][x + 1]:
                score += 3
    dark = sum(map(sum, m))
    score += 10 * (abs(dark * 20 - size * size * 10) // (size * size))
    return score


def qr_matrix(text: str, level: Literal["L", "M"] = "M") -> list[list[bool]]:
    """Encode ``text`` (UTF-8, byte mode) as a QR symbol.

    Args:
        text: What the code says, e.g. a URL.
        level: Error correction: ``"L"`` (7 %) or ``"M"`` (15 %).

    Returns:
        Rows of modules, ``True`` = dark, without the quiet zone; side ``17 + 4·version``.

    Raises:
        ValueError: The text is longer than a version-10 symbol holds.
    """
    data = text.encode("utf-8")
    for version in range(1, 11):
        ec_len, groups = _BLOCKS[level][version]
        capacity = sum(n * k for n, k in groups)
        if 4 + (8 if version < 10 else 16) + 8 * len(data) <= capacity * 8:
            break
    else:
        raise ValueError(f"text of {len(data)} bytes is too long for a version-10 QR code")
    sym = _Symbol(version, level)
    sym.draw_data(_codewords(data, version, level))
    best, best_score = None, None
    for mask in range(8):
        sym.draw_format(mask)
        m = sym.masked(mask)
        score = _penalty(m)
        if best_score is None or score < best_score:
            best, best_score = m, score
    assert best is not None
    return best


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
