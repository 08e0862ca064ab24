"""net_bench and its variants: one source, a peer server more per variant."""

load("@rules_cc//cc:defs.bzl", "cc_binary")
load("//tools:build_defs.bzl", "NANORUN_COPTS")

def net_bench(name, defines = [], linkopts = [], tags = []):
    """tools/bench/net_bench.cc, built with `defines` (which peers it adds).

    Not on the fallback reactor: the benchmark's servers need epoll.
    """
    cc_binary(
        name = name,
        srcs = ["net_bench.cc"],
        copts = NANORUN_COPTS,
        defines = defines,
        linkopts = linkopts,
        tags = tags,
        target_compatible_with = select({
            "//nanorun/reactor:force_fallback": ["//nanorun/reactor:incompatible"],
            "//conditions:default": [],
        }),
        deps = [
            ":report",
            "//docs/examples:echo",
            "//nanorun",
        ],
    )
