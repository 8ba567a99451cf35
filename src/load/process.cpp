#include "load/process.hpp"

#include <cerrno>
#include <thread>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace marquee::load {

std::pair<int, std::string> run_command(const std::vector<std::string>& argv, const std::string& input) {
    int in_pipe[2];
    int out_pipe[2];
    if (pipe(in_pipe) != 0) return {127, "pipe failed"};
    if (pipe(out_pipe) != 0) {
        close(in_pipe[0]);
        close(in_pipe[1]);
        return {127, "pipe failed"};
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 2);
    posix_spawn_file_actions_addclose(&actions, in_pipe[1]);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    std::vector<std::string> copies = argv;
    std::vector<char*> args;
    args.reserve(copies.size() + 1);
    for (auto& a : copies) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in_pipe[0]);
    close(out_pipe[1]);
    if (rc != 0) {
        close(in_pipe[1]);
        close(out_pipe[0]);
        return {127, "cannot start " + argv[0]};
    }
    // stdin is written by a thread of its own so a large input and a large output cannot deadlock.
    signal(SIGPIPE, SIG_IGN);
    std::thread writer([fd = in_pipe[1], &input] {
        std::size_t done = 0;
        while (done < input.size()) {
            const auto n = write(fd, input.data() + done, input.size() - done);
            if (n <= 0) break;
            done += static_cast<std::size_t>(n);
        }
        close(fd);
    });
    std::string output;
    char chunk[8192];
    for (;;) {
        const auto n = read(out_pipe[0], chunk, sizeof chunk);
        if (n > 0) {
            output.append(chunk, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    close(out_pipe[0]);
    writer.join();
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128, output};
}

}  // namespace marquee::load
