"""The consumer workspace's own rules_cc: Bazel's native C++ rules, except that
every cc_library also defines NANORUN_CONSUMER_OWN_RULES_CC=1.

The define travels to every target that depends on the library, so
//:own_rules_cc_check (rules_cc_check.cc) compiles only if nanorun's libraries
were built by these rules, i.e. if nanorun_deps() kept this @rules_cc instead of
putting its own offline stub in its place.
"""

def cc_library(defines = [], **kwargs):
    native.cc_library(defines = defines + ["NANORUN_CONSUMER_OWN_RULES_CC=1"], **kwargs)

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

# Bazel 4.2.3's own @bazel_tools//tools/cpp and @local_config_cc load these.
def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)
