from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tongxin.core.forms import DayInput, StyledForm
from tongxin.workcal import importer
from tongxin.workcal.models import CalendarDay


class CalendarDayForm(StyledForm, forms.ModelForm):
    class Meta:
        model = CalendarDay
        fields = ["date", "kind", "name", "note"]
        widgets = {"date": DayInput()}


class ImportForm(StyledForm, forms.Form):
    file = forms.FileField(
        label=gettext_lazy("安排文件（.csv 或 .txt）"),
        help_text=gettext_lazy("每行一天：日期,类型,名称，如 2027-01-01,holiday,元旦"),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[importer.Row] = []
        self.line_errors: list[importer.LineError] = []

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError(_("只能上传 .csv 或 .txt 文件。"))
        if upload.size > importer.MAX_BYTES:
            raise forms.ValidationError(
                _("文件太大：节假日安排文件不会超过 %(kb)d KB。")
                % {"kb": importer.MAX_BYTES // 1024}
            )
        try:
            self.rows, self.line_errors = importer.parse(importer.decode(upload.read()))
        except importer.FileError as e:
            raise forms.ValidationError(e.message) from None
        if self.line_errors:
            raise forms.ValidationError(
                _("文件中有 %(n)d 行有问题，一条也没有导入。请改正下列各行后重新上传。")
                % {"n": len(self.line_errors)}
            )
        return upload
