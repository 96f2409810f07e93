"""Tongxin's URLs and the two reference views of the benchmark (bench/views.py)."""

from django.urls import include, path

from bench import views

urlpatterns = [
    path("bench/hello", views.hello),
    path("bench/insert", views.insert),
    path("bench/rows", views.rows),
    path("", include("tongxin.urls")),
]
