// job_queue PORT: a job server built from nanorun::sync. Each line a client
// sends, "job ID MS", is a job: a call that blocks for MS milliseconds (the
// stand-in for a database driver or a file read). The server answers
// "done ID" when it has run, or "error ..." for a line it cannot parse.
//
//   admission:    a Semaphore of kMaxClients connections; one more gets "busy"
//                 and is closed (it is not queued: the server stays responsive)
//   backpressure: jobs go through a bounded channel (kQueueDepth); a client
//                 that sends faster than the workers run stops being read
//   workers:      one dispatcher task takes jobs off the channel and runs at
//                 most kWorkers at once on the blocking pool (spawn_blocking),
//                 tracked in a JoinSet; a Mutex per connection keeps replies
//                 from interleaving
//   Ctrl-C:       graceful: stop accepting, stop reading, finish every job
//                 already received, then exit (Runtime::shutdown with a grace)
//
//   tools/bazel run //docs/examples:job_queue -- 7100
//   exec 3<>/dev/tcp/127.0.0.1/7100; echo "job 1 200" >&3; head -1 <&3
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nanorun/nanorun.h"

namespace {

using nanorun::Future;
using nanorun::net::SocketAddr;
using nanorun::net::TcpListener;
using nanorun::net::TcpStream;

constexpr size_t kMaxClients = 8;
constexpr size_t kQueueDepth = 16;
constexpr size_t kWorkers = 4;
constexpr size_t kMaxLine = 256;

// One client: its socket, and the lock that makes each reply a whole line.
struct Client {
  explicit Client(TcpStream s) : stream(std::move(s)) {}
  TcpStream stream;
  nanorun::sync::Mutex write_lock;

  Future<void> reply(std::string line) {
    return write_lock.lock().then([stream = stream, line = std::move(line)](
                                      nanorun::sync::MutexGuard guard) {
      return stream.write_all(line).finally([guard = std::move(guard)] {});
    });
  }
};

struct Job {
  std::string id;
  int ms = 0;
  std::shared_ptr<Client> client;
};

// Parses "job ID MS".
std::optional<Job> ParseJob(absl::string_view line, const std::shared_ptr<Client>& client) {
  std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
  Job job;
  if (words.size() != 3 || words[0] != "job" || !absl::SimpleAtoi(words[2], &job.ms) ||
      job.ms < 0 || job.ms > 10000) {
    return std::nullopt;
  }
  job.id = std::string(words[1]);
  job.client = client;
  return job;
}

// Reads lines until the peer closes or `stop` is requested, and queues each
// job, waiting while the queue is full (so a fast client is not read from).
Future<void> ServeClient(std::shared_ptr<Client> client, nanorun::sync::Sender<Job> jobs,
                         nanorun::StopToken stop) {
  auto pending = std::make_shared<std::string>();
  return nanorun::repeat([client, jobs, stop, pending] {
    return nanorun::with_stop(stop, client->stream.read_some(4096))
        .then([client, jobs, pending](std::string data) -> Future<bool> {
          if (data.empty()) return nanorun::make_ready_future(true);  // Peer closed.
          pending->append(data);
          std::vector<Job> parsed;
          size_t eol;
          while ((eol = pending->find('\n')) != std::string::npos) {
            std::string line = pending->substr(0, eol);
            pending->erase(0, eol + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (std::optional<Job> job = ParseJob(line, client)) {
              parsed.push_back(std::move(*job));
            } else {
              client->reply("error: expected \"job ID MS\" (MS in 0..10000)\n").detach();
            }
          }
          if (pending->size() > kMaxLine) return nanorun::make_ready_future(true);
          // One at a time, in order: each send waits while the queue is full.
          return nanorun::for_each_concurrent(std::move(parsed), 1, [jobs](Job job) {
                   return jobs.send(std::move(job));
                 })
              .then([] { return false; });
        });
  });
}

// Accepts until the listener is closed. A client beyond kMaxClients is told
// "busy" and closed; the others hold a permit while they are served.
Future<void> AcceptClients(TcpListener listener, nanorun::sync::Sender<Job> jobs,
                           nanorun::sync::Semaphore admission, nanorun::StopToken stop) {
  return nanorun::repeat([=] {
    return listener.accept().then([=](std::pair<TcpStream, SocketAddr> conn) {
      auto client = std::make_shared<Client>(std::move(conn.first));
      std::optional<nanorun::sync::SemaphorePermit> permit = admission.try_acquire();
      if (!permit.has_value()) {
        client->reply("busy: try again later\n").finally([client] { client->stream.close(); }).detach();
        return false;
      }
      (void)nanorun::spawn([client, jobs, stop, permit = std::move(*permit)]() mutable {
        return ServeClient(client, jobs, stop).finally([permit = std::move(permit)] {});
      });
      return false;
    });
  });
}

// Takes jobs off the queue and runs up to kWorkers at once on the blocking
// pool. Ends when every Sender is gone and the queue is empty, after the jobs
// in flight have finished.
Future<void> Dispatch(nanorun::sync::Receiver<Job> queue) {
  struct State {
    explicit State(nanorun::sync::Receiver<Job> r) : queue(std::move(r)) {}
    nanorun::sync::Receiver<Job> queue;
    nanorun::sync::Semaphore workers{kWorkers};
    nanorun::JoinSet<void> running;
  };
  auto state = std::make_shared<State>(std::move(queue));
  return nanorun::repeat([state] {
           return state->queue.recv().then([state](std::optional<Job> job) -> Future<bool> {
             if (!job.has_value()) return nanorun::make_ready_future(true);
             while (state->running.try_join_next().has_value()) {
             }  // Forget the jobs that are done (their replies are written).
             return state->workers.acquire().then(
                 [state, job = std::move(*job)](nanorun::sync::SemaphorePermit permit) {
                   state->running.spawn([job, permit = std::move(permit)]() mutable {
                     return nanorun::spawn_blocking([ms = job.ms] {
                              std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                            })
                         .then([job] { return job.client->reply(absl::StrCat("done ", job.id, "\n")); })
                         .finally([permit = std::move(permit)] {});
                   });
                   return false;
                 });
           });
         })
      .then([state] {
        // The queue has ended: wait for the jobs still running.
        return nanorun::repeat([state] {
          return state->running.join_next().then(
              [](std::optional<absl::Status> done) { return !done.has_value(); });
        });
      });
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  if (argc > 2 || port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: job_queue [PORT]   (0..65535; 0 picks a free port)\n");
    return 2;
  }
  nanorun::Runtime rt;
  nanorun::signal::Signals stop({SIGINT, SIGTERM}, rt.handle());
  auto listener = TcpListener::bind(SocketAddr::loopback_v4(static_cast<uint16_t>(port)), rt.handle());
  if (!listener.ok()) {
    std::fprintf(stderr, "job_queue: %s\n", listener.status().ToString().c_str());
    return 1;
  }
  std::printf("job_queue listening on %s\n", listener->local_addr()->ToString().c_str());
  std::fflush(stdout);

  nanorun::StopSource stop_reading;
  {
    auto [jobs, queue] = nanorun::sync::channel<Job>(kQueueDepth);
    (void)rt.handle().spawn([queue = std::move(queue)]() mutable { return Dispatch(std::move(queue)); });
    (void)rt.handle().spawn([l = *listener, jobs = jobs, token = stop_reading.get_token()] {
      return AcceptClients(l, jobs, nanorun::sync::Semaphore(kMaxClients), token);
    });
  }  // Only the tasks hold Senders now: the queue ends when they are done.

  int sig = rt.block_on(stop.next()).value_or(0);
  std::printf("job_queue: signal %d, finishing the jobs received\n", sig);
  std::fflush(stdout);
  listener->close();            // No new clients; the accept loop ends.
  stop_reading.request_stop();  // Clients' reads stop; what they sent is queued.
  nanorun::ShutdownReport report = rt.shutdown(absl::Seconds(30));
  std::printf("job_queue: drained: %zu finished, %zu cancelled\n", report.finished,
              report.cancelled);
  return report.cancelled == 0 ? 0 : 1;
}
