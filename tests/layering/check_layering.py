#!/usr/bin/env python3
"""The README's map of the code as a test: src/modules.map says which modules each module under
src/ may use directly and which module owns each header in include/mopay/. This fails, naming the
file and line, when

  - a .c/.h under src/<module>/, or a header in include/mopay/ owned by <module>, includes a
    header of a module the map does not let <module> use (direct edges only; a module may always
    include its own headers and core's);
  - a file under src/X/ includes a private header of another folder (../Y/internal.h);
  - a module's CMakeLists.txt names a mopay_* library the map does not let it use;
  - the map has a cycle, or does not match src/ and include/mopay/ (a folder or header missing
    from it, a name in it that does not exist);
  - the README's "Map of the code" listing differs from the one generated from the map.

Usage: check_layering.py [ROOT]                 check (CTest runs this)
       check_layering.py --write-readme [ROOT]  rewrite the README's listing from the map
"""
import difflib
import os
import re
import sys

MAP = "src/modules.map"
README = "README.md"
README_BEGIN = "<!-- modules.map:begin -->"
README_END = "<!-- modules.map:end -->"
SOURCE_SUFFIXES = (".c", ".h", ".def", ".inc")
CORE = "core"

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Problems:
    def __init__(self):
        self.lines = []

    def add(self, where, text):
        self.lines.append("%s: %s" % (where, text))


def read_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


def parse_map(root, problems):
    """Returns (deps, headers, dep_lines): deps[module] = [module...] in file order,
    headers[header] = owner, dep_lines[module] = line number of its [deps] entry."""
    deps, dep_lines, headers = {}, {}, {}
    section = None
    for n, raw in enumerate(read_lines(os.path.join(root, MAP)), 1):
        where = "%s:%d" % (MAP, n)
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line in ("[deps]", "[headers]"):
            section = line[1:-1]
            continue
        name, colon, rest = line.partition(":")
        name = name.strip()
        if not colon or not NAME_RE.match(name) or section is None:
            problems.add(where, "expected 'module: name name ...' under [deps] or [headers], got %r" % raw)
            continue
        items = rest.split()
        if section == "deps":
            if name in deps:
                problems.add(where, "module %s is listed twice under [deps]" % name)
                continue
            deps[name], dep_lines[name] = items, n
            for d in items:
                if d == name:
                    problems.add(where, "module %s lists itself" % name)
                elif d == CORE:
                    problems.add(where, "%s lists core, which every module may use: leave it out" % name)
                elif items.count(d) > 1:
                    problems.add(where, "%s lists %s twice" % (name, d))
        else:
            for h in items:
                if h in headers:
                    problems.add(where, "header %s is given to %s and to %s" % (h, headers[h][0], name))
                else:
                    headers[h] = (name, n)
    return deps, dep_lines, headers


def check_map(root, deps, dep_lines, headers, problems):
    src = os.path.join(root, "src")
    modules = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    for m in modules:
        if m not in deps:
            problems.add(MAP, "src/%s/ is a module the map does not list under [deps]" % m)
    for m in deps:
        where = "%s:%d" % (MAP, dep_lines[m])
        if m not in modules:
            problems.add(where, "module %s has no folder src/%s/" % (m, m))
        for d in deps[m]:
            if d != CORE and d not in deps:
                problems.add(where, "%s may use %s, which is no module in the map" % (m, d))
    inc = os.path.join(root, "include", "mopay")
    on_disk = sorted(os.listdir(inc))
    for h in on_disk:
        if h not in headers:
            problems.add("include/mopay/" + h, "this header belongs to no module: give it to one under [headers] in " + MAP)
    for h, (owner, n) in sorted(headers.items()):
        where = "%s:%d" % (MAP, n)
        if h not in on_disk:
            problems.add(where, "include/mopay/%s does not exist" % h)
        if owner not in deps:
            problems.add(where, "header %s is given to %s, which is no module in the map" % (h, owner))


def find_cycle(deps):
    """A list of modules m0 -> m1 -> ... -> m0 if the map has a cycle, else None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in deps.get(m, []):
            if d not in deps:
                continue
            if state.get(d) == "open":
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in deps:
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def allowed(deps, m):
    return set(deps.get(m, [])) | {m, CORE}


def allowed_text(deps, m):
    ds = deps.get(m, [])
    return "%s may use %s" % (m, (" ".join(ds) + " and core") if ds else "core only")


def resolve(root, rel_file, module, quote, target):
    """Where the compiler finds `target` for this file: its own folder first (quoted includes),
    then include/ and the module's folder (the -I paths mopay_module gives). None: not in the tree
    (a system header)."""
    dirs = []
    if quote == '"':
        dirs.append(os.path.dirname(rel_file))
    dirs.append("include")
    if module is not None and rel_file.startswith("src/"):
        dirs.append("src/" + module)
    for d in dirs:
        p = os.path.normpath(os.path.join(d, target))
        if os.path.isfile(os.path.join(root, p)):
            return p.replace(os.sep, "/")
    return None


def check_file(root, rel, module, deps, headers, problems, counts):
    for n, line in enumerate(read_lines(os.path.join(root, rel)), 1):
        m = INCLUDE_RE.match(line)
        if not m:
            continue
        counts["includes"] += 1
        quote, target = m.group(1), m.group(2)
        where = "%s:%d" % (rel, n)
        p = resolve(root, rel, module, quote, target)
        if p is None:
            if target.startswith("mopay/"):
                problems.add(where, "includes %s, which is not in include/mopay/" % target)
            continue
        if p.startswith("include/mopay/"):
            h = p[len("include/mopay/"):]
            if h not in headers:
                problems.add(where, "includes %s, which belongs to no module in %s" % (p, MAP))
                continue
            owner = headers[h][0]
            if owner not in allowed(deps, module):
                problems.add(where, "%s includes %s, a header of module %s, and %s draws no %s -> %s (%s)"
                             % (module, p, owner, MAP, module, owner, allowed_text(deps, module)))
        elif p.startswith("src/"):
            folder = p.split("/")[1]
            if folder != module:
                problems.add(where, "%s includes %s, a private header of module %s: only src/%s/ may include it; "
                             "use what %s declares in include/mopay/" % (module, p, folder, folder, folder))
        else:
            problems.add(where, "%s includes %s, outside include/mopay/ and src/%s/" % (module, p, module))


def check_includes(root, deps, headers, problems):
    counts = {"files": 0, "includes": 0}
    src = os.path.join(root, "src")
    for module in sorted(deps):
        top = os.path.join(src, module)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for f in sorted(filenames):
                if f.endswith(SOURCE_SUFFIXES):
                    rel = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
                    counts["files"] += 1
                    check_file(root, rel, module, deps, headers, problems, counts)
    for h, (owner, _) in sorted(headers.items()):
        rel = "include/mopay/" + h
        if os.path.isfile(os.path.join(root, rel)) and owner in deps:
            counts["files"] += 1
            check_file(root, rel, owner, deps, headers, problems, counts)
    return counts


def cmake_calls(text):
    """(command, [(argument, line)]) for each command call in a CMakeLists.txt."""
    calls, i, line, n = [], 0, 1, len(text)
    ident = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    while i < n:
        c = text[i]
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == "\n":
            line += 1
            i += 1
            continue
        m = ident.match(text, i)
        if not m:
            i += 1
            continue
        j = m.end()
        while j < n and text[j] in " \t":
            j += 1
        if j >= n or text[j] != "(":
            i = m.end()
            continue
        name, i, depth, args, tok, tok_line = m.group(0).lower(), j + 1, 1, [], "", line
        while i < n and depth > 0:
            c = text[i]
            if c == "#" and not tok:
                while i < n and text[i] != "\n":
                    i += 1
                continue
            if c == '"':
                k = i + 1
                while k < n and text[k] != '"':
                    k += 2 if text[k] == "\\" else 1
                tok_line = tok_line if tok else line
                tok += text[i + 1:k]
                line += text[i:k].count("\n")
                i = k + 1
                continue
            if c in " \t\n" or (c == ")" and depth == 1):
                if tok:
                    args.append((tok, tok_line))
                    tok = ""
                if c == "\n":
                    line += 1
                if c == ")":
                    depth -= 1
                i += 1
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            if not tok:
                tok_line = line
            tok += c
            i += 1
        calls.append((name, args))
    return calls


MODULE_KEYWORDS = {"SOURCES", "DEPS"}
LINK_KEYWORDS = {"PUBLIC", "PRIVATE", "INTERFACE", "LINK_PUBLIC", "LINK_PRIVATE", "LINK_INTERFACE_LIBRARIES"}


def check_cmake(root, deps, problems):
    checked = 0
    for module in sorted(deps):
        rel = "src/%s/CMakeLists.txt" % module
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name, args in cmake_calls(text):
            links = []
            if name == "mopay_module" and args:
                if args[0][0] != module:
                    problems.add("%s:%d" % (rel, args[0][1]),
                                 "mopay_module(%s) in src/%s/: a folder's library is named after it" % (args[0][0], module))
                keyword = None
                for a, ln in args[1:]:
                    if a in MODULE_KEYWORDS:
                        keyword = a
                    elif keyword == "DEPS":
                        links.append((a, ln))
            elif name == "target_link_libraries" and args:
                links = [(a, ln) for a, ln in args[1:] if a not in LINK_KEYWORDS]
            for a, ln in links:
                lm = re.match(r"^mopay_([A-Za-z0-9_]+)$", a)
                if not lm:
                    continue
                checked += 1
                target = lm.group(1)
                where = "%s:%d" % (rel, ln)
                if target not in deps:
                    problems.add(where, "links %s, which is no module's library in %s" % (a, MAP))
                elif target not in allowed(deps, module):
                    problems.add(where, "%s links %s, and %s draws no %s -> %s (%s)"
                                 % (module, a, MAP, module, target, allowed_text(deps, module)))
    return checked


def levels(deps):
    """A module's height: core 0, a module that uses only core 1, and so on up."""
    memo = {}

    def height(m):
        if m not in memo:
            memo[m] = 0 if m == CORE else 1 + max([height(d) for d in deps.get(m, []) if d in deps] + [0])
        return memo[m]

    return {m: height(m) for m in deps}


def readme_listing(deps):
    h = levels(deps)
    order = sorted(deps, key=lambda m: (-h[m], m))
    width = max(len(m) for m in order)
    out = ["```text"]
    for m in order:
        if m == CORE:
            rhs = "(nothing)"
        elif deps[m]:
            rhs = " ".join(sorted(deps[m]))
        else:
            rhs = "(core only)"
        out.append("%s -> %s" % (m.ljust(width), rhs))
    out.append("```")
    return out


def readme_block(root, problems):
    lines = read_lines(os.path.join(root, README))
    try:
        b = lines.index(README_BEGIN)
        e = lines.index(README_END, b)
    except ValueError:
        problems.add(README, "no %s ... %s block in \"Map of the code\"" % (README_BEGIN, README_END))
        return lines, None, None
    return lines, b, e


def check_readme(root, deps, problems):
    lines, b, e = readme_block(root, problems)
    if b is None:
        return
    want, have = readme_listing(deps), lines[b + 1:e]
    if want != have:
        diff = difflib.unified_diff(have, want, "README.md", "listing from " + MAP, lineterm="", n=1)
        problems.add("%s:%d" % (README, b + 2),
                     "the listing differs from %s (tests/layering/check_layering.py --write-readme rewrites it):\n%s"
                     % (MAP, "\n".join(diff)))


def write_readme(root, deps):
    problems = Problems()
    lines, b, e = readme_block(root, problems)
    if b is None:
        print("\n".join(problems.lines), file=sys.stderr)
        return 1
    lines[b + 1:e] = readme_listing(deps)
    with open(os.path.join(root, README), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return 0


def main(argv):
    write = "--write-readme" in argv
    rest = [a for a in argv if a != "--write-readme"]
    root = os.path.abspath(rest[0] if rest else os.path.join(os.path.dirname(__file__), "..", ".."))
    problems = Problems()
    deps, dep_lines, headers = parse_map(root, problems)
    check_map(root, deps, dep_lines, headers, problems)
    cycle = find_cycle(deps)
    if cycle:
        problems.add("%s:%d" % (MAP, dep_lines[cycle[0]]), "the map has a cycle: " + " -> ".join(cycle))
    if write:
        if problems.lines:
            print("\n".join(problems.lines), file=sys.stderr)
            return 1
        return write_readme(root, deps)
    counts = check_includes(root, deps, headers, problems)
    links = check_cmake(root, deps, problems)
    if not cycle:  # the listing is ordered by height, which a cycle does not have
        check_readme(root, deps, problems)
    if problems.lines:
        for p in problems.lines:
            print(p, file=sys.stderr)
        print("layering: %d problem(s). Fix the code, or, when a new edge is meant, draw it in %s "
              "(then --write-readme) and say why in the commit." % (len(problems.lines), MAP), file=sys.stderr)
        return 1
    print("layering: %d modules, %d headers, %d files, %d includes and %d mopay_* link names "
          "follow %s; the map has no cycle; the README's listing matches it"
          % (len(deps), len(headers), counts["files"], counts["includes"], links, MAP))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
