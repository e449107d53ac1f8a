//! The order of a launch: which exchanges happen between the parent and the
//! process it cloned, decided once from the plan. Both sides walk the same
//! script, and each refuses a message that is not the next one in it.

use serde::{Deserialize, Serialize};

/// One exchange of the conversation. `ChildSays`/`ParentSays` name the
/// messages; this names the step they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exchange {
    /// The child made a user namespace; the parent writes its id maps.
    IdMaps,
    /// The intermediate process forked the init and says its pid.
    InitPid,
    /// The parent put the process in its cgroup (unless it was born there)
    /// and set what only the parent may set (oom_score_adj).
    Placed,
    /// The init has its mounts: the parent runs prestart and createRuntime.
    CreateHooks,
    /// The process opened its pty: the parent passes the master on.
    Console,
    /// The seccomp filter notifies: the parent passes the fd to the listener.
    SeccompListener,
    /// The init is set up.
    Ready,
    /// The parent recorded the container: the init may outlive it.
    Committed,
    /// An exec'd process: its end of the channel closes on execve.
    Exec,
}

impl Exchange {
    #[cfg(test)]
    pub const ALL: [Exchange; 9] = [
        Exchange::IdMaps,
        Exchange::InitPid,
        Exchange::Placed,
        Exchange::CreateHooks,
        Exchange::Console,
        Exchange::SeccompListener,
        Exchange::Ready,
        Exchange::Committed,
        Exchange::Exec,
    ];

    /// Whether the child speaks first (and the parent waits for it).
    pub fn child_opens(self) -> bool {
        !matches!(self, Exchange::Placed | Exchange::Committed)
    }

    /// Whether the child's message carries an fd.
    pub fn carries_fd(self) -> bool {
        matches!(self, Exchange::Console | Exchange::SeccompListener)
    }
}

/// Which process is launched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launching {
    /// The container's init (`create`).
    Init,
    /// A process in a running container (`exec`).
    Exec,
}

/// What decides the script: the facts of the plan that add exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub launching: Launching,
    /// A new user namespace, whose id maps the parent writes.
    pub creates_user_ns: bool,
    /// Through an intermediate process that enters namespaces one by one
    /// (and says the pid of the process it forks).
    pub intermediate: bool,
    /// prestart or createRuntime hooks, which the parent runs.
    pub runtime_create_hooks: bool,
    /// process.terminal.
    pub terminal: bool,
    /// A seccomp filter that notifies a listener.
    pub seccomp_listener: bool,
}

impl Route {
    pub fn init() -> Route {
        Route {
            launching: Launching::Init,
            creates_user_ns: false,
            intermediate: false,
            runtime_create_hooks: false,
            terminal: false,
            seccomp_listener: false,
        }
    }

    pub fn exec() -> Route {
        Route { launching: Launching::Exec, ..Route::init() }
    }
}

/// The exchanges of one launch, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    exchanges: Vec<Exchange>,
}

impl Script {
    pub fn new(route: &Route) -> Script {
        let init = route.launching == Launching::Init;
        let steps = [
            // Before anything else: until it is mapped, the new user
            // namespace's root can do nothing.
            (Exchange::IdMaps, init && route.creates_user_ns),
            // The intermediate forked the process and says its pid: always
            // for an init that enters namespaces one by one, and for an
            // exec'd process of a rootless husk, which must join the
            // container's user namespace before its pid namespace.
            (Exchange::InitPid, route.intermediate),
            // Before the init makes its cgroup namespace, whose root must be
            // the container's cgroup.
            (Exchange::Placed, true),
            // Between the mounts and pivot_root (the spec's createRuntime).
            (Exchange::CreateHooks, init && route.runtime_create_hooks),
            // After the pivot: the pty is made from the container's devpts.
            (Exchange::Console, route.terminal),
            (Exchange::SeccompListener, route.seccomp_listener),
            (Exchange::Ready, init),
            (Exchange::Committed, init),
            (Exchange::Exec, !init),
        ];
        Script { exchanges: steps.into_iter().filter(|(_, on)| *on).map(|(e, _)| e).collect() }
    }

    pub fn has(&self, exchange: Exchange) -> bool {
        self.exchanges.contains(&exchange)
    }

    pub fn get(&self, index: usize) -> Option<Exchange> {
        self.exchanges.get(index).copied()
    }

    #[cfg(test)]
    pub fn exchanges(&self) -> &[Exchange] {
        &self.exchanges
    }
}

#[cfg(test)]
mod tests {
    use super::Exchange::*;
    use super::*;

    fn script(route: Route) -> Vec<Exchange> {
        Script::new(&route).exchanges().to_vec()
    }

    #[test]
    fn plain_init() {
        assert_eq!(script(Route::init()), [Placed, Ready, Committed]);
    }

    #[test]
    fn user_namespace_is_mapped_first() {
        let route = Route { creates_user_ns: true, ..Route::init() };
        assert_eq!(script(route), [IdMaps, Placed, Ready, Committed]);
    }

    #[test]
    fn intermediate_reports_the_init_after_mapping() {
        let route = Route { creates_user_ns: true, intermediate: true, ..Route::init() };
        assert_eq!(script(route), [IdMaps, InitPid, Placed, Ready, Committed]);
        let joining = Route { intermediate: true, ..Route::init() };
        assert_eq!(script(joining), [InitPid, Placed, Ready, Committed]);
    }

    #[test]
    fn hooks_terminal_and_listener_in_the_init() {
        let route = Route { runtime_create_hooks: true, terminal: true, seccomp_listener: true, ..Route::init() };
        assert_eq!(script(route), [Placed, CreateHooks, Console, SeccompListener, Ready, Committed]);
    }

    #[test]
    fn everything_at_once() {
        let route = Route {
            launching: Launching::Init,
            creates_user_ns: true,
            intermediate: true,
            runtime_create_hooks: true,
            terminal: true,
            seccomp_listener: true,
        };
        assert_eq!(script(route), [IdMaps, InitPid, Placed, CreateHooks, Console, SeccompListener, Ready, Committed]);
    }

    #[test]
    fn exec_joins_and_ends_in_execve() {
        assert_eq!(script(Route::exec()), [Placed, Exec]);
        let route = Route { terminal: true, seccomp_listener: true, ..Route::exec() };
        assert_eq!(script(route), [Placed, Console, SeccompListener, Exec]);
        // An exec'd process joins the container's user namespace, already
        // mapped, and runs no create hooks, whatever the plan says.
        let route = Route { creates_user_ns: true, runtime_create_hooks: true, ..Route::exec() };
        assert_eq!(script(route), [Placed, Exec]);
        // Rootless, it is forked by an intermediate inside that namespace.
        let route = Route { intermediate: true, ..Route::exec() };
        assert_eq!(script(route), [InitPid, Placed, Exec]);
    }
}
