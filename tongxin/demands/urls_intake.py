"""Staff intake (代录), the QR print sheet and staff photos, under /demands/intake/."""

from django.urls import path

from tongxin.demands import views_intake as views

urlpatterns = [
    path("new/", views.intake, name="intake"),
    path("residents/", views.resident_search, name="intake_residents"),
    path("reporter/", views.reporter_pick, name="intake_reporter"),
    path("qr/", views.qr_sheet, name="qr_sheet"),
    path("photo/<int:attachment_id>/", views.photo, name="photo"),
]
