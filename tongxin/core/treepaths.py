"""Bulk insertion into materialised-path trees (django-treebeard's MP_Node).

treebeard's ``add_child`` costs several queries a node; building a street of tens of
thousands of households, or importing a file of new addresses, needs thousands of
nodes at once. These helpers compute the paths treebeard would give and insert with
``bulk_create``, keeping ``numchild`` right, so the tree stays valid for treebeard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.db import models
from treebeard.mp_tree import MP_Node

N = TypeVar("N", bound=MP_Node)


def _step(model: type[MP_Node], n: int) -> str:
    return model._int2str(n).rjust(model.steplen, "0")


def _last_step_number(model: type[MP_Node], siblings_prefix: str, depth: int) -> int:
    last = (
        model.objects.filter(path__startswith=siblings_prefix, depth=depth)
        .order_by("-path")
        .values_list("path", flat=True)
        .first()
    )
    return model._str2int(last[-model.steplen :]) if last else 0


def bulk_add_children(parent: N | None, nodes: Sequence[N], batch_size: int = 2000) -> list[N]:
    """Append ``nodes`` (unsaved) below ``parent`` (None: as roots), in the given order."""
    if not nodes:
        return []
    model = type(nodes[0])
    prefix = parent.path if parent is not None else ""
    depth = parent.depth + 1 if parent is not None else 1
    start = _last_step_number(model, prefix, depth)
    for i, node in enumerate(nodes, start=start + 1):
        node.path = prefix + _step(model, i)
        node.depth = depth
        node.numchild = 0
    created = model.objects.bulk_create(nodes, batch_size=batch_size)
    if parent is not None:
        model.objects.filter(pk=parent.pk).update(numchild=models.F("numchild") + len(nodes))
        parent.numchild += len(nodes)
    return created


def plan_children(parent: N, nodes: Sequence[N], first: int = 1) -> None:
    """Give unsaved ``nodes`` their paths below an unsaved-but-planned ``parent``.

    For building a whole new tree in memory before one bulk insert: the caller
    plans top-down, then inserts level by level (parents before children)."""
    parent.numchild = len(nodes)
    for i, node in enumerate(nodes, start=first):
        node.path = parent.path + _step(type(parent), i)
        node.depth = parent.depth + 1
        node.numchild = 0
