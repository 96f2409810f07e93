"""The problem ledger (问题台账), its figures and its Excel export, under /demands/ledger/;
an export too large to wait for is a job with a page of its own under exports/."""

from django.urls import path

from tongxin.demands import views_exports, views_ledger

urlpatterns = [
    path("", views_ledger.ledger_list, name="ledger"),
    path("figures/", views_ledger.ledger_figures, name="ledger_figures"),
    path("export.xlsx", views_ledger.ledger_export, name="ledger_export"),
    path("exports/<int:pk>/", views_exports.export_job, name="export_job"),
    path("exports/<int:pk>/progress/", views_exports.export_progress, name="export_progress"),
    path("exports/<int:pk>/download/", views_exports.export_download, name="export_download"),
]
