"""Offline stand-ins for repositories Bazel 4.2.3 would otherwise download.

Even for a pure C++ build, Bazel 4.2.3 asks for @rules_cc (analysis),
@rules_java (toolchain resolution) and @remote_coverage_tools (`bazel test`),
all from the network. These stubs forward to Bazel's native rules, which is all
these repositories did in 4.2.3 for our purposes. `bazel coverage` is not
supported (the stub coverage tools say so and fail).

Also: a repository for Debian's bazel-skylib package
(needed only to build Abseil from source, see //third_party/absl).

Each is created by //third_party:deps.bzl under maybe(), so a workspace that
defines the real ones first keeps them.
"""

def _files_repository_impl(rctx):
    for path, content in rctx.attr.files.items():
        rctx.file(path, content)
    if "WORKSPACE" not in rctx.attr.files:
        rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)

files_repository = repository_rule(
    implementation = _files_repository_impl,
    attrs = {"files": attr.string_dict(doc = "path -> content")},
    doc = "A repository made of the given files.",
)

_HEADER = "# Offline stub from @nanorun//third_party:stubs.bzl.\n"

RULES_CC_FILES = {
    "BUILD.bazel": _HEADER,
    "cc/BUILD.bazel": _HEADER + """
package(default_visibility = ["//visibility:public"])

alias(
    name = "toolchain_type",
    actual = "@bazel_tools//tools/cpp:toolchain_type",
)

exports_files(glob(["*.bzl"]))
""",
    "cc/defs.bzl": _HEADER + "\n".join([
        "def {0}(**kwargs):\n    native.{0}(**kwargs)\n".format(rule)
        for rule in [
            "cc_binary",
            "cc_import",
            "cc_library",
            "cc_proto_library",
            "cc_test",
            "cc_toolchain",
            "cc_toolchain_suite",
            "fdo_prefetch_hints",
            "fdo_profile",
            "objc_import",
            "objc_library",
        ]
    ]),
    "cc/find_cc_toolchain.bzl": _HEADER + """
load("@bazel_tools//tools/cpp:toolchain_utils.bzl", _find_cpp_toolchain = "find_cpp_toolchain")

find_cc_toolchain = _find_cpp_toolchain
find_cpp_toolchain = _find_cpp_toolchain
""",
    "cc/action_names.bzl": _HEADER + """
load("@bazel_tools//tools/build_defs/cc:action_names.bzl", _ACTION_NAMES = "ACTION_NAMES")

ACTION_NAMES = _ACTION_NAMES
""",
}

RULES_JAVA_FILES = {
    "BUILD.bazel": _HEADER,
    "java/BUILD.bazel": _HEADER + 'exports_files(["defs.bzl"])\n',
    "java/defs.bzl": _HEADER + "\n".join([
        "def {0}(**kwargs):\n    native.{0}(**kwargs)\n".format(rule)
        for rule in [
            "java_binary",
            "java_import",
            "java_library",
            "java_lite_proto_library",
            "java_package_configuration",
            "java_plugin",
            "java_proto_library",
            "java_runtime",
            "java_test",
            "java_toolchain",
        ]
    ]),
}

REMOTE_COVERAGE_TOOLS_FILES = {
    "BUILD.bazel": _HEADER + """
package(default_visibility = ["//visibility:public"])

sh_binary(
    name = "coverage_report_generator",
    srcs = ["unavailable.sh"],
)

sh_binary(
    name = "lcov_merger",
    srcs = ["unavailable.sh"],
)
""",
    "unavailable.sh": """#!/bin/sh
# Offline stub from @nanorun//third_party:stubs.bzl.
echo "coverage tools are not available (offline stub @remote_coverage_tools)" >&2
exit 1
""",
}

def _system_directory_repository_impl(rctx):
    src = rctx.path(rctx.attr.path)
    if not src.exists:
        fail("@%s: %s not found: install Debian's %s package (as root: apt-get install -y %s)" % (
            rctx.name,
            rctx.attr.path,
            rctx.attr.package,
            rctx.attr.package,
        ))
    for child in src.readdir():
        rctx.symlink(child, child.basename)
    if not src.get_child("WORKSPACE").exists:
        rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)

system_directory_repository = repository_rule(
    implementation = _system_directory_repository_impl,
    attrs = {
        "path": attr.string(mandatory = True, doc = "Absolute directory to expose."),
        "package": attr.string(mandatory = True, doc = "Debian package that provides it."),
    },
    configure = True,
    doc = "A repository whose files are those of a directory installed by a Debian package.",
)
