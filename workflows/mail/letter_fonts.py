"""The PDF letters' fonts, parsed once per process and shared, read-only, by every letter.

fpdf2's `FPDF.add_font` parses the whole font file for each document (for Noto Sans SC, 10 MB and 30,898
glyphs: about half a second of CPU per font), and at `output()` subsets that parsed font in place with
fontTools, so a parsed font cannot simply be handed to a second document. Here each font file is parsed once
(`ParsedFont`, behind a lock); a document gets its own fpdf2 `TTFFont` copying the parsed metrics
(`add_shared_font`: its own subset map, font descriptor and missing-glyph list; the cmap, glyph ids and
widths shared read-only), and just before output a small TrueType font holding only the glyphs that
document used (`use_small_fonts`). fpdf2 then subsets that small font as it would the big one: same glyphs,
same order, same tables, so the embedded font program and the page are what `add_font` gives. A letter
costs ~20 ms of CPU instead of ~440 ms (benchmarks/letters.py); the first one in a process ~0.6 s.

Written against fpdf2 2.8 (pyproject pins <3): it relies on `FPDF.fonts`, `TTFFont`'s attributes and
`SubsetMap.get_all_glyph_names()`. tests/mail/test_letter_fonts.py compares the result with `add_font`'s
byte for byte, so an fpdf2 upgrade that changes any of them fails there first.
"""

from __future__ import annotations

import copy
import threading
from array import array
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont, newTable
from fontTools.ttLib.tables._c_m_a_p import CmapSubtable
from fontTools.ttLib.tables._g_l_y_f import Glyph
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

# Tables copied whole into a document's small font (they do not depend on the glyph set; fpdf2's subsetter
# then treats them as it does the big font's). GDEF/GPOS/GSUB are left out: fpdf2 drops them anyway.
_WHOLE_TABLES = "head hhea vhea maxp OS/2 name post gasp prep fpgm BASE STAT".split() + ["cvt "]
# TrueType keeps the first four glyphs of a font (fpdf2 subsets with recommended_glyphs=True).
_RECOMMENDED = 4


class ParsedFont:
    """One font file, parsed once: the fpdf2 font whose metrics every document copies, and the raw glyph
    outlines, advance widths and cmap that a document's small font is built from. Never changed after
    __init__, so threads share it without a lock."""

    def __init__(self, path: Path, fontkey: str, style: str) -> None:
        self.template = TTFFont(FPDF(), path, fontkey, style)
        big = self.template.ttfont
        self.glyph_order: list[str] = big.getGlyphOrder()
        self.glyph_ids: dict[str, int] = {name: glyph_id for glyph_id, name in enumerate(self.glyph_order)}
        glyf = big["glyf"]
        # A glyph's outline as stored (empty for a glyph without contours, such as the space).
        self.outlines: dict[str, bytes] = {
            name: getattr(glyph, "data", b"") for name, glyph in glyf.glyphs.items()
        }
        self.components: dict[str, list[str]] = {}
        for name, data in self.outlines.items():
            if data[:2] == b"\xff\xff":  # numberOfContours -1: a composite glyph
                composite = Glyph(data)
                composite.expand(glyf)
                self.components[name] = [c.glyphName for c in composite.components]
        # Advance and side bearing by glyph id, packed (as fontTools' dicts of tuples they took ~9 MB a font).
        self.hmtx = _packed(big["hmtx"].metrics, self.glyph_order)
        self.vmtx = _packed(big["vmtx"].metrics, self.glyph_order) if "vmtx" in big else None
        # As stored (getTableData would compile the decompiled ones: hhea by expanding every glyph).
        self.tables: dict[str, bytes] = {tag: big.reader[tag] for tag in _WHOLE_TABLES if tag in big.reader}
        # (platform, encoding, format, language, fontTools' own code -> glyph name or, for the variation
        # sequences of format 14, selector -> [(code, glyph name or None for the default glyph)]), and one
        # index glyph name -> its codes in any subtable (the subtables map mostly the same codes).
        self.cmaps: list[tuple[int, int, int, int, Any]] = []
        codes_of: dict[str, list[int]] = {}
        for table in big["cmap"].tables:
            mapping = table.uvsDict if table.format == 14 else table.cmap
            self.cmaps.append((table.platformID, table.platEncID, table.format, table.language, mapping))
            if table.format != 14:
                for code, name in mapping.items():
                    codes = codes_of.setdefault(name, [])
                    if code not in codes:
                        codes.append(code)
        self.codes_of: dict[str, tuple[int, ...]] = {name: tuple(codes) for name, codes in codes_of.items()}
        del codes_of
        widths: Any = self.template.cw  # fpdf2's defaultdict, typed as a dict
        self.template.cw = _Widths(widths, widths.default_factory())
        self.template.close()
        self.template.ttfont = None  # documents get their own small font; nothing may touch this one
        # name -> a simple glyph as fpdf2's output leaves it (see _prepare); filled as letters use glyphs.
        # Threads may compute the same glyph at once: both results are equal and a dict store is atomic.
        self.prepared: dict[str, _Prepared] = {}

    def small_font(self, used: list[str]) -> TTFont:
        """A new font with the glyphs `used` (glyph names), the first four and their components, in the big
        font's order and with its names, its other tables as they are."""
        keep = set(used) | set(self.glyph_order[:_RECOMMENDED])
        todo = [name for name in keep if name in self.components]
        while todo:
            for part in self.components[todo.pop()]:
                if part not in keep:
                    keep.add(part)
                    todo.extend([part] if part in self.components else [])
        order = sorted(keep, key=self.glyph_ids.__getitem__)
        font = TTFont(recalcTimestamp=False)
        font.setGlyphOrder(order)
        for tag, data in self.tables.items():
            table = newTable(tag)
            table.decompile(data, font)
            font[tag] = table
        glyf = newTable("glyf")
        glyf.glyphOrder = order
        # A composite's parts stay plain glyphs: fontTools reads their coordinates for the composite's bounds.
        parts = {part for name in keep if name in self.components for part in self.components[name]}
        glyf.glyphs = {name: self._glyph(name, plain=name in parts) for name in order}
        font["glyf"] = glyf
        font["loca"] = newTable("loca")
        hmtx = newTable("hmtx")
        hmtx.metrics = self._metrics(self.hmtx, order)
        font["hmtx"] = hmtx
        if self.vmtx is not None:
            vmtx = newTable("vmtx")
            vmtx.metrics = self._metrics(self.vmtx, order)
            font["vmtx"] = vmtx
        cmap = newTable("cmap")
        cmap.tableVersion = 0
        cmap.tables = []
        codes: set[int] = set()
        for platform, encoding, fmt, language, mapping in self.cmaps:
            subtable = CmapSubtable.newSubtable(fmt)
            subtable.platformID, subtable.platEncID, subtable.language = platform, encoding, language
            if fmt == 14:
                subtable.cmap = {}
                subtable.uvsDict = {
                    selector: kept
                    for selector, pairs in mapping.items()
                    if (kept := [(c, g) for c, g in pairs if (g in keep if g else c in codes)])
                }
            else:
                subtable.cmap = {
                    code: name
                    for name in order
                    for code in self.codes_of.get(name, ())
                    if mapping.get(code) == name
                }
                codes.update(subtable.cmap)
            cmap.tables.append(subtable)
        font["cmap"] = cmap
        return font

    def _metrics(self, packed: tuple[array[int], array[int]], order: list[str]) -> dict[str, tuple[int, int]]:
        advances, bearings = packed
        ids = [self.glyph_ids[name] for name in order]
        return {name: (advances[i], bearings[i]) for name, i in zip(order, ids, strict=True)}

    def _glyph(self, name: str, *, plain: bool) -> Glyph:
        """A new glyph object for a document's small font (`plain`: as stored, for fontTools to decompile)."""
        data = self.outlines[name]
        if name in self.components:
            composite = Glyph(data)
            composite.expand(_BigGlyf(self.glyph_order))  # component ids of the big font become names
            return composite
        if plain or not data or data[:2] == b"\x00\x00":
            return Glyph(data)
        prepared = self.prepared.get(name)
        if prepared is None:
            prepared = self.prepared[name] = _prepare(data)
        return _PreparedGlyph(prepared)


def _packed(metrics: dict[str, tuple[int, int]], order: list[str]) -> tuple[array[int], array[int]]:
    return array("i", (metrics[name][0] for name in order)), array("i", (metrics[name][1] for name in order))


class _Widths(dict[int, float]):
    """A font's advance widths by character, shared by every document: a character the font lacks has the
    .notdef glyph's width. Unlike fpdf2's defaultdict, a lookup never stores anything, so sharing is safe."""

    def __init__(self, widths: dict[int, float], missing: float) -> None:
        super().__init__(widths)
        self.missing = missing

    def __missing__(self, char: int) -> float:
        return self.missing


class _BigGlyf:
    """What a glyph asks its glyf table while it is decompiled or compiled: whether coordinates are extended
    (not in a TrueType glyf table) and, for a composite, its components' names by the big font's ids."""

    extended = False

    def __init__(self, order: list[str]) -> None:
        self.order = order

    def getGlyphName(self, glyph_id: int) -> str:  # noqa: N802 - fontTools' name
        return self.order[glyph_id]


# numberOfContours, xMin, yMin, xMax, yMax, points, contours, compiled glyph
_Prepared = tuple[int, int, int, int, int, int, int, bytes]


def _prepare(data: bytes) -> _Prepared:
    """A simple glyph as fpdf2's output (fontTools' subsetter, then save with recalcBBoxes) writes it:
    trimmed, decompiled, bounds recalculated and compiled again. Done once per glyph and process: the
    decompile and compile are most of what an embedded font costs."""
    glyph = Glyph(data)
    glyph.trim(remove_hinting=False, extended=False)
    context: Any = _BigGlyf([])
    glyph.expand(context)
    compiled = glyph.compile(context, True, boundsDone=set(), optimizeSize=True)
    points, contours = glyph.getMaxpValues()
    return (
        glyph.numberOfContours,
        glyph.xMin,
        glyph.yMin,
        glyph.xMax,
        glyph.yMax,
        points,
        contours,
        compiled,
    )


class _PreparedGlyph(Glyph):  # type: ignore[misc]  # fontTools is untyped
    """A simple glyph carrying what fontTools reads of it while saving a font (bounds for head/hhea/vhea/maxp,
    points and contours for maxp) and its compiled bytes, so saving decompiles and compiles nothing."""

    def __init__(self, prepared: _Prepared) -> None:  # no super(): it would parse the raw data
        (self.numberOfContours, self.xMin, self.yMin, self.xMax, self.yMax, self._points, self._contours) = (
            prepared[:7]
        )
        self._compiled = prepared[7]

    def compile(self, glyfTable: Any, recalcBBoxes: bool = True, **_options: Any) -> bytes:  # noqa: N803
        return self._compiled

    def recalcBounds(self, glyfTable: Any, **_options: Any) -> None:  # noqa: N802, N803 - the bounds are set
        return None

    def getMaxpValues(self) -> tuple[int, int]:  # noqa: N802
        return self._points, self._contours


_parsed: dict[tuple[str, str], ParsedFont] = {}
_parsing = threading.Lock()


def parsed_font(path: Path, fontkey: str, style: str) -> ParsedFont:
    """The process's parsed copy of the font file at `path` (parsed on first use, under a lock)."""
    key = (str(path), fontkey)
    found = _parsed.get(key)
    if found is None:
        with _parsing:
            found = _parsed.get(key)
            if found is None:
                found = _parsed[key] = ParsedFont(path, fontkey, style)
    return found


def add_shared_font(pdf: FPDF, family: str, style: str, path: Path) -> None:
    """`pdf.add_font(family, style, path)` without parsing the file again: the document's font copies the
    process's parsed one, with its own subset map (the characters this document uses)."""
    fontkey = f"{family.lower()}{style}"
    parsed = parsed_font(path, fontkey, style)
    template = parsed.template
    font: Any = TTFFont.__new__(TTFFont)
    for slot in TTFFont.__slots__:
        if hasattr(template, slot):  # __init__ leaves some unset (unicode_range)
            setattr(font, slot, getattr(template, slot))
    font.i = len(pdf.fonts) + 1
    font.desc = copy.copy(template.desc)  # output() writes the document's object id and font file into it
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font._hbfont = None
    font.ttfont = None  # use_small_fonts sets it before output
    font.subset = SubsetMap(font)
    pdf.fonts[fontkey] = font
    _shared_fonts(pdf)[fontkey] = parsed


def use_small_fonts(pdf: FPDF) -> None:
    """Before `pdf.output()`: give each shared font of `pdf` the small font of the glyphs the document used,
    which fpdf2 subsets and embeds."""
    for fontkey, parsed in _shared_fonts(pdf).items():
        font: Any = pdf.fonts[fontkey]  # the TTFFont add_shared_font stored
        font.ttfont = parsed.small_font(list(font.subset.get_all_glyph_names()))


def _shared_fonts(pdf: FPDF) -> dict[str, ParsedFont]:
    shared: dict[str, ParsedFont] | None = getattr(pdf, "_creditflow_shared_fonts", None)
    if shared is None:
        shared = {}
        pdf._creditflow_shared_fonts = shared  # type: ignore[attr-defined]
    return shared
