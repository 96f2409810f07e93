from __future__ import annotations

from django import forms


class StyledForm:
    """Gives every widget its Bootstrap class, so templates stay plain."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.CheckboxSelectMultiple):
                css = ""
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            if css:
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class DayInput(forms.DateInput):
    """The browser's own date picker (``<input type="date">``), which sends and shows
    ISO dates whatever the page's language."""

    input_type = "date"

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")
