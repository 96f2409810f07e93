from django.urls import path

from tongxin.areas import views

app_name = "areas"
urlpatterns: list = []
