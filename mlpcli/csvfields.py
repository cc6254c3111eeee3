"""One column's raw CSV fields as 64-bit words, and the vectorised conversions the reader needs.

A field of up to ``8 * k`` bytes is held as ``k`` little-endian 64-bit words, right-aligned
(its last byte is the top byte of the last word) with zero bytes in front. A CSV field never
holds a NUL byte (the reader refuses them), so two fields are equal exactly when their words
are: a missing-value marker is found by comparing words, a category's key is its word (or a
checked hash of its words), and plain decimals (``-12.50``: a sign, at most 15 digits and a
dot) are converted to floats eight digits at a time with integer arithmetic on the words,
correctly rounded (an exact integer divided by an exact power of ten). Any other field (``1e3``,
``inf``, `` 7``) goes through NumPy's own string-to-float cast, which defines what a number is.

The words of a column take at most ``WORDS_BUDGET`` bytes: a field longer than its words hold (one
200 KB note in a column of short ones) keeps its last words only, and is compared, hashed and
converted from its bytes instead, so one long cell costs its own length, not the column's.
"""

from __future__ import annotations

import numpy as np

U64 = np.dtype("<u8")
_ONES = np.uint64(0x0101010101010101)
_FULL = np.uint64(0xFFFFFFFFFFFFFFFF)
# HIGH[v]: the top v bytes of a word (the valid bytes of a right-aligned field's word)
HIGH = np.array([0] + [(_FULL.item() << 8 * (8 - v)) & _FULL.item() for v in range(1, 9)], U64)
NOT_INTEGER = np.zeros(256, bool)  # a number holding one of these is not written as an integer
NOT_INTEGER[np.frombuffer(b".eEnNiI", np.uint8)] = True
POW10 = 10.0 ** np.arange(17)
COMMA, DOT = ord(","), ord(".")
WORDS_BUDGET = 32 << 20  # bytes of words per column and block, beyond eight words a field


def _word_view(buf: np.ndarray) -> np.ndarray:
    """Every 8-byte window of ``buf`` as one little-endian word: ``view[i]`` is ``buf[i:i + 8]``."""
    return np.ndarray((max(len(buf) - 7, 0),), U64, buffer=buf, strides=(1,))


class Fields:
    """Fields ``buf[ends - lengths : ends]`` as right-aligned words ``(n, k)``."""

    def __init__(self, words: np.ndarray, lengths: np.ndarray, buf: np.ndarray, ends: np.ndarray):
        self.words, self.lengths, self.buf, self.ends = words, lengths, buf, ends

    @classmethod
    def gather(cls, buf: np.ndarray, ends: np.ndarray, lengths: np.ndarray, first: np.ndarray | None = None) -> Fields:
        """The fields ending at ``ends``; ``first``: their first words when already gathered (``buf`` as windows)."""
        k = max(1, -(-int(lengths.max(initial=0)) // 8))
        k = min(k, max(8, WORDS_BUDGET // (8 * max(len(ends), 1))))  # longer fields: their last k words (``long``)
        view = _word_view(buf)
        words = np.empty((len(ends), k), U64)
        for m in range(k):
            at = ends - 8 * (k - m)
            if m == k - 1 and first is not None:
                words[:, m] = first
            elif len(at) and at.min() < 0:  # the file's first bytes: windows would start before the buffer
                words[:, m] = view[np.maximum(at, 0)] if len(view) else 0
                for i in np.flatnonzero(at < 0).tolist():
                    a = int(at[i])
                    words[i, m] = np.frombuffer(bytes(min(-a, 8)) + buf[: max(a + 8, 0)].tobytes(), U64)[0]
            else:
                words[:, m] = view[at]
            words[:, m] &= HIGH[np.clip(lengths - 8 * (k - 1 - m), 0, 8)]
        return cls(words, lengths, buf, ends)

    @classmethod
    def of(cls, values: list[bytes]) -> Fields:
        """Fields from byte strings (the quoted path, which the csv module has split)."""
        lengths = np.fromiter(map(len, values), np.int64, len(values))
        blob = np.frombuffer(b"".join(values), np.uint8)
        return cls.gather(blob, np.cumsum(lengths), lengths)

    def dotted(self) -> Fields:
        """The fields with every ',' read as '.' (decimal commas); themselves when none holds one."""
        u8 = self.words.view(np.uint8)
        comma = u8 == COMMA
        if not comma.any() and not len(self.long):
            return self
        words = self.words.copy()
        np.copyto(words.view(np.uint8), DOT, where=comma)
        return _Dotted(words, self.lengths, self.buf, self.ends)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def long(self) -> np.ndarray:
        """The fields longer than their words hold (only their last words are there)."""
        return np.flatnonzero(self.lengths > 8 * self.words.shape[1])

    def take(self, rows: np.ndarray) -> Fields:
        return Fields(self.words[rows], self.lengths[rows], self.buf, self.ends[rows])

    def value(self, i: int) -> bytes:
        end = int(self.ends[i])
        return self.buf[end - int(self.lengths[i]) : end].tobytes()

    def strings(self) -> np.ndarray:
        """The fields as a NumPy byte-string array (left-aligned, as ``np.array(list_of_bytes)``); of
        Python bytes when some are long (a fixed width would give every field the longest one's)."""
        kind = object if len(self.long) else "S"
        return np.array([self.value(i) for i in range(len(self))] or [b""], dtype=kind)[: len(self)]

    def equal(self, value: bytes) -> np.ndarray:
        """Which fields are exactly ``value``."""
        k = self.words.shape[1]
        if b"\0" in value:
            return np.zeros(len(self), bool)
        if not value:
            return self.lengths == 0
        if len(value) > 8 * k:  # only a long field can be it: compare the bytes
            hit = np.zeros(len(self), bool)
            same = [i for i in np.flatnonzero(self.lengths == len(value)).tolist() if self.value(i) == value]
            hit[same] = True
            return hit
        key = np.frombuffer(bytes(8 * k - len(value)) + value, U64)
        hit = self.words[:, 0] == key[0]
        for m in range(1, k):
            hit &= self.words[:, m] == key[m]
        return hit & (self.lengths == len(value))  # a long field's last words may spell a shorter value

    def equal_any(self, values: list[bytes]) -> np.ndarray:
        """Which fields are one of ``values`` (only fields as short as the longest are compared)."""
        hit = self.lengths == 0 if b"" in values else np.zeros(len(self), bool)
        values = [v for v in values if v]
        short = np.flatnonzero(self.lengths <= max(map(len, values), default=0))
        if len(short):
            few = self.take(short)
            found = np.zeros(len(short), bool)
            for v in values:
                found |= few.equal(v)
            hit[short[found]] = True
        return hit

    def keys(self) -> np.ndarray:
        """One 64-bit key per field, equal for equal fields (for distinct fields: check ``distinct``)."""
        h = self.words[:, 0].copy()
        for m in range(1, self.words.shape[1]):
            h *= np.uint64(0x100000001B3)
            h ^= self.words[:, m]
        for i in self.long.tolist():  # the bytes the words do not hold
            h[i] ^= np.uint64(hash(self.value(i)) & 0xFFFFFFFFFFFFFFFF)
        return h

    def distinct(self, first: np.ndarray, inverse: np.ndarray) -> bool:
        """Whether fields with equal keys are equal (no hash collision): ``first[inverse]`` stands for each field."""
        long = self.long
        if len(long) and not all(self.value(i) == self.value(int(first[inverse[i]])) for i in long.tolist()):
            return False
        return self.words.shape[1] == 1 or bool((self.words[first][inverse] == self.words).all())

    def floats(self, skip: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, bool]:
        """(values, which parsed, integer): each field as NumPy's string-to-float cast reads it (NaN where it
        cannot); fields in ``skip`` (missing values) are left NaN and count as parsed; ``integer``: every
        parsed field is written as an integer (no '.', no exponent, not nan or inf)."""
        n, k = self.words.shape
        vals, ok, dotted = _plain_floats(self.words, self.lengths) if k <= 2 else (np.zeros(n), np.zeros(n, bool), None)
        rest = ~ok if skip is None else ~ok & ~skip
        integer = dotted is None or not (dotted.any() if skip is None else (dotted & ~skip).any())
        vals[~ok] = np.nan
        ok[:] = True
        rest = np.flatnonzero(rest)
        long = rest[self.lengths[rest] > 8 * k]
        if len(long):  # one by one: as a block they would be as wide as the longest
            rest = rest[self.lengths[rest] <= 8 * k]
            for i in long.tolist():
                v = self.value(i)
                parsed = _number(v)
                ok[i], vals[i] = parsed is not None, np.nan if parsed is None else parsed
                integer = integer and not NOT_INTEGER[np.frombuffer(v, np.uint8)].any()
        if len(rest):
            raw = self.take(rest).strings()
            integer = integer and not NOT_INTEGER[raw.view(np.uint8)].any()
            try:
                vals[rest] = raw.astype(np.float64)
            except (ValueError, OverflowError):
                parsed = [_number(v) for v in raw.tolist()]
                ok[rest] = [v is not None for v in parsed]
                vals[rest] = [np.nan if v is None else v for v in parsed]
        return vals, ok, integer


class _Dotted(Fields):
    """Fields whose commas read as dots (``Fields.dotted``): their words are replaced, their bytes on reading."""

    def take(self, rows: np.ndarray) -> Fields:
        return _Dotted(self.words[rows], self.lengths[rows], self.buf, self.ends[rows])

    def value(self, i: int) -> bytes:
        return super().value(i).replace(b",", b".")


def _number(v: bytes) -> float | None:
    """``v`` read by NumPy's cast (the columns go through it), or None."""
    try:
        return float(np.array([v]).astype(np.float64)[0])
    except (ValueError, OverflowError):
        return None


def _plain_floats(words: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, plain, dotted): fields of one or two words that are plain decimals, converted; ``plain``
    marks them, ``dotted`` those of them with a dot.

    (Every step stays in one integer type: NumPy's mixed-type and uint64-to-float loops are slow.)
    """
    n, k = words.shape
    u8 = words.view(np.uint8)
    digits = u8 - np.uint8(48)
    is_digit = digits < 10
    digits *= is_digit.view(np.uint8)
    is_dot, is_minus = u8 == 46, u8 == 45
    is_sign = is_minus | (u8 == 43)
    dots, signs, minus = is_dot.view(U64), is_sign.view(U64), is_minus.view(U64)
    misplaced, negative = np.zeros(n, U64), np.zeros(n, U64)  # a sign after a field's first byte; a leading '-'
    for m in range(k):
        first = np.uint64(1) << (np.int64(8 * (8 * (k - m))) - 8 * lengths).view(U64)  # 0x01 at the field's first byte
        misplaced |= signs[:, m] & ~first
        negative |= minus[:, m] & first
    n_digits, n_dots = _count(is_digit.view(U64)), _count(dots)
    plain = (_count((is_digit | is_dot | is_sign).view(U64)) == lengths) & (misplaced == 0) & (n_dots <= 1)
    plain &= (n_digits >= 1) & (n_digits <= 15)
    # drop the dot: the digits before it move up one byte, over it (a carry crosses words); count those after it
    digits, one = digits.view(U64), np.uint64(1)
    mant, frac, carry, seen = np.zeros(n, U64), np.zeros(n, U64), np.zeros(n, U64), np.zeros(n, U64)
    for m in range(k):
        dot, d = dots[:, m], digits[:, m]
        low = dot - np.minimum(dot, one)  # the bytes below the dot
        for j in range(m + 1, k):  # a dot in a later word: this whole word is before it
            low |= np.uint64(0) - np.minimum(dots[:, j], one)
        mant = mant * np.uint64(10**8) + _swar((d & ~low) | ((d & low) << np.uint64(8)) | carry)
        carry = (d & low) >> np.uint64(56)
        frac += ((dot * _ONES) * _ONES) >> np.uint64(56)  # the dot's byte to the word's end
        frac += seen * np.uint64(8)  # a dot in an earlier word: this whole word is after it
        seen |= np.minimum(dot, one)
    dotted = plain & (n_dots > 0)
    frac -= np.minimum(frac, one)
    vals = mant.view(np.int64) / POW10[np.minimum(frac, np.uint64(16)).view(np.int64)]
    np.negative(vals, out=vals, where=negative != 0)
    return vals, plain, dotted


def _count(flags: np.ndarray) -> np.ndarray:
    """Per row, the bytes set (to 1) in its words ``flags`` (n, k)."""
    total = ((flags[:, 0] * _ONES) >> np.uint64(56)).view(np.int64)
    for m in range(1, flags.shape[1]):
        total = total + ((flags[:, m] * _ONES) >> np.uint64(56)).view(np.int64)
    return total


def _swar(x: np.ndarray) -> np.ndarray:
    """Eight digit bytes (the first at the lowest address) to the integer they write, per word."""
    x = x * np.uint64(10) + (x >> np.uint64(8))
    x &= np.uint64(0x00FF00FF00FF00FF)
    x = x * np.uint64(100) + (x >> np.uint64(16))
    x &= np.uint64(0x0000FFFF0000FFFF)
    x = x * np.uint64(10000) + (x >> np.uint64(32))
    x &= np.uint64(0xFFFFFFFF)
    return x
