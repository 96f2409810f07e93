from django.urls import path

from tongxin.party import views

app_name = "party"
urlpatterns: list = []
