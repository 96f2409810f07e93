from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from tongxin.accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "full_name", "role", "area", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["username", "full_name"]
    raw_id_fields = ["area", "resident"]
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("同心", {"fields": ("full_name", "role", "area", "phone", "resident")}),
    )
