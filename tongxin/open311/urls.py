"""GeoReport v2 under /open311/v2/: every resource with a .xml or .json suffix."""

from django.urls import re_path

from tongxin.open311 import views

FMT = r"\.(?P<fmt>[A-Za-z0-9]+)$"
urlpatterns = [
    re_path(r"^services" + FMT, views.services, name="open311_services"),
    re_path(r"^services/(?P<code>[-\w]+)" + FMT, views.service_definition, name="open311_service"),
    re_path(r"^requests" + FMT, views.requests, name="open311_requests"),
    re_path(r"^requests/(?P<pk>\d{1,11})" + FMT, views.request_detail, name="open311_request"),
    re_path(
        r"^tokens/(?P<token>[A-Za-z0-9]{1,40})" + FMT, views.token_detail, name="open311_token"
    ),
]
