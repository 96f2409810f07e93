from django.contrib import admin

from tongxin.people.models import Cadre, CoBuildingUnit, PartyMember, Resident, Volunteer


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    # Whole ID numbers and phones are shown only on the audited page, not here.
    list_display = ["name", "short_address", "id_number_masked", "phone_masked"]
    search_fields = ["name", "name_initials", "name_pinyin"]
    exclude = ["id_number", "phone"]
    raw_id_fields = ["household"]


@admin.register(PartyMember)
class PartyMemberAdmin(admin.ModelAdmin):
    list_display = ["name", "branch", "kind", "post", "home_community"]
    list_filter = ["kind", "post"]
    search_fields = ["name"]
    raw_id_fields = ["user", "resident", "branch", "home_community"]


@admin.register(Cadre)
class CadreAdmin(admin.ModelAdmin):
    list_display = ["user", "unit", "post", "community"]
    raw_id_fields = ["user", "community"]


@admin.register(Volunteer)
class VolunteerAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "skills"]
    search_fields = ["name"]
    raw_id_fields = ["resident", "community"]


@admin.register(CoBuildingUnit)
class CoBuildingUnitAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "contact_name"]
    search_fields = ["name"]
    filter_horizontal = ["communities"]
    raw_id_fields = ["branches"]
