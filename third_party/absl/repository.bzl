"""Repository rule for @com_google_absl: the system's Abseil, or a source tree.

Default (system) mode: Debian's libabsl-dev. The directory
`$(pkg-config --variable=includedir absl_base)/absl` is linked in as include/absl
and exported by //:system_headers with `includes = ["include"]`, so the headers
are system headers (-isystem) for everyone who includes them: a consumer's
-Wpedantic -Werror never fails inside Abseil. One BUILD.bazel is written per
Abseil package with one cc_library per
pkg-config module, at Abseil's real label (table in targets.bzl):
`@com_google_absl//absl/status:statusor`, `//absl/synchronization`, ...
Each target's link flags are `pkg-config --libs absl_<name>`; its deps are the
modules its .pc file requires.

Source mode: with `--repo_env=NANORUN_ABSL_SOURCE=/abs/path/to/abseil-source`
the repository is that Abseil source tree (its own BUILD.bazel files), so Abseil
is compiled with the build's flags, e.g. -fsanitize=thread. It needs
@bazel_skylib and a newer @platforms than Bazel 4.2.3 has built in (Debian's bazel-platforms,
via --override_repository as .bazelrc's tsan config does; see //third_party:deps.bzl). The value `auto`
runs //tools:fetch_abseil_source.sh, which downloads Debian's source package
(`apt-get source abseil`) into ~/.cache/nanorun and prints its path.
"""

load(":targets.bzl", "ABSL_CMAKE_ONLY", "ABSL_TARGETS")

_ENV_SOURCE = "NANORUN_ABSL_SOURCE"

# Visibility of Abseil targets that are not public in Abseil's own BUILD files.
_INTERNAL_VISIBILITY = ["//absl:__subpackages__"]

_INSTALL_HINT = ("install Debian's libabsl-dev and pkg-config " +
                 "(tools/bazel does it when run as root)")

def _run(rctx, args, what, timeout = 600):
    result = rctx.execute(args, timeout = timeout)
    if result.return_code != 0:
        fail("@%s: %s failed (exit %d):\n%s%s" % (
            rctx.name,
            what,
            result.return_code,
            result.stdout,
            result.stderr,
        ))
    return result.stdout

def _source_mode(rctx, source):
    if source == "auto":
        script = rctx.path(Label("//tools:fetch_abseil_source.sh"))
        out = _run(rctx, ["bash", str(script)], "tools/fetch_abseil_source.sh")
        source = out.strip().splitlines()[-1]
    if not source.startswith("/"):
        fail("@%s: %s must be an absolute path (or `auto`), got %r" % (rctx.name, _ENV_SOURCE, source))
    root = rctx.path(source)
    if not root.get_child("absl").get_child("base").get_child("config.h").exists:
        fail("@%s: %s=%s is not an Abseil source tree (no absl/base/config.h)" % (rctx.name, _ENV_SOURCE, source))
    for child in root.readdir():
        rctx.symlink(child, child.basename)

def _parse_requires(pc_text):
    """Names (without "absl_") of the Abseil modules a .pc file requires."""
    names = []
    for line in pc_text.splitlines():
        if not line.startswith("Requires:"):
            continue
        for item in line[len("Requires:"):].split(","):
            words = item.strip().split(" ")
            if words and words[0].startswith("absl_"):
                names.append(words[0][len("absl_"):])
    return names

def _guess_label(name, include_dir):
    """Label for a pkg-config module missing from targets.bzl: the longest
    `absl/<a>/<b>...` header directory its name starts with is its package."""
    parts = name.split("_")
    for k in range(len(parts), 0, -1):
        if include_dir.get_child("/".join(parts[:k])).exists:
            rest = "_".join(parts[k:]) or parts[k - 1]
            return "//absl/%s:%s" % ("/".join(parts[:k]), rest)
    return "//absl:" + name

def _expand(name, requires, labels):
    """Labels of what `name` requires, looking through CMake-only umbrellas.
    (Starlark has no recursion: a worklist instead.)"""
    out = {}
    seen = {name: True}
    todo = list(requires[name])
    for _ in range(10000):
        if not todo:
            break
        r = todo.pop()
        if r in seen:
            continue
        seen[r] = True
        if r in labels:
            out[labels[r][0]] = True
        elif r in requires:
            todo.extend(requires[r])
    return sorted(out.keys())

def _system_mode(rctx):
    pkg_config = rctx.which("pkg-config")
    if not pkg_config:
        fail("@%s: pkg-config not found: %s" % (rctx.name, _INSTALL_HINT))
    probe = rctx.execute([pkg_config, "--variable=pcfiledir", "absl_base"])
    if probe.return_code != 0 or not probe.stdout.strip():
        fail("@%s: pkg-config does not know absl_base: %s" % (rctx.name, _INSTALL_HINT))
    pc_dir = rctx.path(probe.stdout.strip())
    include_root = _run(rctx, [pkg_config, "--variable=includedir", "absl_base"], "pkg-config").strip()
    include_dir = rctx.path(include_root + "/absl")

    # The headers, at include/absl, reached through `includes` (-isystem) only. Not at
    # the repository's top, where Bazel's -iquote for the repository would find them
    # first: then they are not system headers, and a consumer compiling its own code
    # with -Wpedantic -Werror fails inside Abseil (g++: '__int128' in int128.h).
    rctx.symlink(include_dir, "include/absl")

    # Every module Debian ships: name -> required module names.
    requires = {}
    for pc in pc_dir.readdir():
        base = pc.basename
        if base.startswith("absl_") and base.endswith(".pc"):
            requires[base[len("absl_"):-len(".pc")]] = _parse_requires(rctx.read(pc))
    if not requires:
        fail("@%s: no absl_*.pc in %s: %s" % (rctx.name, pc_dir, _INSTALL_HINT))

    # Link flags, one pkg-config call per module (a few run in parallel).
    names = sorted([n for n in requires if n not in ABSL_CMAKE_ONLY])
    script = ('printf "%s\\n" "$@" | xargs -P 4 -n 1 sh -c ' +
              '\'echo "$0:$("' + str(pkg_config) + '" --libs "absl_$0")"\'')
    linkopts = {}
    for line in _run(rctx, ["sh", "-c", script, "sh"] + names, "pkg-config --libs").splitlines():
        name, _, flags = line.partition(":")
        linkopts[name] = [f for f in flags.strip().split(" ") if f and not f.startswith("-L")]

    # Labels, with CMake-only umbrellas replaced by what they require.
    labels = {}
    for name in names:
        if name in ABSL_TARGETS:
            labels[name] = ABSL_TARGETS[name]
        else:
            labels[name] = (_guess_label(name, include_dir), True)

    packages = {}  # package -> list of cc_library texts
    for name in names:
        label, public = labels[name]
        package, _, target = label[2:].partition(":")
        deps = _expand(name, requires, labels)
        deps = sorted([(":" + d.partition(":")[2]) if d.startswith("//%s:" % package) else d for d in deps])
        deps.append("//:system_headers")
        packages.setdefault(package, []).append("""
# pkg-config: absl_{name}
cc_library(
    name = "{target}",
    linkopts = {linkopts},
    visibility = {visibility},
    deps = {deps},
)
""".format(
            name = name,
            target = target,
            linkopts = repr(linkopts.get(name, [])),
            visibility = repr(["//visibility:public"] if public else _INTERNAL_VISIBILITY),
            deps = repr(deps),
        ))

    header = ("# Generated by @nanorun//third_party/absl:repository.bzl from the system's\n" +
              "# Abseil (headers from %s, link flags from pkg-config). Do not edit.\n") % include_dir
    if "absl" not in packages:
        packages["absl"] = []
    for package, targets in packages.items():
        rctx.file(package + "/BUILD.bazel", header + "".join(targets))
    rctx.file("BUILD.bazel", header + """
# Every Abseil header, as a system header (-isystem include): every target above
# depends on this one.
cc_library(
    name = "system_headers",
    hdrs = glob(["include/absl/**/*.h", "include/absl/**/*.inc"]),
    includes = ["include"],
    visibility = ["//visibility:public"],
)
""")
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)

def _absl_repository_impl(rctx):
    source = rctx.os.environ.get(_ENV_SOURCE, "")
    if source:
        _source_mode(rctx, source)
    else:
        _system_mode(rctx)

absl_repository = repository_rule(
    implementation = _absl_repository_impl,
    environ = [_ENV_SOURCE, "PKG_CONFIG_PATH"],
    configure = True,
    doc = "@com_google_absl from the system's libabsl-dev, or from $%s." % _ENV_SOURCE,
)
