"""``get_<field>_display()`` of the demand models and the areas: Django's labels, one
translated."""

from __future__ import annotations

from unittest import mock

from django.utils import translation
from django.utils.translation import trans_real

from tongxin.areas.models import Area, Level
from tongxin.demands.models import Demand, DemandEvent, EventKind, State


def test_the_labels_are_djangos_in_each_language():
    event = DemandEvent(kind=EventKind.SUBMITTED)
    demand = Demand(state=State.SUBMITTED)
    with translation.override("zh-hans"):
        assert event.get_kind_display() == str(EventKind.SUBMITTED.label)
        assert demand.get_state_display() == str(State.SUBMITTED.label)
        chinese = event.get_kind_display()
    with translation.override("en"):
        assert event.get_kind_display() == str(EventKind.SUBMITTED.label)
        english = event.get_kind_display()
    assert chinese != english  # translated when asked, not when first read
    event.kind = "no-such-kind"
    assert event.get_kind_display() == "no-such-kind"  # as Django: the value itself
    assert Demand(state=None).get_state_display() is None


def test_only_the_label_asked_for_is_translated():
    event = DemandEvent(kind=EventKind.SUBMITTED)
    event.get_kind_display()  # the field's choices, read once
    area = Area(level=Level.COMMUNITY)
    area.get_level_display()
    community = str(Level.COMMUNITY.label)
    # (What a lazy label calls when it is made a text, or hashed.)
    with mock.patch.object(translation._trans, "gettext", wraps=trans_real.gettext) as gettext:
        event.get_kind_display()
        Demand(state=State.RESOLVED).get_state_display()
        # 居民名册's place filter names the level of each of its 300 places.
        label = area.get_level_display()
    assert gettext.call_count == 3, gettext.call_count
    assert label == community
