"""GeoReport v2 responses in XML and JSON, and its error format.

Every answer is built as plain dicts and lists first; the two formats are two ways of
writing the same structure, so they cannot drift apart."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from django.http import HttpResponse

FORMATS = ("xml", "json")
# In XML a list is an element holding one child per item, named as the spec names them.
ITEM_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
}
CONTENT_TYPES = {
    "xml": "text/xml; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
# Characters XML 1.0 cannot carry at all; residents' text may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Problem(Exception):
    """An error answered in the spec's format with the same HTTP status."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = str(description)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        tag = ITEM_TAGS[element.tag]
        for item in value:
            _fill(ET.SubElement(element, tag), item)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> str:
    element = ET.Element(root)
    _fill(element, value)
    body = ET.tostring(element, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body


def respond(fmt: str, root: str, value: Any, status: int = 200) -> HttpResponse:
    """``root`` names the XML document element; JSON has no root and is ``value``."""
    content = to_xml(root, value) if fmt == "xml" else json.dumps(value, ensure_ascii=False)
    return HttpResponse(content, status=status, content_type=CONTENT_TYPES[fmt])


def error_response(fmt: str, status: int, description: str) -> HttpResponse:
    fmt = fmt if fmt in FORMATS else "json"
    return respond(fmt, "errors", [{"code": status, "description": description}], status)
