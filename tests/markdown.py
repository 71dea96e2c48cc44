"""What GitHub makes of the project's Markdown pages, as far as links go: the anchors of each
page (its headings, by GitHub's rules, and explicit `<a id=...>` / `<a name=...>`), the links
each page holds outside code, and which of those do not resolve. tests/test_links.py runs it
on the repository and on broken copies of it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
EXPLICIT_ANCHOR = re.compile(r"""<a\s[^>]*?\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.I)
INLINE_CODE = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s<>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HREF = re.compile(r"""<a\s[^>]*?\bhref\s*=\s*["']([^"']+)["']""", re.I)
EXTERNAL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # https:, mailto:, ...
HTML_TAG = re.compile(r"<[^>]+>")
# A commit hash: 7 to 40 hex digits with at least one digit and one letter a-f, standing alone.
# Not a colour (#1f77b4), not a sha256 digest (64 digits: never a standalone run of 7-40), not
# a number (no letter), not a word such as "decade" (no digit).
COMMIT_HASH = re.compile(
    r"(?<![0-9A-Za-z#_])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}(?![0-9A-Za-z_])")


PAGES = ("*.md", "docs/*.md", "deploy/**/*.md", "tests/fixtures/**/*.md")


def pages(root: Path) -> list[Path]:
    """The project's Markdown pages, whose links must resolve."""
    return sorted({path for pattern in PAGES for path in root.glob(pattern) if path.is_file()})


def prose(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with inline code blanked out."""
    lines, fence = [], ""
    for number, line in enumerate(text.splitlines(), 1):
        opening = FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = ""
            continue
        if opening:
            fence = opening.group(1)
            continue
        lines.append((number, INLINE_CODE.sub(lambda m: " " * len(m.group(0)), line)))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: its rendered text in lower case, punctuation but
    hyphens and underscores dropped, each space a hyphen."""
    text = re.sub(r"`+", "", heading)
    text = INLINE_LINK.sub(lambda m: re.sub(r"^!?\[|\]\(.*$", "", m.group(0)), text)
    text = HTML_TAG.sub("", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor of a page: its headings' (a repeated one gets -1, -2, ...) and explicit ones."""
    found: set[str] = set()
    occurrences: dict[str, int] = {}
    raw = {number: line for number, line in enumerate(text.splitlines(), 1)}
    for number, line in prose(text):
        found.update(EXPLICIT_ANCHOR.findall(line))
        heading = HEADING.match(raw[number])  # the raw line: code spans keep their text
        if heading:
            base = slug(heading.group(2))
            anchor = base
            while anchor in occurrences:
                occurrences[base] += 1
                anchor = f"{base}-{occurrences[base]}"
            occurrences[anchor] = 0
            found.add(anchor)
    return found


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link and image outside code."""
    found = []
    for number, line in prose(text):
        targets = INLINE_LINK.findall(line) + HREF.findall(line)
        definition = REFERENCE_DEFINITION.match(line)
        if definition:
            targets.append(definition.group(1))
        found += [(number, target) for target in targets]
    return found


def broken_links(root: Path) -> list[str]:
    """Every relative link or #anchor of the pages that does not resolve, as "page:line: why"."""
    root = root.resolve()
    problems = []
    for page in pages(root):
        for number, target in links(page.read_text()):
            why = _unresolved(root, page, target)
            if why:
                problems.append(f"{page.relative_to(root)}:{number}: {target}: {why}")
    return problems


def _unresolved(root: Path, page: Path, target: str) -> str:
    if EXTERNAL.match(target):
        return ""
    path_part, _, fragment = target.partition("#")
    path = (page.parent / unquote(path_part)).resolve() if path_part else page
    if not path.is_relative_to(root):
        return "outside the repository"
    if not path.exists():
        return "no such file"
    if not fragment:
        return ""
    if path.suffix != ".md":
        return "" if re.fullmatch(r"L\d+(-L\d+)?", fragment) else "an anchor into a file without headings"
    if unquote(fragment) not in anchors(path.read_text()):
        return f"no anchor #{fragment} in {path.relative_to(root)}"
    return ""


def commit_hashes(text: str) -> list[str]:
    return COMMIT_HASH.findall(text)
