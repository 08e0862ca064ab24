"""Shared build settings for nanorun's own targets.

Usage in a BUILD file:
    load("//tools:build_defs.bzl", "NANORUN_COPTS")
    cc_library(name = ..., copts = NANORUN_COPTS, ...)

Never put -std or -Werror here: the C++ standard comes from .bazelrc (consumers set
their own), and -Werror only from `--config=werror` for nanorun's own files.
"""

NANORUN_COPTS = ["-Wall", "-Wextra", "-Wpedantic"]

# For targets that need sockets: incompatible with the portable fallback
# reactor (--config=fallback), which has no I/O, so `bazel test //...` skips them there.
NEEDS_NET = select({
    "//nanorun/reactor:force_fallback": ["//nanorun/reactor:incompatible"],
    "//conditions:default": [],
})
