"""The segment rule builder shared by the segment and rule-tag pages: a form
generated from the published rule JSON Schema (``segmentRuleSchema``, i.e.
``Rule.model_json_schema``), read back into the same rule JSON the API takes.

The form holds ``all``/``any`` of groups, each ``all``/``any`` of conditions,
each optionally negated: two levels of and/or, which is what operators build
by hand. A deeper rule is edited in the raw JSON editor. The builder only
shapes JSON; the rule is validated by the same ``parse_rule`` /
``check_rule`` the API uses, and its errors are put back beside the field or
condition they name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData

from tessera.admin_ui.i18n import N_
from tessera.errors import DomainError, DomainErrors
from tessera.segments.rules import Rule, parse_rule
from tessera.segments.rulesource import preview

if TYPE_CHECKING:
    from starlette.responses import Response

    from tessera.admin_ui.context import Ctx

OPS = ("all", "any")
SAMPLE = 10  # members shown beside the live count
RULE_JSON = "rule_json"
# Labels (msgids) for the condition types and settings the schema names; a
# setting without one shows the schema's own title.
TYPE_LABELS = {
    "profile": N_("Profile field"),
    "birthday": N_("Birthday"),
    "age": N_("Age"),
    "joined": N_("Joined"),
    "attribute": N_("Custom attribute"),
    "tags": N_("Tags"),
    "stats": N_("Purchase statistics"),
    "firstOrder": N_("First order"),
    "lastOrder": N_("Last order"),
    "orders": N_("Orders"),
    "events": N_("Behaviour events"),
    "lifecycle": N_("Lifecycle stage"),
    "rfm": N_("RFM scores"),
    "segment": N_("Another segment"),
    "tier": N_("Tier"),
    "points": N_("Points balance"),
    "coupons": N_("Unused coupons"),
    "cluster": N_("Member cluster"),
}
SETTING_LABELS = {
    "field": N_("Field"),
    "in": N_("One of (comma-separated)"),
    "thisMonth": N_("This month"),
    "nextDays": N_("Within the next days"),
    "months": N_("Months (comma-separated)"),
    "min": N_("Minimum"),
    "max": N_("Maximum"),
    "within": N_("Within"),
    "lastDays": N_("Last days"),
    "olderThanDays": N_("Older than days"),
    "period": N_("Period"),
    "from": N_("From"),
    "to": N_("To"),
    "key": N_("Attribute key"),
    "equals": N_("Equals"),
    "has": N_("Has"),
    "codes": N_("Tag codes (comma-separated)"),
    "assignedWithin": N_("Assigned within"),
    "metric": N_("Metric"),
    "skus": N_("SKUs (comma-separated)"),
    "categories": N_("Categories (comma-separated)"),
    "count": N_("Count"),
    "amount": N_("Amount"),
    "event": N_("Event type"),
    "recency": N_("Recency"),
    "frequency": N_("Frequency"),
    "monetary": N_("Monetary"),
    "segment": N_("Segment id"),
    "atLeast": N_("At least tier"),
}


@dataclass(frozen=True)
class Setting:
    """One input of a condition: ``path`` is its dotted place in the
    condition (``within.lastDays``)."""

    path: str
    labels: tuple[str, ...]  # msgids, outermost first
    help: str
    kind: str  # text, int, decimal, scalar, date, select, multi, check, list, list_int, list_scalar
    choices: tuple[str, ...] = ()


def _resolve(defs: Mapping[str, Any], prop: Mapping[str, Any]) -> dict[str, Any]:
    """The property with ``$ref`` followed and ``null`` dropped from ``anyOf``."""
    if "$ref" in prop:
        return {**_resolve(defs, defs[prop["$ref"].rsplit("/", 1)[-1]]), **_rest(prop, "$ref")}
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        if len(options) == 1:
            return {**_resolve(defs, options[0]), **_rest(prop, "anyOf")}
        return {**prop, "anyOf": options}
    return dict(prop)


def _rest(prop: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in prop.items() if k not in (key, "title")}


def _kind(defs: Mapping[str, Any], prop: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    if "enum" in prop:
        return "select", tuple(str(c) for c in prop["enum"])
    if prop.get("const") is True:
        return "check", ()
    if "anyOf" in prop:
        types = {o.get("type") for o in prop["anyOf"]} | {
            t for o in prop["anyOf"] for t in (o.get("anyOf") and ["number"] or [])
        }
        return ("decimal" if types <= {"number", "string"} else "scalar"), ()
    kind = prop.get("type")
    if kind == "array":
        items = _resolve(defs, prop.get("items", {}))
        if "enum" in items:
            return "multi", tuple(str(c) for c in items["enum"])
        if items.get("type") == "integer":
            return "list_int", ()
        return ("list_scalar" if "anyOf" in items else "list"), ()
    if kind == "integer":
        return "int", ()
    if kind == "string":
        return ("date" if prop.get("format") == "date" else "text"), ()
    return "scalar", ()


def _settings(
    defs: Mapping[str, Any], model: Mapping[str, Any], prefix: str, labels: tuple[str, ...]
) -> list[Setting]:
    found: list[Setting] = []
    for name, raw in model.get("properties", {}).items():
        if name == "type":
            continue
        prop = _resolve(defs, raw)
        label = SETTING_LABELS.get(name, str(raw.get("title", name)))
        path = f"{prefix}{name}"
        if prop.get("type") == "object" or "properties" in prop:
            found += _settings(defs, prop, f"{path}.", (*labels, label))
            continue
        kind, choices = _kind(defs, prop)
        help_text = str(prop.get("description", "") or raw.get("description", ""))
        found.append(Setting(path, (*labels, label), help_text, kind, choices))
    return found


@cache
def conditions() -> dict[str, list[Setting]]:
    """Every condition the published schema offers, with its inputs."""
    schema = Rule.model_json_schema(by_alias=True)
    defs = schema["$defs"]
    offered: dict[str, list[Setting]] = {}
    for ref in schema.get("oneOf", []):
        model = defs[ref["$ref"].rsplit("/", 1)[-1]]
        kind = model.get("properties", {}).get("type", {}).get("const")
        if isinstance(kind, str):
            offered[kind] = _settings(defs, model, "", ())
    return offered


# --- the builder's state ------------------------------------------------------


# A condition's path in the rule -> (its form prefix, its type).
Places = dict[tuple[str, ...], tuple[str, str]]


@dataclass
class Row:
    type: str
    negate: bool = False
    values: dict[str, Any] = field(default_factory=dict)  # raw text (a list for multi)


@dataclass
class Group:
    op: str = "all"
    rows: list[Row] = field(default_factory=list)


@dataclass
class Builder:
    op: str = "all"
    groups: list[Group] = field(default_factory=lambda: [Group()])

    # --- from and to rule JSON ------------------------------------------------

    @classmethod
    def from_rule(cls, rule: Any) -> Builder | None:
        """The builder showing ``rule``; None when the rule nests deeper than
        the builder does (the JSON editor shows it)."""
        if rule is None:
            return cls()
        top = _op_of(rule)
        if top is None:
            row = _row(rule)
            return cls(groups=[Group(rows=[row])]) if row else None
        groups = []
        for item in rule[top]:
            inner = _op_of(item)
            if inner is None:
                row = _row(item)
                if row is None:
                    return None
                groups.append(Group(rows=[row]))
                continue
            rows = [_row(c) for c in item[inner]]
            if any(r is None for r in rows):
                return None
            groups.append(Group(inner, [r for r in rows if r is not None]))
        return cls(top, groups or [Group()])

    @classmethod
    def from_form(cls, form: FormData) -> Builder:
        top = str(form.get("op", "all"))
        builder = cls(top if top in OPS else "all", [])
        gi = 0
        while f"g.{gi}.op" in form:
            op = str(form.get(f"g.{gi}.op"))
            group = Group(op if op in OPS else "all")
            ci = 0
            while f"g.{gi}.c.{ci}.type" in form:
                prefix = f"g.{gi}.c.{ci}"
                kind = str(form.get(f"{prefix}.type"))
                settings = conditions().get(kind, [])
                values: dict[str, Any] = {}
                for s in settings:
                    name = f"{prefix}.f.{s.path}"
                    values[s.path] = (
                        [str(v) for v in form.getlist(name)]
                        if s.kind == "multi"
                        else str(form.get(name, ""))
                    )
                if kind in conditions():
                    group.rows.append(Row(kind, form.get(f"{prefix}.not") == "on", values))
                ci += 1
            builder.groups.append(group)
            gi += 1
        return builder

    def apply(self, action: str, form: FormData) -> None:
        """A builder button pressed without JavaScript: ``add:G`` (a condition
        of the type chosen beside it), ``remove:G:C`` or ``group``."""
        parts = action.split(":")
        if parts[0] == "group":
            self.groups.append(Group())
        elif parts[0] == "add" and len(parts) == 2 and parts[1].isdigit():
            index = int(parts[1])
            kind = str(form.get(f"g.{index}.new", ""))
            if index < len(self.groups) and kind in conditions():
                self.groups[index].rows.append(Row(kind))
        elif parts[0] == "remove" and len(parts) == 3 and all(p.isdigit() for p in parts[1:]):
            gi, ci = int(parts[1]), int(parts[2])
            if gi < len(self.groups) and ci < len(self.groups[gi].rows):
                del self.groups[gi].rows[ci]
                if not self.groups[gi].rows and len(self.groups) > 1:
                    del self.groups[gi]

    def to_rule(self) -> tuple[dict[str, Any] | None, Places]:
        """The rule JSON (None without conditions) and, for each condition,
        its path in the rule → its form prefix and type (to place errors)."""
        places: Places = {}
        items: list[Any] = []
        for gi, group in enumerate(self.groups):
            if not group.rows:
                continue
            base = ("rule", self.op, str(len(items)))
            unwrap = len(group.rows) == 1
            conds = []
            for ci, row in enumerate(group.rows):
                path = base if unwrap else (*base, group.op, str(ci))
                if row.negate:
                    path = (*path, "not")
                places[path] = (f"g.{gi}.c.{ci}", row.type)
                condition = _condition(row)
                conds.append({"not": condition} if row.negate else condition)
            items.append(conds[0] if unwrap else {group.op: conds})
        return ({self.op: items} if items else None), places


def _op_of(node: Any) -> str | None:
    if isinstance(node, dict) and len(node) == 1:
        key = next(iter(node))
        if key in OPS and isinstance(node[key], list):
            return key
    return None


def _row(node: Any) -> Row | None:
    negate = False
    if isinstance(node, dict) and set(node) == {"not"}:
        negate, node = True, node["not"]
    if not isinstance(node, dict) or node.get("type") not in conditions():
        return None
    settings = conditions()[node["type"]]
    known = {s.path.split(".")[0] for s in settings} | {"type"}
    if set(node) - known:
        return None  # a key the builder has no input for: keep it in JSON
    values: dict[str, Any] = {}
    for s in settings:
        value: Any = node
        for part in s.path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        values[s.path] = _shown(s, value)
    return Row(node["type"], negate, values)


def _shown(setting: Setting, value: Any) -> Any:
    if value is None:
        return [] if setting.kind == "multi" else ""
    if setting.kind == "multi":
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if setting.kind == "check":
        return "on" if value is True else ""
    if isinstance(value, list):
        return ", ".join(_scalar_text(v) for v in value)
    return _scalar_text(value) if setting.kind in ("scalar", "list_scalar") else str(value)


def _scalar_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_INT = re.compile(r"^-?\d+$")


def _typed(setting: Setting, raw: Any) -> Any:
    """The JSON value of one input; what does not convert goes as typed, so
    the rule's validation reports it beside the input."""
    if setting.kind == "multi":
        return list(raw) or None
    text = str(raw).strip()
    if setting.kind == "check":
        return True if text == "on" else None
    if not text:
        return None
    if setting.kind == "int":
        return int(text) if _INT.match(text) else text
    if setting.kind in ("list", "list_int", "list_scalar"):
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if setting.kind == "list_int":
            return [int(p) if _INT.match(p) else p for p in parts]
        return [_scalar(p) for p in parts] if setting.kind == "list_scalar" else parts
    if setting.kind == "scalar":
        return _scalar(text)
    return text


def _scalar(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float) else text


def _condition(row: Row) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": row.type}
    for setting in conditions()[row.type]:
        value = _typed(setting, row.values.get(setting.path, ""))
        if value is None:
            continue
        *outer, last = setting.path.split(".")
        node = condition
        for part in outer:
            node = node.setdefault(part, {})
        node[last] = value
    return condition


# --- errors -------------------------------------------------------------------


def _problems(error: DomainError) -> list[DomainError]:
    return list(error.errors) if isinstance(error, DomainErrors) else [error]


def builder_errors(error: DomainError, places: Places) -> dict[str, list[str]]:
    """The rule's problems by form input (``g.0.c.1.f.within.lastDays``), by
    condition (``g.0.c.1``) when no input matches, else under ``rule``."""
    found: dict[str, list[str]] = {}
    for one in _problems(error):
        path = tuple(str(p) for p in one.field or [])
        prefix = max((p for p in places if path[: len(p)] == p), key=len, default=None)
        if prefix is None or path[:1] != ("rule",):
            name = "rule" if path[:1] == ("rule",) else (path[-1] if path else "")
            found.setdefault(str(name), []).append(_with_path(one, path[1:]))
            continue
        rest = path[len(prefix) :]
        row, kind = places[prefix]
        setting = ".".join(rest)
        if rest and setting in {s.path for s in conditions()[kind]}:
            found.setdefault(f"{row}.f.{setting}", []).append(one.message)
        else:
            found.setdefault(row, []).append(_with_path(one, rest))
    return found


def json_errors(error: DomainError) -> dict[str, list[str]]:
    """The rule's problems under the JSON editor, each with its path."""
    found: dict[str, list[str]] = {}
    for one in _problems(error):
        path = [str(p) for p in one.field or []]
        name = RULE_JSON if path[:1] == ["rule"] else (path[-1] if path else "")
        found.setdefault(name, []).append(_with_path(one, tuple(path[1:])))
    return found


def _with_path(error: DomainError, rest: tuple[str, ...]) -> str:
    return f"{'.'.join(rest)}: {error.message}" if rest else error.message


def rule_text(rule: Any) -> str:
    return "" if rule is None else json.dumps(rule, ensure_ascii=False, indent=2)


@dataclass
class Submitted:
    """The rule a form sends: from the builder (``source=builder``) or the
    JSON editor (``source=json``), with errors it has before validation."""

    source: str
    builder: Builder | None
    rule: Any
    json_text: str
    places: Places
    errors: dict[str, list[str]]
    # A builder button (add, remove) was pressed: the rule is half-built, so
    # the page comes back without judging it.
    editing: bool = False

    def problems(self, error: DomainError) -> dict[str, list[str]]:
        if self.source == "json":
            return json_errors(error)
        return builder_errors(error, self.places)


def submitted(form: FormData) -> Submitted:
    """Read the rule a form sends and apply a builder button, if one was pressed."""
    source = "json" if form.get("source") == "json" else "builder"
    if source == "json":
        text = str(form.get(RULE_JSON, ""))
        try:
            rule = json.loads(text) if text.strip() else None
        except ValueError as error:
            return Submitted(source, None, None, text, {}, {RULE_JSON: [f"JSON: {error}"]})
        return Submitted(source, Builder.from_rule(rule), rule, text, {}, {})
    builder = Builder.from_form(form)
    action = str(form.get("action", ""))
    if action:
        builder.apply(action, form)
    rule, places = builder.to_rule()
    return Submitted(source, builder, rule, rule_text(rule), places, {}, editing=bool(action))


async def preview_values(ctx: Ctx, sent: Submitted) -> dict[str, Any]:
    """What ``previewSegment`` answers for the submitted rule (the same
    ``preview`` service): count and sample, or the rule's errors placed
    beside the builder's inputs or the JSON editor."""
    if sent.errors:
        return {"errors": sent.errors, "count": None, "sample": []}
    if sent.rule is None or sent.editing:
        return {"errors": {}, "count": None, "sample": []}
    try:
        count, sample = await preview(ctx.scope, parse_rule(sent.rule), SAMPLE)
    except DomainError as error:
        return {"errors": sent.problems(error), "count": None, "sample": []}
    return {"errors": {}, "count": count, "sample": sample}


async def preview_box(ctx: Ctx, sent: Submitted, preview_url: str) -> Response:
    """The preview box alone (count, sample, problems), which htmx swaps in
    as the rule changes on a segment or rule-tag page."""
    shown = await preview_values(ctx, sent)
    return ctx.render(
        "_rule_preview.html",
        **shown,
        problems=problem_list(shown["errors"], sent.builder, ctx.gettext),
        json_text=sent.json_text,
        source=sent.source,
        preview_url=preview_url,
    )


_ROW = re.compile(r"^g\.(\d+)\.c\.(\d+)(?:\.f\.(.+))?$")


def problem_list(
    errors: Mapping[str, list[str]], builder: Builder | None, gettext: Any
) -> list[tuple[str, str]]:
    """The rule's problems as (where, message) for the preview box, where
    the message alone would not say which condition it is about."""
    found: list[tuple[str, str]] = []
    for key, messages in errors.items():
        where = ""
        match = _ROW.match(key)
        if match and builder is not None:
            gi, ci, path = int(match.group(1)), int(match.group(2)), match.group(3)
            rows = builder.groups[gi].rows if gi < len(builder.groups) else []
            kind = rows[ci].type if ci < len(rows) else ""
            parts = [f"{gettext('Condition group')} {gi + 1}", gettext(TYPE_LABELS.get(kind, kind))]
            setting = next((s for s in conditions().get(kind, []) if s.path == path), None)
            if setting is not None:
                parts.append(" · ".join(gettext(label) for label in setting.labels))
            where = " › ".join(parts)
        found += [(where, message) for message in messages]
    return found


def rule_editor(
    *,
    builder: Builder | None,
    json_text: str,
    preview_url: str,
    errors: dict[str, list[str]],
    count: int | None = None,
    sample: list[Any] | None = None,
    source: str = "builder",
) -> dict[str, Any]:
    """The values the rule editor template (``_rule_editor.html``) needs."""
    return {
        "builder": builder,
        "json_text": json_text,
        "preview_url": preview_url,
        "errors": errors,
        "count": count,
        "sample": sample or [],
        # A rule the builder cannot show is saved from the JSON editor.
        "source": "json" if builder is None else source,
        "conditions": conditions(),
        "type_labels": TYPE_LABELS,
    }
