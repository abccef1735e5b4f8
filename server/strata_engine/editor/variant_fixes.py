"""Quick fixes for the variant diagnostics of SPEC 11 (registered in fixes.py).

A fix edits the cell holding the annotation, except choosing a member for an unknown
`active` and turning a group into a sweep, which edit its `[[variant_group]]` entry.
"""

from __future__ import annotations

from collections.abc import Callable

from strata_engine.analysis.annotations import split_lines
from strata_engine.analysis.variants import group_entries
from strata_engine.editor.fixes import Edit, Fix, _Context, _toml, _value_edit
from strata_engine.model.diagnostics import Span
from strata_engine.model.manifest import VARIANT_MODES
from strata_engine.model.manifest_spans import ManifestLocator
from strata_engine.model.notebook import MANIFEST


def _data(ctx: _Context, key: str) -> str:
    return str((ctx.diag.data or {}).get(key, ""))


def _remove_line(ctx: _Context, title: str) -> Fix:
    line = ctx.span.line
    return ctx.fix(title, Span(line, 0, line + 1, 0), "", preferred=True)


def fix_malformed(ctx: _Context) -> list[Fix]:
    """A repeated member name (the suggestion renames it) or extra words in the value."""
    directive = ctx.directive()
    if directive is None:
        return []
    if ctx.suggestion:
        title = f"Rename this member: '@variant {ctx.suggestion}'"
        return [ctx.fix(title, *_value_edit(directive, ctx.suggestion), preferred=True)]
    tokens = directive.value.split()
    keep = 2 if directive.key == "variant" else 1
    if len(tokens) <= keep:
        return []
    kept = " ".join(tokens[:keep])
    return [ctx.fix(f"Use '@{directive.key} {kept}'", directive.value_span, kept, preferred=True)]


def fix_contract(ctx: _Context) -> list[Fix]:
    """Define each name the member lacks (as None, to fill in), at the end of the cell."""
    missing = _data(ctx, "missing").split()
    if not missing or ctx.view is None:
        return []
    lines = split_lines(ctx.text)
    end = Span(len(lines) + 1, 0, len(lines) + 1, 0)
    lead = "" if not ctx.text or ctx.text.endswith("\n") else "\n"
    stub = lead + "".join(f"{name} = None  # TODO: this member's {name}\n" for name in missing)
    title = f"Define {', '.join(missing)} in this member"
    return [ctx.fix(title, end, stub)]


def fix_mode(ctx: _Context) -> list[Fix]:
    modes = sorted(VARIANT_MODES, key=lambda m: m != ctx.suggestion)
    return [
        ctx.fix(f"Use mode '{m}'", ctx.span, _toml(m), preferred=m == ctx.suggestion) for m in modes
    ]


def fix_active(ctx: _Context) -> list[Fix]:
    """Pick one of the group's members (the closest name first)."""
    group = _data(ctx, "group")
    names = [s.name for s in ctx.snapshot.graph.variants.values() if s.group == group]
    names = sorted(dict.fromkeys(names), key=lambda n: n != ctx.suggestion)
    return [
        ctx.fix(f"Make '{n}' the active member", ctx.span, _toml(n), preferred=i == 0)
        for i, n in enumerate(names)
    ]


def fix_no_sweep_source(ctx: _Context) -> list[Fix]:
    fixes = []
    directive = ctx.directive()
    if ctx.suggestion and directive is not None:
        title = f"Use '@per_variant {ctx.suggestion}'"
        fixes.append(ctx.fix(title, *_value_edit(directive, ctx.suggestion), preferred=True))
    switch_group = _data(ctx, "switch_group")
    if switch_group:
        fixes.append(_sweep_mode(ctx, switch_group))
    if directive is not None:
        fixes.append(_remove_line(ctx, "Remove @per_variant (run the cell once)"))
    return fixes


def _sweep_mode(ctx: _Context, group: str) -> Fix:
    """Set `mode = "sweep"` in the group's `[[variant_group]]` entry (added when absent)."""
    locator = ManifestLocator(ctx.manifest_text)
    entry = next(
        (i, e)
        for i, e in [*group_entries(ctx.snapshot.notebook.document), (None, None)]
        if e is None or e.get("group") == group
    )
    index, table = entry
    if index is None or table is None:
        lead = "" if not ctx.manifest_text or ctx.manifest_text.endswith("\n") else "\n"
        text = f'{lead}\n[[variant_group]]\ngroup = {_toml(group)}\nmode = "sweep"\n'
        edit = Edit(MANIFEST, locator.end(), text)
    elif "mode" in table:
        edit = Edit(MANIFEST, locator.value(("variant_group",), index, "mode"), '"sweep"')
    else:
        below = locator.table(("variant_group",), index).line + 1
        edit = Edit(MANIFEST, Span(below, 0, below, 0), 'mode = "sweep"\n')
    title = f"Run every member of group '{group}' (mode = \"sweep\" in notebook.toml)"
    return Fix(title, (edit,), ctx.diag.code)


def fix_ambiguous(ctx: _Context) -> list[Fix]:
    directive = ctx.directive()
    if directive is None:
        return []
    return [
        ctx.fix(f"Run once per member of '{g}'", *_value_edit(directive, g))
        for g in _data(ctx, "groups").split()
    ]


def fix_on_member(ctx: _Context) -> list[Fix]:
    return [_remove_line(ctx, "Remove @per_variant from this member")]


VARIANT_FIXERS: dict[str, Callable[[_Context], list[Fix]]] = {
    "variant_malformed": fix_malformed,
    "variant_contract_mismatch": fix_contract,
    "variant_mode_invalid": fix_mode,
    "variant_active_unknown": fix_active,
    "per_variant_no_sweep_source": fix_no_sweep_source,
    "per_variant_ambiguous_group": fix_ambiguous,
    "per_variant_on_variant_member": fix_on_member,
}
