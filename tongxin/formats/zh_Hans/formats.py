# Dates as Chinese community workers write them: 2026年11月25日, 11月25日 (no padding).
DATE_FORMAT = "Y年n月j日"
MONTH_DAY_FORMAT = "n月j日"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
