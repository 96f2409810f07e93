"""The staff side of the loop, under /demands/ (namespace "demands")."""

from django.urls import path

from tongxin.demands import views_staff as v

urlpatterns = [
    path("", v.work, name="work"),
    path("claim/", v.claim_list, name="claim"),
    path("inbox/", v.inbox, name="inbox"),
    path("inbox/<int:pk>/read/", v.inbox_read, name="inbox_read"),
    path("inbox/read-all/", v.inbox_read_all, name="inbox_read_all"),
    path("<int:pk>/", v.detail, name="detail"),
    path("<int:pk>/reveal/", v.reveal, name="reveal"),
    path("<int:pk>/step/<slug:name>/", v.step_form, name="step_form"),
    path("<int:pk>/accept/", v.accept, name="accept"),
    path("<int:pk>/dispatch/", v.dispatch, name="dispatch"),
    path("<int:pk>/start/", v.start, name="start"),
    path("<int:pk>/note/", v.note, name="note"),
    path("<int:pk>/resolve/", v.resolve, name="resolve"),
    path("<int:pk>/return/", v.return_, name="return"),
    path("<int:pk>/transfer/", v.transfer, name="transfer"),
    path("<int:pk>/merge/", v.merge, name="merge"),
    path("<int:pk>/postpone/", v.postpone, name="postpone"),
    path("<int:pk>/resume/", v.resume, name="resume"),
    path("<int:pk>/visit/", v.visit, name="visit"),
]
