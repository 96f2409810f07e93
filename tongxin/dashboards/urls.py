"""Dashboards by role and the monthly briefing (简报), under /dashboards/."""

from django.urls import path

from tongxin.dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("briefing/", views.briefing, name="briefing"),
    path("briefing/<int:year>/<int:month>.pdf", views.briefing_pdf, name="briefing_pdf"),
]
