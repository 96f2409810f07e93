from django.contrib import admin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from tongxin.party.models import PartyOrg


@admin.register(PartyOrg)
class PartyOrgAdmin(TreeAdmin):
    form = movenodeform_factory(PartyOrg)
    list_display = ["name", "kind", "area", "secretary"]
    list_filter = ["kind"]
    search_fields = ["name"]
    raw_id_fields = ["area"]
