"""nanorun's external dependencies, all from the local system (works offline).

Call from a WORKSPACE:

    load("@nanorun//third_party:deps.bzl", "nanorun_deps")
    nanorun_deps()

Every repository is created under maybe(), so a workspace that defines one of
these names before calling nanorun_deps() (e.g. a monorepo with its own Abseil,
rules_cc or rules_java) keeps its own definition. The order matters:

    load("@nanorun//third_party:deps.bzl", "nanorun_deps")
    http_archive(name = "rules_cc", ...)    # yours: before nanorun_deps()
    http_archive(name = "com_google_absl", ...)
    nanorun_deps()                          # defines only what is still missing

A definition after nanorun_deps() comes too late: Bazel 4.2.3 refuses it
("Cannot redefine repository after any load statement").
tests/consumer/WORKSPACE does exactly this with its own rules_cc, and its build
fails if nanorun's stub takes that name.

  @com_google_absl        Abseil at its real labels: the system's libabsl-dev, or the
                          source tree named by --repo_env=NANORUN_ABSL_SOURCE=<abs path>
                          (`auto`: fetch Debian's source package); see absl/repository.bzl.
  @catch2                 Catch2 v2 from Debian's catch2: :catch2 and :catch2_main.
  @nanorun_bench_asio     standalone Asio (Debian's libasio-dev), only for the benchmark
                          baseline //tools/bench:asio_baseline; never fetched otherwise.
  @bazel_skylib           Debian's bazel-skylib; only building Abseil from source loads it
                          (a repository is fetched only when a build refers to it).
  @rules_cc, @rules_java, @remote_coverage_tools
                          offline stubs Bazel 4.2.3 needs (see stubs.bzl).
"""

load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")
load("//third_party/absl:repository.bzl", "absl_repository")
load("//third_party/asio:repository.bzl", "asio_repository")
load("//third_party/catch2:repository.bzl", "catch2_repository")
load(
    "//third_party:stubs.bzl",
    "REMOTE_COVERAGE_TOOLS_FILES",
    "RULES_CC_FILES",
    "RULES_JAVA_FILES",
    "files_repository",
    "system_directory_repository",
)

def nanorun_deps():
    """Defines the repositories nanorun needs (each unless already defined)."""
    maybe(absl_repository, name = "com_google_absl")
    maybe(catch2_repository, name = "catch2")
    # Benchmark baseline only (tools/bench:asio_baseline); fetched lazily.
    maybe(asio_repository, name = "nanorun_bench_asio")

    maybe(
        system_directory_repository,
        name = "bazel_skylib",
        path = "/usr/share/bazel/tools/skylib",
        package = "bazel-skylib",
    )
    # No @platforms here, on purpose. Bazel 4.2.3 has its own built in, and every build
    # reads it (the host platform is made of @platforms constraints), so defining it from
    # Debian's bazel-platforms made every build need that package, one the default
    # install step does not bring (a fresh machine failed in analysis). Only Abseil built
    # from source needs the newer constraints bazel-platforms has (@platforms//cpu:wasm32),
    # and the configs that build it say so themselves: .bazelrc's tsan config passes
    # --override_repository=platforms=/usr/share/bazel/tools/platforms.

    maybe(files_repository, name = "rules_cc", files = RULES_CC_FILES)
    maybe(files_repository, name = "rules_java", files = RULES_JAVA_FILES)
    maybe(files_repository, name = "remote_coverage_tools", files = REMOTE_COVERAGE_TOOLS_FILES)
