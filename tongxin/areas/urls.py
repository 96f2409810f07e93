from django.urls import path

from tongxin.areas import views

app_name = "areas"
urlpatterns = [
    path("", views.tree, name="tree"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/children/", views.children, name="children"),
    path("<int:area_pk>/chain/add/", views.add, name="chain_add"),
    path("<int:area_pk>/chain/<int:pk>/absence/", views.absence, name="chain_absence"),
    path("<int:area_pk>/chain/<int:pk>/back/", views.back, name="chain_back"),
    path("<int:area_pk>/chain/<int:pk>/up/", views.up, name="chain_up"),
    path("<int:area_pk>/chain/<int:pk>/remove/", views.remove, name="chain_remove"),
]
