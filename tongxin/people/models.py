"""The people of a community: residents in households, party members, cadres,
volunteers and co-building units."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from pypinyin import Style, lazy_pinyin

from tongxin.areas.models import Area, Level
from tongxin.people.idnumbers import clean_id_number, clean_phone, mask_id_number, mask_phone


class CareTag(models.TextChoices):
    """Groups that need care (重点关爱对象)."""

    HARDSHIP = "hardship", _("困难家庭")
    SUBSISTENCE = "subsistence", _("低保户")
    ELDERLY_ALONE = "elderly_alone", _("空巢/独居老人")
    DISABLED = "disabled", _("残疾人")
    LEFT_BEHIND_CHILD = "left_behind_child", _("留守儿童")
    UNEMPLOYED = "unemployed", _("下岗失业")
    RELEASED = "released", _("刑释人员")
    CORRECTION = "correction", _("社区矫正")
    HOSPITALISED = "hospitalised", _("住院")
    MIGRANT = "migrant", _("流动人口")


class Gender(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


def pinyin_keys(name: str) -> tuple[str, str]:
    """('zhangsan', 'zs') for 张三： what a worker types to find a person."""
    syllables = lazy_pinyin(name, errors="ignore")
    initials = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(syllables).lower(), "".join(initials).lower()


class ResidentQuerySet(models.QuerySet):
    def search(self, q: str) -> ResidentQuerySet:
        """Name, pinyin, pinyin initials, phone tail or address, whichever the text fits.
        Several words narrow down: "仁和家园 1栋 张" finds 张 in building 1 of 仁和家园."""
        qs = self
        for term in q.split()[:5]:
            qs = qs._search_term(term)
        return qs

    def _search_term(self, q: str) -> ResidentQuerySet:
        if q.isdigit():
            if len(q) <= 4:
                return self.filter(Q(phone_tail__startswith=q) | Q(household__room__startswith=q))
            return self.filter(Q(phone__endswith=q) | Q(id_number__startswith=q))
        if q.isascii():
            q = q.lower()
            return self.filter(Q(name_initials__startswith=q) | Q(name_pinyin__startswith=q))
        return self.filter(Q(name__contains=q) | Q(address_text__contains=q))

    def tagged(self, tag: str) -> ResidentQuerySet:
        return self.filter(tags__contains=f"|{tag}|")

    def within(self, area: Area | None) -> ResidentQuerySet:
        if area is None:
            return self
        return self.filter(household__path__startswith=area.path)


class Resident(models.Model):
    """A person in the resident register (居民), living in a household."""

    name = models.CharField(_("姓名"), max_length=50)
    gender = models.CharField(_("性别"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    id_number = models.CharField(_("身份证号"), max_length=18, unique=True, null=True, blank=True)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    household = models.ForeignKey(
        Area,
        models.PROTECT,
        related_name="residents",
        verbose_name=_("户"),
        limit_choices_to={"level": Level.HOUSEHOLD},
    )
    relation = models.CharField(_("与户主关系"), max_length=20, blank=True)
    # Tags are stored "|a|b|" so one LIKE finds a tag on SQLite and PostgreSQL alike.
    tags = models.CharField(_("关爱标签"), max_length=300, blank=True, default="")
    note = models.TextField(_("备注"), blank=True)
    # Search keys, kept in step with the name and address on save.
    name_pinyin = models.CharField(max_length=200, editable=False, db_index=True)
    name_initials = models.CharField(max_length=50, editable=False, db_index=True)
    phone_tail = models.CharField(max_length=4, editable=False, db_index=True)
    address_text = models.CharField(max_length=300, editable=False, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ResidentQuerySet.as_manager()

    class Meta:
        verbose_name = _("居民")
        verbose_name_plural = _("居民")
        ordering = ["household__path", "id"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.refresh_search_keys()
        if not self.id_number:
            self.id_number = None
        super().save(*args, **kwargs)

    # --- tags -----------------------------------------------------------------
    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split("|") if t]

    @tag_list.setter
    def tag_list(self, values: list[str]) -> None:
        ordered = [t for t in CareTag.values if t in set(values)]
        self.tags = f"|{'|'.join(ordered)}|" if ordered else ""

    def tag_labels(self) -> list[str]:
        labels = dict(CareTag.choices)
        return [str(labels[t]) for t in self.tag_list if t in labels]

    # --- personal data ----------------------------------------------------------
    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number or "")

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    def clean(self) -> None:
        errors = {}
        if self.id_number:
            try:
                self.id_number = clean_id_number(self.id_number)
            except ValidationError as e:
                errors["id_number"] = e.messages
        else:
            self.id_number = None
        if self.phone:
            try:
                self.phone = clean_phone(self.phone)
            except ValidationError as e:
                errors["phone"] = e.messages
        if errors:
            raise ValidationError(errors)

    @property
    def short_address(self) -> str:
        """The address from the community down: what a worker reads in a list."""
        parts = self.address_text.split(" / ")
        return " ".join(parts[2:] if len(parts) > 4 else parts)

    def refresh_search_keys(self) -> None:
        self.name_pinyin, self.name_initials = pinyin_keys(self.name)
        self.phone_tail = self.phone[-4:] if self.phone else ""
        if self.household_id:
            self.address_text = self.household.full_name()[-300:]


class PartyMemberKind(models.TextChoices):
    EMPLOYED = "employed", _("在职党员")
    RETIRED = "retired", _("离退休党员")
    MOBILE = "mobile", _("流动党员")
    NO_OFFICE = "no_office", _("无职党员")


class PartyPost(models.TextChoices):
    """Posts for members without office (无职党员设岗定责)."""

    POLICY = "policy", _("政策法规宣传岗")
    LIVELIHOOD = "livelihood", _("民生事务岗")
    SECURITY = "security", _("社会治安维护岗")
    CIVILITY = "civility", _("文明新风倡导岗")
    ENVIRONMENT = "environment", _("环境卫生治理岗")


class PartyMember(models.Model):
    """A party member (党员): their branch, kind, post and the community where they
    live and have registered (双报到)."""

    name = models.CharField(_("姓名"), max_length=50)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="party_member",
    )
    resident = models.OneToOneField(
        Resident, models.SET_NULL, null=True, blank=True, related_name="party_member"
    )
    branch = models.ForeignKey(
        "party.PartyOrg", models.PROTECT, related_name="members", verbose_name=_("所在支部")
    )
    kind = models.CharField(_("类别"), max_length=20, choices=PartyMemberKind.choices)
    post = models.CharField(_("设岗"), max_length=20, choices=PartyPost.choices, blank=True)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    joined_on = models.DateField(_("入党日期"), null=True, blank=True)
    home_community = models.ForeignKey(
        Area,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="registered_members",
        verbose_name=_("双报到社区"),
        limit_choices_to={"level": Level.COMMUNITY},
    )
    registered_on = models.DateField(_("报到日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("党员")
        verbose_name_plural = _("党员")
        ordering = ["branch", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)


class Cadre(models.Model):
    """An office cadre (机关干部/驻点干部) linked to a community (四联系)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="cadre")
    unit = models.CharField(_("单位"), max_length=100)
    post = models.CharField(_("职务"), max_length=100, blank=True)
    community = models.ForeignKey(
        Area,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="cadres",
        verbose_name=_("联系社区"),
        limit_choices_to={"level": Level.COMMUNITY},
    )
    motto = models.CharField(_("工作理念"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("机关干部")
        verbose_name_plural = _("机关干部")

    def __str__(self) -> str:
        return str(self.user)


class Volunteer(models.Model):
    """A registered volunteer (志愿者)."""

    name = models.CharField(_("姓名"), max_length=50)
    resident = models.OneToOneField(
        Resident, models.SET_NULL, null=True, blank=True, related_name="volunteer"
    )
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    community = models.ForeignKey(
        Area,
        models.PROTECT,
        related_name="volunteers",
        verbose_name=_("所属社区"),
        limit_choices_to={"level": Level.COMMUNITY},
    )
    skills = models.CharField(_("特长"), max_length=200, blank=True)
    registered_on = models.DateField(_("注册日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("志愿者")
        verbose_name_plural = _("志愿者")

    def __str__(self) -> str:
        return self.name


class CoBuildingUnit(models.Model):
    """An organisation paired with communities (共建单位/驻社区单位)."""

    name = models.CharField(_("单位名称"), max_length=100, unique=True)
    kind = models.CharField(_("类型"), max_length=50, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    communities = models.ManyToManyField(
        Area, related_name="co_building_units", blank=True, verbose_name=_("结对社区")
    )
    branches = models.ManyToManyField(
        "party.PartyOrg",
        related_name="co_building_units",
        blank=True,
        verbose_name=_("结对支部"),
    )

    class Meta:
        verbose_name = _("共建单位")
        verbose_name_plural = _("共建单位")

    def __str__(self) -> str:
        return self.name


class ImportJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> ImportJobQuerySet:
        """A user's own jobs; an administrator's scope (everything) sees all of them."""
        from tongxin.accounts.scope import scope_for

        if scope_for(user).everything:
            return self
        return self.filter(created_by=user)

    def running(self) -> ImportJobQuerySet:
        return self.filter(status__in=ImportJob.RUNNING_STATUSES)


class ImportJob(models.Model):
    """One upload of a resident spreadsheet (居民导入任务), worked through by a task.

    The file is kept in ``content`` only until the job finishes, then emptied: it is
    full of ID numbers and phones, and the register is now the place for them."""

    class Status(models.TextChoices):
        PENDING = "pending", _("排队中")
        VALIDATING = "validating", _("校验中")
        IMPORTING = "importing", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    RUNNING_STATUSES = (Status.PENDING, Status.VALIDATING, Status.IMPORTING)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.CASCADE,
        related_name="import_jobs",
        verbose_name=_("上传人"),
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True, db_index=True)
    original_name = models.CharField(_("文件名"), max_length=255)
    content = models.BinaryField(_("文件内容"), blank=True, default=b"")
    sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        _("状态"), max_length=20, choices=Status.choices, default=Status.PENDING
    )
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已处理行数"), default=0)
    # Every problem found, as {"row": 3, "column": "身份证号", "message": "..."}.
    errors = models.JSONField(_("错误"), default=list, blank=True)
    created_count = models.PositiveIntegerField(_("新增居民"), default=0)
    households_created = models.PositiveIntegerField(_("新增户"), default=0)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    message = models.CharField(_("说明"), max_length=500, blank=True)
    # The uploader's language: the worker writes the report in it.
    language = models.CharField(max_length=10, default="zh-hans")

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("导入任务")
        verbose_name_plural = _("导入任务")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
