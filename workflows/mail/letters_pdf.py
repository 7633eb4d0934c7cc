"""PDF letters (fpdf2): a rendered e-mail's HTML body laid out on A4, with Noto Sans SC embedded.

Dunning notices from level 2 on, approval letters and the legal case file go out with a PDF copy in the
reader's language. One font covers Chinese and Latin text: Noto Sans SC (SIL Open Font License), which
`make setup` copies from the npm package @expo-google-fonts/noto-sans-sc to webui/static/vendor/fonts/.
fpdf2 embeds only the glyphs a letter uses (a subset), so a one-page letter is a few tens of kilobytes.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from babel.dates import format_date
from fpdf import FPDF, TextStyle

from workflows.languages import LANGUAGES
from workflows.mail.letter_fonts import add_shared_font, use_small_fonts
from workflows.messages import _

# webui/static/vendor/fonts/ beside this package, in the source tree and in an installed wheel alike.
FONT_DIR = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "fonts"
REGULAR = "NotoSansSC-Regular.ttf"
BOLD = "NotoSansSC-Bold.ttf"
FAMILY = "notosanssc"
PDF = "application/pdf"
# The letterhead: the sending department, after the company's name when one is configured (mail.sender).
DEPARTMENT = {"en": "Credit Management", "zh": "信用管理部"}
# The e-mail layout's footer ("sent automatically, do not reply") is no part of a letter.
_MAIL_ONLY = re.compile(r"<p class=\"mail-only\".*?</p>", re.DOTALL)
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL)


# Headings black and letter-sized (fpdf2's defaults are dark red, 18-24 pt).
_TAG_STYLES = {
    "h1": TextStyle(color="#000000", font_size_pt=15, t_margin=2, b_margin=2, font_style="B"),
    "h2": TextStyle(
        color="#000000", font_size_pt=14, t_margin=2, b_margin=2, font_style="B", l_margin="Center"
    ),
}


class LetterFontMissing(RuntimeError):
    """The letters' font is not installed; the message says how to install it."""


def font_path(name: str = REGULAR) -> Path:
    """Where a font file of the letters is.

    Raises:
        LetterFontMissing: it is not there (`make setup` copies it from npm).
    """
    path = FONT_DIR / name
    if not path.is_file():
        raise LetterFontMissing(
            _(
                "the PDF letters' font %(path)s is missing; run `make setup` (it copies Noto Sans SC from "
                "the npm package @expo-google-fonts/noto-sans-sc), then retry the step",
                path=str(path),
            )
        )
    return path


def letter_pdf(html: str, *, language: str, on: date, title: str, company: str = "") -> bytes:
    """The letter whose HTML e-mail body is `html` as a PDF: sender and date at the top (in the reader's
    language: "2027年1月14日", "14 January 2027"), then the body; `title` is the document's title, `company`
    the name of the company sending it in that language (the letterhead: "杭州示例机械有限公司 · 信用管理部").

    Raises:
        LetterFontMissing: the font is not installed.
    """
    regular, bold = font_path(REGULAR), font_path(BOLD)
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("creditflow")
    pdf.set_lang("zh-Hans" if language == "zh" else "en")
    # Parsed once per process (letter_fonts): add_font would parse both 10 MB files for every letter.
    add_shared_font(pdf, FAMILY, "", regular)
    add_shared_font(pdf, FAMILY, "B", bold)
    pdf.set_margins(22, 20, 22)
    pdf.add_page()
    pdf.set_font(FAMILY, size=9)
    pdf.set_text_color(110)
    department = DEPARTMENT.get(language, DEPARTMENT["en"])
    pdf.cell(0, 5, f"{company} · {department}" if company else department, new_x="LMARGIN", new_y="NEXT")
    locale = LANGUAGES.get(language, "en")
    written = format_date(on, format="long" if language == "zh" else "d MMM y", locale=locale)
    pdf.cell(0, 5, written, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_text_color(0)
    pdf.set_font(FAMILY, size=10.5)
    pdf.write_html(_letter_body(html), font_family=FAMILY, tag_styles=_TAG_STYLES)
    use_small_fonts(pdf)
    return bytes(pdf.output())


def _letter_body(html: str) -> str:
    found = _BODY.search(html)
    return _MAIL_ONLY.sub("", found.group(1) if found else html)
