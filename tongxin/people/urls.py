from django.urls import path

from tongxin.people import views

app_name = "people"
urlpatterns: list = []
