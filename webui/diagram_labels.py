"""The BPMN text bpmn-js draws, with the labels in the reader's language: each element's `name` replaced by
its `name_<language>` property (workflows/definitions/display_names.py) where the diagram gives one.

Only the viewer asks for it (`?names=zh` on the diagram's URL); the stored definition, the editor and the
download keep the diagram as deployed. A deployed version never changes, so the last few results are kept.
"""

from __future__ import annotations

from functools import lru_cache

from lxml import etree

from workflows.definitions.display_names import ENGLISH, NAME_PROPERTY, PROPERTY_PATH
from workflows.definitions.problems import NS
from workflows.languages import LANGUAGES


def labelled_xml(xml: str, language: str | None) -> str:
    """`xml` with its names in `language`; as it is for English, an unknown language or unreadable XML."""
    if not language or language == ENGLISH or language not in LANGUAGES:
        return xml
    return _labelled(xml, language)


@lru_cache(maxsize=32)
def _labelled(xml: str, language: str) -> str:
    try:
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return xml  # bpmn-js reports what it cannot read; the names are no reason to fail first
    wanted = NAME_PROPERTY.format(language=language)
    changed = False
    for element in root.iter():
        if not isinstance(element.tag, str) or element.get("name") is None:
            continue
        for prop in element.iterfind(PROPERTY_PATH, NS):  # the element's own properties, not its children's
            value = (prop.get("value") or "").strip()
            if prop.get("name") == wanted and value:
                element.set("name", value)
                changed = True
    if not changed:
        return xml
    return str(etree.tostring(root, encoding="unicode"))
