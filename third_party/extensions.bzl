"""Module extensions for the MODULE.bazel route (Bazel 6+ with Bzlmod).

Bazel 4.2.3, the only Bazel where nanorun is built here, never loads this file
(it does not read MODULE.bazel). What the WORKSPACE route gets from
third_party/deps.bzl and the registry does not provide is created here, by the
same repository rules:

  bench_peers   @nanorun_bench_asio: Debian's standalone Asio, the benchmark
                baseline (//tools/bench:asio_baseline). A dev dependency: a
                module that depends on nanorun never sees it.
"""

load("//third_party/asio:repository.bzl", "asio_repository")

def _bench_peers_impl(module_ctx):
    _ = module_ctx  # @unused
    asio_repository(name = "nanorun_bench_asio")

bench_peers = module_extension(
    implementation = _bench_peers_impl,
    doc = "The benchmark's peer libraries, from the local system.",
)
