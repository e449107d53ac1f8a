/* The sandbox ("pause") process of the CRI suite's pods: it holds the pod's
 * namespaces, reaps the orphans of a shared pid namespace (it is their init
 * there), and exits 0 on SIGINT or SIGTERM, as the kubelet's pause does.
 * Built static by integration/cri/cri.py and packed into the sandbox image. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = quit;
    sigaction(SIGINT, &sa, 0);
    sigaction(SIGTERM, &sa, 0);
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, 0);
    for (;;) pause();
}
