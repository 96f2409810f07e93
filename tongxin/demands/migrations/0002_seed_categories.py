from django.db import migrations


def seed(apps, schema_editor):
    from tongxin.demands.categories import SEED_CATEGORIES

    Category = apps.get_model("demands", "Category")
    for order, (code, name, limit, unit, rule, description, extra) in enumerate(SEED_CATEGORIES):
        Category.objects.get_or_create(
            code=code,
            defaults={
                "name": name, "time_limit": limit, "time_unit": unit, "handling_rule": rule,
                "description": description, "extra_fields": extra, "sort_order": order * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("demands", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
