"""Importing residents from .xlsx; included at "residents/import/" as namespace "imports"."""

from django.urls import path

from tongxin.people import import_views

app_name = "imports"
urlpatterns = [
    path("", import_views.start, name="start"),
    path("template.xlsx", import_views.download_template, name="template"),
    path("<int:pk>/", import_views.job, name="job"),
    path("<int:pk>/progress/", import_views.progress, name="progress"),
    path("<int:pk>/errors.xlsx", import_views.error_report, name="errors"),
]
