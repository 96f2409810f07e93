from django.urls import path

from tongxin.people import views

app_name = "people"
urlpatterns = [
    path("", views.resident_list, name="list"),
    path("new/", views.resident_new, name="new"),
    path("<int:pk>/", views.resident_detail, name="detail"),
    path("<int:pk>/edit/", views.resident_edit, name="edit"),
    path("<int:pk>/reveal/", views.reveal, name="reveal"),
]
