// no_io_uring: runs a command with io_uring forbidden, as Docker's default
// seccomp profile does (moby#46762): a seccomp filter makes io_uring_setup,
// io_uring_enter and io_uring_register fail with EPERM, for the command and
// everything it starts. The CI's `no-uring` stage runs the test suite under
// it (bazel test --run_under) to prove that the reactor falls back to epoll.
//
//   no_io_uring COMMAND [ARG...]
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace {

#if defined(__x86_64__)
constexpr unsigned kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kArch = AUDIT_ARCH_AARCH64;
#else
#error "no_io_uring: add this architecture's AUDIT_ARCH value"
#endif

bool ForbidIoUring() {
  // The io_uring syscalls have the same numbers (425-427) on every
  // architecture; a filter for another architecture's calls is refused.
  struct sock_filter program[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
  };
  struct sock_fprog filter = {static_cast<unsigned short>(sizeof(program) / sizeof(program[0])),
                              program};
  // Without privileges, a process may filter itself only once it promises
  // never to gain any (no setuid executables from here on).
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: no_io_uring COMMAND [ARG...]\n");
    return 2;
  }
  if (!ForbidIoUring()) {
    std::fprintf(stderr, "no_io_uring: could not install the seccomp filter: %s\n",
                 std::strerror(errno));
    return 2;
  }
  execvp(argv[1], argv + 1);
  std::fprintf(stderr, "no_io_uring: %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
