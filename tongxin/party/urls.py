from django.urls import path

from tongxin.party import views

app_name = "party"
urlpatterns = [
    path("", views.tree, name="tree"),
    path("<int:pk>/", views.detail, name="detail"),
]
