"""The demand loop's pages. Each part of the loop keeps its views in its own module."""

from django.urls import include, path

app_name = "demands"
urlpatterns = [
    path("", include("tongxin.demands.urls_staff")),
    path("intake/", include("tongxin.demands.urls_intake")),
    path("ledger/", include("tongxin.demands.urls_ledger")),
    path("meeting/", include("tongxin.demands.urls_meeting")),
]
