"""Public pages (no sign-in), included at the site root with the namespace "public"."""

from django.urls import path

from tongxin.demands import views_public as views

urlpatterns = [
    path("report/<int:community_id>/", views.report, name="report"),
    path("report/<int:community_id>/qr.svg", views.qr_svg, name="qr"),
    path("track/", views.track, name="track"),
    path("track/<str:code>/", views.tracking, name="tracking"),
    path("track/<str:code>/done/", views.submitted, name="submitted"),
    path("track/<str:code>/rate/", views.rate, name="rate"),
    path("track/<str:code>/withdraw/", views.withdraw, name="withdraw"),
    path("track/<str:code>/photos/<int:attachment_id>/", views.photo, name="photo"),
]
