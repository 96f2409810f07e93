"""The T4 dispatch meeting (区一线办调度会), under /demands/meeting/."""

from django.urls import path, re_path

from tongxin.demands import views_meeting as v

urlpatterns = [
    path("", v.agenda, name="meeting"),
    re_path(r"^(?P<day>\d{4}-\d{2}-\d{2})/$", v.meeting_on, name="meeting_on"),
    path("item/<int:pk>/decide/", v.decide, name="meeting_decide"),
    path("<int:pk>/record/", v.record, name="meeting_record"),
]
