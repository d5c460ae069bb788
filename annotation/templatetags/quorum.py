"""Template filters: Markdown rendered safely, and small display helpers."""

from __future__ import annotations

import re
from typing import Any

import markdown as md
import nh3
from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "del",
}  # fmt: skip


@register.filter
def markdown(text: str) -> SafeString:
    """Markdown to HTML, then cleaned by nh3: user text can never inject script or styles."""
    html = md.markdown(text or "", extensions=["tables", "fenced_code", "sane_lists"])
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 — sanitized just above


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


# Label colours under the Content-Security-Policy: no style="" attributes (the policy refuses
# them), but a class per colour, defined in one <style> element carrying the request's nonce.
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
NO_COLOR = "#9aa5b1"


def _hex(color: Any) -> str:
    return color.lower() if isinstance(color, str) and _HEX.fullmatch(color) else NO_COLOR


@register.filter
def color_class(color: Any) -> str:
    """``c-1f77b4`` for ``#1f77b4``; a colour that is not #rrggbb gets the neutral grey's class."""
    return "c-" + _hex(color)[1:]


@register.simple_tag(takes_context=True)
def label_colors(context: template.Context, labels: Any) -> SafeString:
    """A nonce-carrying ``<style>`` that gives each label colour's class its ``--label-color``."""
    colors = sorted({_hex(lab.get("color")) for lab in labels or []} | {NO_COLOR})
    rules = "".join(f".c-{c[1:]}{{--label-color:{c}}}" for c in colors)
    nonce = getattr(context.get("request"), "csp_nonce", "")
    return format_html('<style nonce="{}">{}</style>', nonce, mark_safe(rules))
