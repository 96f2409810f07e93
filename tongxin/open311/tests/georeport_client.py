"""A GeoReport v2 client written from the specification (open311.org, GeoReport v2),
not from Tongxin's code: HTTP and parsing only. The tests drive Tongxin with it."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

# Elements the spec defines as lists of repeated children.
LIST_ELEMENTS = {"services", "service_requests", "attributes", "values", "errors"}


def xml_to_python(element: ET.Element):
    children = list(element)
    if element.tag in LIST_ELEMENTS:
        return [xml_to_python(child) for child in children]
    if not children:
        return element.text or ""
    return {child.tag: xml_to_python(child) for child in children}


class GeoReportClient:
    def __init__(self, endpoint: str, fmt: str = "json", jurisdiction_id: str | None = None):
        self.endpoint = endpoint.rstrip("/") + "/"
        self.fmt = fmt
        self.jurisdiction_id = jurisdiction_id

    def _url(self, resource: str, params: dict | None = None) -> str:
        params = dict(params or {})
        if self.jurisdiction_id:
            params["jurisdiction_id"] = self.jurisdiction_id
        query = "?" + urllib.parse.urlencode(params) if params else ""
        return f"{self.endpoint}{resource}.{self.fmt}{query}"

    def _call(self, request: urllib.request.Request):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        if self.fmt == "json":
            return status, json.loads(body.decode("utf-8"))
        return status, xml_to_python(ET.fromstring(body))

    def get(self, resource: str, **params):
        return self._call(urllib.request.Request(self._url(resource, params)))

    def post(self, resource: str, fields: dict):
        if self.jurisdiction_id:
            fields = {**fields, "jurisdiction_id": self.jurisdiction_id}
        data = urllib.parse.urlencode(fields).encode("ascii")
        request = urllib.request.Request(
            self._url(resource),
            data=data,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return self._call(request)

    # The spec's methods.
    def services(self):
        return self.get("services")

    def service_definition(self, service_code: str):
        return self.get(f"services/{service_code}")

    def post_service_request(self, api_key: str, service_code: str, **fields):
        return self.post("requests", {"api_key": api_key, "service_code": service_code, **fields})

    def service_requests(self, **params):
        return self.get("requests", **params)

    def service_request(self, service_request_id: str):
        return self.get(f"requests/{service_request_id}")

    def request_id_from_token(self, token: str):
        return self.get(f"tokens/{token}")
