from django.contrib import admin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from tongxin.areas.models import Area, Responsibility


class ResponsibilityInline(admin.TabularInline):
    model = Responsibility
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Area)
class AreaAdmin(TreeAdmin):
    form = movenodeform_factory(Area)
    list_display = ["name", "level", "code"]
    list_filter = ["level"]
    search_fields = ["name", "code"]
    inlines = [ResponsibilityInline]
