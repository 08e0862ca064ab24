#!/usr/bin/env python3
"""Doxygen input filter: nanorun's `//` comments, read as documentation.

nanorun's headers document each declaration with the plain `//` comment block
right above it (Google style); Doxygen reads only `///` and `/** */`. This filter
(INPUT_FILTER in tools/api_docs/Doxyfile) turns, in what Doxygen reads and
nowhere else:
  - a `//` block directly above a declaration into `///`;
  - a trailing `// ...` after a member or enumerator (`int x = 0;  // why`)
    into `///< ...`.
  - a block above overloads of one name in a row (`bind(addr)`,
    `bind(addr, handle)`), a setter and its getter (`set_ttl`, `ttl`), or
    above a constructor followed by the other special
    members, into the documentation of each: the later ones get it as a
    trailing `///<` on their last line (line numbers stay the source's);
  - the block that opens a header (its "what this file is for") into the
    file's own documentation (`/// \\file`).
Comment blocks above preprocessor lines, closing braces and namespaces stay
plain comments, as do blocks separated from the code by a blank line.
"""

import re
import sys

COMMENT = re.compile(r"^(\s*)//(?!/)( ?)(.*)$")
TRAILING = re.compile(r"^(\s*[^/\s].*?[;,])(\s+)//(?!/) (.*)$")
NOT_DOCUMENTABLE = re.compile(r"^\s*(#(?!define)|}|namespace\b|$|public:|private:|protected:)")


def escape(text):
    """Comment text as Doxygen should show it: no @commands or HTML tags."""
    return re.sub(r"([\\@<>&#])", r"\\\1", text)


NAME = re.compile(r"(~?\w+|operator\S+)\s*\(")


def declared_name(line):
    """The name a declaration line declares (before its first parenthesis)."""
    m = NAME.search(line.split("//")[0])
    return m.group(1) if m else None


def same_group(first, name):
    """Whether `name` shares the comment of `first`: an overload, a setter's
    getter (or the reverse), or, after a constructor (CamelCase), the other
    special members (operator=, ~)."""
    if name == first:
        return True
    if first and name and first.startswith("set_") != name.startswith("set_"):
        # A setter and its getter (set_ttl, ttl) share their comment.
        return first.replace("set_", "", 1) == name.replace("set_", "", 1)
    constructor = first is not None and first[:1].isupper()
    return constructor and name in ("operator=", "~" + first, first)


def overload_starts(lines, start):
    """The later overloads of the function declared at `start`, directly below
    it with no blank line or comment between, and after a constructor the
    other special members (copy, move, assignment, destructor): the first line
    of each (its `template` line, if any)."""
    first_line = start
    while first_line < len(lines) and lines[first_line].lstrip().startswith("template"):
        first_line += 1
    name = declared_name(lines[first_line]) if first_line < len(lines) else None
    if name and name[:1].isupper() and re.search(r"\b%s\(\)" % re.escape(name), lines[first_line]):
        return []  # A default constructor's comment is about it alone.
    starts = []
    depth = 0
    k = start
    first_done = False
    begin = None
    named = False  # Whether the declaration being read had its name checked.
    while k < len(lines) and name:
        line = lines[k]
        if depth == 0 and first_done and not named:
            if begin is None:
                begin = k
            if line.lstrip().startswith("template"):
                k += 1
                continue
            if not same_group(name, declared_name(line)) or COMMENT.match(line):
                break
            named = True
        depth += braces(line)
        stripped = line.split("//")[0].rstrip()
        if depth == 0 and (stripped.endswith(";") or stripped.endswith("}")):
            if first_done:
                starts.append(begin)
            first_done = True
            begin = None
            named = False
        k += 1
    return starts


def braces(line):
    """The change in brace depth on a line, outside comments and literals."""
    code = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', "", line.split("//")[0])
    return code.count("{") - code.count("}")


DECLARATION_SCOPE = re.compile(r"^\s*(template\s*<.*>\s*)?(class|struct|union|enum|namespace|inline namespace)\b")


def in_body_flags(lines):
    """For each line: is it inside a function body (or a lambda, or an
    initializer)? Only namespace, class, struct, union and enum scopes hold
    declarations Doxygen documents; comments elsewhere stay comments."""
    flags = []
    stack = []  # True for a body scope
    for line in lines:
        flags.append(any(stack))
        code = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', "", line.split("//")[0])
        first = True
        for ch in code:
            if ch == "{":
                stack.append(not (first and DECLARATION_SCOPE.match(line)))
                first = False
            elif ch == "}" and stack:
                stack.pop()
    return flags


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = list(lines)
    in_body = in_body_flags(lines)
    i = 0
    if lines and COMMENT.match(lines[0]):
        while i < len(lines) and COMMENT.match(lines[i]):
            m = COMMENT.match(lines[i])
            out[i] = "%s///%s%s" % (m.group(1), m.group(2), escape(m.group(3)))
            i += 1
        out[i - 1] += " \\file"  # Same line count as the source: warnings point at it.
    while i < len(lines):
        if in_body[i]:
            i += 1
            continue
        if COMMENT.match(lines[i]):
            j = i
            while j < len(lines) and COMMENT.match(lines[j]):
                j += 1
            if j < len(lines) and not NOT_DOCUMENTABLE.match(lines[j]):
                for k in range(i, j):
                    m = COMMENT.match(lines[k])
                    out[k] = "%s///%s%s" % (m.group(1), m.group(2), escape(m.group(3)))
                text = " ".join(escape(COMMENT.match(lines[k]).group(3)) for k in range(i, j))
                for begin in overload_starts(lines, j):
                    indent = re.match(r"\s*", lines[begin]).group(0)
                    out[begin] = "%s/** %s */ %s" % (indent, text.replace("*/", "* /"), lines[begin].lstrip())
            i = j
            continue
        m = TRAILING.match(lines[i])
        if m and '"' not in m.group(1):
            out[i] = "%s%s///< %s" % (m.group(1), m.group(2), escape(m.group(3)))
        i += 1
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
