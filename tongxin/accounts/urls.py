from django.urls import path

from tongxin.accounts import views


urlpatterns: list = []
