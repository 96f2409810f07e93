"""``get_<field>_display()`` without translating every label of the field each time.

Django's own builds a dict of the field's choices at every call, hashing each label:
a translated label is lazy, and hashing one translates it. A demand's page, a ledger
row or an API answer asks a demand for its state and each event for its kind (some
thirty kinds): hundreds of translations a page for the few labels shown. Here the
choices are read once per field and only the label asked for is translated."""

from __future__ import annotations

from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


class ChoiceLabels:
    """A model mixin: its ``get_<field>_display()`` as Django's, read from the field's
    choices as they were first read (choices fixed in the code, as Tongxin's are)."""

    def _get_FIELD_display(self, field):
        labels = field.__dict__.get("_choice_labels")
        if labels is None:
            labels = field._choice_labels = {
                make_hashable(value): label for value, label in field.flatchoices
            }
        value = getattr(self, field.attname)
        return force_str(labels.get(make_hashable(value), value), strings_only=True)
