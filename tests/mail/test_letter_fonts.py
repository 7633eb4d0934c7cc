"""Issue 19: a PDF letter parses no font file (workflows.mail.letter_fonts keeps them parsed per process), and
gives the same PDF, byte for byte, as fpdf2's own add_font."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fpdf
import pytest
from fpdf.fonts import TTFFont
from pypdf import PdfReader

from tests.mail.test_mail_languages import CONTEXT
from workflows.mail import letter_fonts, letters_pdf
from workflows.mail.templates import render_email

ON = date(2027, 1, 14)


class _DatedFPDF(fpdf.FPDF):
    """fpdf2 writes the creation time into the file; a fixed one makes two runs comparable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creation_date = datetime(2027, 1, 14, 9, tzinfo=UTC)


def _letters() -> list[tuple[str, str, str]]:
    """(html, language, title) of letters with different characters: Chinese and English, bold headings."""
    letters = []
    for template, language, name in (
        ("dunning_notice", "zh", "上海精密零件有限公司"),
        ("approval_letter", "zh", "深圳华南电子科技股份有限公司"),
        ("dunning_notice", "en", "Slowpay Trading"),
        ("legal_case_file", "en", "Müller & Söhne GmbH"),
    ):
        email = render_email(template, {**CONTEXT, "customer_name": name}, language=language)
        letters.append((email.html, email.language, email.subject))
    return letters


def _add_font_itself(pdf: fpdf.FPDF, family: str, style: str, path: Any) -> None:
    pdf.add_font(family, style, str(path))


def test_a_letter_is_the_pdf_add_font_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(letters_pdf, "FPDF", _DatedFPDF)
    shared = [
        letters_pdf.letter_pdf(html, language=lng, on=ON, title=title) for html, lng, title in _letters()
    ]
    monkeypatch.setattr(letters_pdf, "add_shared_font", _add_font_itself)
    monkeypatch.setattr(letters_pdf, "use_small_fonts", lambda pdf: None)
    parsed = [
        letters_pdf.letter_pdf(html, language=lng, on=ON, title=title) for html, lng, title in _letters()
    ]
    assert shared == parsed  # the page, the embedded font subset (glyphs, tables, widths), the text map
    text = PdfReader(io.BytesIO(shared[1])).pages[0].extract_text()
    assert "深圳华南电子科技股份有限公司" in text and "¥500,000.00" in text
    assert all(len(data) < 80_000 for data in shared)  # subsets, not the 10 MB font


def test_no_letter_after_the_first_parses_a_font(monkeypatch: pytest.MonkeyPatch) -> None:
    html, language, title = _letters()[0]
    letters_pdf.letter_pdf(html, language=language, on=ON, title=title)
    parsed: list[object] = []
    real = TTFFont.__init__

    def counting(self: TTFFont, *args: Any, **kwargs: Any) -> None:
        parsed.append(args[1])
        real(self, *args, **kwargs)

    monkeypatch.setattr(TTFFont, "__init__", counting)
    for html, language, title in _letters():
        letters_pdf.letter_pdf(html, language=language, on=ON, title=title)
    assert parsed == []
    assert all(font.template.ttfont is None for font in letter_fonts._parsed.values())  # nothing to mutate


def test_letters_laid_out_at_once_in_threads_are_the_same_as_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(letters_pdf, "FPDF", _DatedFPDF)
    letters = _letters() * 3
    monkeypatch.setattr(letter_fonts, "_parsed", {})  # the threads race to parse the fonts and prepare glyphs
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(
            pool.map(
                lambda one: letters_pdf.letter_pdf(one[0], language=one[1], on=ON, title=one[2]), letters
            )
        )
    alone = [letters_pdf.letter_pdf(html, language=lang, on=ON, title=title) for html, lang, title in letters]
    assert together == alone


DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@pytest.mark.skipif(
    not DEJAVU.is_file(), reason="DejaVu Sans (a font with composite glyphs) is not installed"
)
def test_composite_glyphs_embed_as_add_font_embeds_them() -> None:
    # Noto Sans SC has no composite glyph; DejaVu Sans builds accented letters from a base and an accent.
    def page(add: Any) -> bytes:
        pdf = _DatedFPDF()
        add(pdf, "dejavu", "", DEJAVU)
        pdf.add_page()
        pdf.set_font("dejavu", size=12)
        pdf.write(text="Müller & Söhne: Ärger über Ça, Ångström, Łódź, ǅ")
        letter_fonts.use_small_fonts(pdf)
        return bytes(pdf.output())

    shared = page(letter_fonts.add_shared_font)
    assert letter_fonts.parsed_font(DEJAVU, "dejavu", "").components  # the font does have composites
    assert shared == page(_add_font_itself)
