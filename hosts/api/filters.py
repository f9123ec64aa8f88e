"""Filters for the hosts list."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

from hosts.models import Host, HostStatus


class HostFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the host name")
    status = django_filters.ChoiceFilter(choices=HostStatus.choices)
    label = django_filters.CharFilter(
        method="filter_label",
        help_text="`key` (has the label) or `key=value`; repeat with commas to AND them",
    )

    class Meta:
        model = Host
        fields = ["name", "status", "label"]

    def filter_label(self, queryset: QuerySet[Host], name: str, value: str) -> QuerySet[Host]:
        for item in filter(None, (part.strip() for part in value.split(","))):
            key, sep, wanted = item.partition("=")
            if "__" in key:
                # "__" would turn the key into an ORM lookup.
                raise ValidationError({"label": f"Label key {key!r} may not contain '__'."})
            condition = Q(**{f"labels__{key}": wanted}) if sep else Q(labels__has_key=key)
            queryset = queryset.filter(condition)
        return queryset
