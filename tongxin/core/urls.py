from django.urls import path

from tongxin.core import views


urlpatterns: list = []
