#!/usr/bin/env python3
"""Checks MODULE.bazel against the WORKSPACE route, without a Bazel that reads it.

Only Bazel 4.2.3 exists where nanorun is built, and it ignores MODULE.bazel, so
nothing runs the module route here. This checks what can be checked from the
files alone (CI stage `module`):
  1. MODULE.bazel parses as Starlark and uses only module(), bazel_dep(),
     use_extension() and use_repo(), with literal arguments;
  2. module() is named nanorun and carries nanorun/version.h's version;
  3. abseil-cpp is asked for at the Abseil version the other routes test against
     (Debian's libabsl-dev, when dpkg can say which is installed);
  4. each use_extension() names a .bzl file that exists and defines that
     extension, and each use_repo()'d name is created in that file;
  5. every repository a BUILD or .bzl file here names (@name//...) is provided on
     both routes: by a bazel_dep or use_repo here, and by third_party/deps.bzl
     (or Bazel itself); a repository the library (nanorun/**) names must not be a
     dev dependency, since a module that depends on nanorun never sees those.
Prints one line per problem and exits 1 if there is any; "module: ok" otherwise.
Usage: tools/check_module_bazel.py [WORKSPACE_ROOT]
"""

import ast
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), ".."))
problems = []


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def literal(node, where):
    try:
        return ast.literal_eval(node)
    except ValueError:
        problems.append("%s: argument is not a literal: %s" % (where, ast.dump(node)))
        return None


# 1. Parse and evaluate the few calls MODULE.bazel may make.
module_text = read("MODULE.bazel")
try:
    tree = ast.parse(module_text, "MODULE.bazel")
except SyntaxError as e:
    print("MODULE.bazel: does not parse: %s" % e)
    sys.exit(1)

module_args = None
deps = {}        # repo name -> {"name", "version", "dev"}
extensions = {}  # variable -> {"file", "name", "dev"}
used_repos = {}  # repo name -> extension variable
for stmt in tree.body:
    target = None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        target, call = stmt.targets[0].id, stmt.value
    elif isinstance(stmt, ast.Expr):
        call = stmt.value
    else:
        problems.append("MODULE.bazel:%d: only calls and `x = use_extension(...)` belong here" % stmt.lineno)
        continue
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        problems.append("MODULE.bazel:%d: not a plain function call" % stmt.lineno)
        continue
    fn = call.func.id
    where = "MODULE.bazel:%d: %s()" % (stmt.lineno, fn)
    kw = {k.arg: literal(k.value, where) for k in call.keywords}
    if fn == "module":
        module_args = kw
    elif fn == "bazel_dep":
        repo = kw.get("repo_name") or kw.get("name")
        deps[repo] = {"name": kw.get("name"), "version": kw.get("version"), "dev": bool(kw.get("dev_dependency"))}
    elif fn == "use_extension" and target:
        args = [literal(a, where) for a in call.args]
        if len(args) != 2:
            problems.append("%s: wants the .bzl label and the extension's name" % where)
            continue
        extensions[target] = {"file": args[0], "name": args[1], "dev": bool(kw.get("dev_dependency"))}
    elif fn == "use_repo":
        ext = call.args[0].id if call.args and isinstance(call.args[0], ast.Name) else None
        if ext not in extensions:
            problems.append("%s: first argument is not a use_extension() result" % where)
            continue
        for a in call.args[1:]:
            used_repos[literal(a, where)] = ext
    else:
        problems.append("%s: not a call this check knows (extend tools/check_module_bazel.py)" % where)

# 2. Name and version.
version_h = read("nanorun/version.h")
m = re.search(r'#define NANORUN_VERSION_STRING "([^"]+)"', version_h)
if not module_args:
    problems.append("MODULE.bazel: no module() call")
else:
    if module_args.get("name") != "nanorun":
        problems.append("MODULE.bazel: module name is %r, not 'nanorun'" % module_args.get("name"))
    if not m or module_args.get("version") != m.group(1):
        problems.append("MODULE.bazel: version %r differs from nanorun/version.h's %r"
                        % (module_args.get("version"), m and m.group(1)))

# 3. The Abseil version every other route is tested with.
absl = deps.get("com_google_absl")
if not absl or absl["name"] != "abseil-cpp" or absl["dev"]:
    problems.append("MODULE.bazel: needs bazel_dep(name = \"abseil-cpp\", repo_name = \"com_google_absl\"), "
                    "not a dev dependency: every BUILD file names @com_google_absl")
else:
    try:
        debian = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libabsl-dev"],
                                capture_output=True, text=True, check=False).stdout
    except OSError:
        debian = ""
    if debian and not debian.startswith(absl["version"] + "-"):
        problems.append("MODULE.bazel: abseil-cpp %s, but the WORKSPACE and CMake routes test against "
                        "Debian's libabsl-dev %s" % (absl["version"], debian))

# 4. Extensions exist, define what is used, and create the repositories used.
for var, ext in extensions.items():
    label = ext["file"]
    if not label.startswith("//") or ":" not in label:
        problems.append("MODULE.bazel: use_extension label %r is not //package:file.bzl" % label)
        continue
    path = label[2:].replace(":", "/")
    if not os.path.exists(os.path.join(ROOT, path)):
        problems.append("MODULE.bazel: %s does not exist" % label)
        continue
    bzl = read(path)
    if not re.search(r"^%s = module_extension\(" % re.escape(ext["name"]), bzl, re.M):
        problems.append("MODULE.bazel: %s defines no module extension %r" % (label, ext["name"]))
    for repo, user in used_repos.items():
        if user == var and not re.search(r'name = "%s"' % re.escape(repo), bzl):
            problems.append("MODULE.bazel: use_repo(%s, %r), but %s creates no such repository" % (var, repo, label))

# 5. Every repository named by a BUILD or .bzl file is there on both routes.
workspace_repos = set(re.findall(r'name = "([A-Za-z0-9_]+)"', read("third_party/deps.bzl")))
builtin = {"bazel_tools", "platforms", "local_config_cc", "local_config_platform"}  # Bazel 4.2.3's own
module_repos = {r: d["dev"] for r, d in deps.items()}
module_repos.update({r: extensions[e]["dev"] for r, e in used_repos.items()})
files = subprocess.run(["git", "-C", ROOT, "ls-files", "*BUILD.bazel", "*.bzl"],
                       capture_output=True, text=True, check=True).stdout.split()
for rel in files:
    if rel.startswith(("third_party/", "tests/consumer/")):
        continue  # repository rules' generated text; the consumer is its own workspace
    for repo in sorted(set(re.findall(r'"@([A-Za-z0-9_.-]+)//', read(rel)))):
        if repo == "bazel_tools":
            continue
        if repo not in module_repos:
            problems.append("%s: names @%s, which MODULE.bazel does not provide" % (rel, repo))
        elif module_repos[repo] and rel.startswith("nanorun/"):
            problems.append("%s: the library names @%s, a dev dependency in MODULE.bazel" % (rel, repo))
        if repo not in workspace_repos and repo not in builtin:
            problems.append("%s: names @%s, which third_party/deps.bzl does not define" % (rel, repo))

for p in problems:
    print(p)
print("module: %s" % ("ok" if not problems else "%d problem(s)" % len(problems)))
sys.exit(1 if problems else 0)
