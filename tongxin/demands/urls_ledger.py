"""The problem ledger (问题台账), its figures and its Excel export, under /demands/ledger/."""

from django.urls import path

from tongxin.demands import views_ledger

urlpatterns = [
    path("", views_ledger.ledger_list, name="ledger"),
    path("figures/", views_ledger.ledger_figures, name="ledger_figures"),
    path("export.xlsx", views_ledger.ledger_export, name="ledger_export"),
]
