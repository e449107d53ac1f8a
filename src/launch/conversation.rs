//! Walking the script, on either side. Each side keeps its place in the
//! script; a message that is not the next exchange's is refused with an
//! error naming both, and a step the script does not have is not taken.

use std::os::fd::{BorrowedFd, OwnedFd};

use super::LaunchError;
use super::channel::{ChannelError, Transport};
use super::message::{ChildSays, InitFailure, ParentSays};
use super::script::{Exchange, Script};

/// One side's place in the script, and its end of the channel.
pub struct Conversation<T> {
    script: Script,
    next: usize,
    /// The parent's side: the exchange the child opened and the parent has
    /// yet to answer.
    unanswered: Option<Exchange>,
    channel: T,
}

impl<T> Conversation<T> {
    pub fn new(script: Script, channel: T) -> Self {
        Conversation { script, next: 0, unanswered: None, channel }
    }

    /// The exchange due now, if any is left.
    pub fn due(&self) -> Option<Exchange> {
        self.script.get(self.next)
    }

    pub fn channel(&self) -> &T {
        &self.channel
    }

    /// Moves past `exchange`, which must be the one due.
    fn pass(&mut self, exchange: Exchange) -> Result<(), LaunchError> {
        match self.due() {
            Some(due) if due == exchange => {
                self.next += 1;
                Ok(())
            }
            due => Err(LaunchError::OutOfOrder { due, got: format!("{exchange:?}") }),
        }
    }
}

/// The cloned process's side.
impl<T: Transport<ChildSays, ParentSays>> Conversation<T> {
    /// Opens `exchange` (with the fd it carries) and waits for the parent's
    /// answer. A step the script does not have is skipped: the caller need
    /// not know the route.
    pub fn ask(&mut self, exchange: Exchange, fd: Option<BorrowedFd<'_>>) -> Result<(), LaunchError> {
        if !self.script.has(exchange) {
            return Ok(());
        }
        let opening = ChildSays::opening(exchange).ok_or(LaunchError::NotChildsToOpen(exchange))?;
        if exchange.carries_fd() != fd.is_some() {
            return Err(LaunchError::Fd { exchange, attached: fd.is_some() });
        }
        self.pass(exchange)?;
        self.channel.send(&opening, fd)?;
        self.answer(exchange)
    }

    /// Waits for the parent's part of an exchange it opens.
    pub fn wait_for(&mut self, exchange: Exchange) -> Result<(), LaunchError> {
        if !self.script.has(exchange) {
            return Ok(());
        }
        if exchange.child_opens() {
            return Err(LaunchError::NotParentsToOpen(exchange));
        }
        self.pass(exchange)?;
        self.answer(exchange)
    }

    /// Says something that needs no answer (the init's pid, ready).
    pub fn tell(&mut self, message: &ChildSays) -> Result<(), LaunchError> {
        let exchange = message.exchange().ok_or(LaunchError::NotScripted)?;
        self.pass(exchange)?;
        Ok(self.channel.send(message, None)?)
    }

    /// Moves past an exchange that another process took part in for us:
    /// the init's pid, which the intermediate said after forking it.
    pub fn passed(&mut self, exchange: Exchange) -> Result<(), LaunchError> {
        if self.script.has(exchange) { self.pass(exchange) } else { Ok(()) }
    }

    /// Reports a failed step; the process exits next.
    pub fn fail(&self, failure: InitFailure) {
        let _ = self.channel.send(&ChildSays::Failed(failure), None);
    }

    fn answer(&self, exchange: Exchange) -> Result<(), LaunchError> {
        let (message, _) = self.channel.recv()?;
        if message.exchange() == exchange {
            Ok(())
        } else {
            Err(LaunchError::OutOfOrder { due: Some(exchange), got: format!("{message:?}") })
        }
    }
}

/// The parent's side.
impl<T: Transport<ParentSays, ChildSays>> Conversation<T> {
    /// Receives the child's part of `exchange`, which must be due, with the
    /// fd it carries. A failure report becomes the child's error.
    pub fn receive(&mut self, exchange: Exchange) -> Result<(ChildSays, Option<OwnedFd>), LaunchError> {
        self.pass(exchange)?;
        let (message, fd) = match self.channel.recv() {
            Ok(received) => received,
            Err(ChannelError::Closed) => return Err(LaunchError::ChildExited { waiting_for: exchange }),
            Err(e) => return Err(e.into()),
        };
        if let ChildSays::Failed(failure) = message {
            return Err(LaunchError::Init(failure));
        }
        if message.exchange() != Some(exchange) {
            return Err(LaunchError::OutOfOrder { due: Some(exchange), got: format!("{message:?}") });
        }
        if exchange.carries_fd() && fd.is_none() {
            return Err(LaunchError::Fd { exchange, attached: false });
        }
        if ParentSays::of(exchange).is_some() {
            self.unanswered = Some(exchange);
        }
        Ok((message, fd))
    }

    /// Sends the parent's part of `exchange`: the answer to what the child
    /// opened (just received), or the opening of an exchange it waits for.
    pub fn reply(&mut self, exchange: Exchange) -> Result<(), LaunchError> {
        let message = ParentSays::of(exchange).ok_or(LaunchError::NotParentsToOpen(exchange))?;
        if exchange.child_opens() {
            if self.unanswered.take() != Some(exchange) {
                return Err(LaunchError::OutOfOrder { due: self.due(), got: format!("{message:?}") });
            }
        } else {
            self.pass(exchange)?;
        }
        Ok(self.channel.send(&message, None)?)
    }

    /// The end of an exec'd process's script: its end of the channel
    /// closes when execve succeeds (close-on-exec), or it reports a failure.
    pub fn await_exec(&mut self) -> Result<(), LaunchError> {
        self.pass(Exchange::Exec)?;
        match self.channel.recv() {
            Err(ChannelError::Closed) => Ok(()),
            Ok((ChildSays::Failed(failure), _)) => Err(LaunchError::Init(failure)),
            Ok((other, _)) => Err(LaunchError::OutOfOrder { due: Some(Exchange::Exec), got: format!("{other:?}") }),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;
    use crate::launch::script::Route;

    /// A channel end that replays what the other side says, in a given
    /// order, and records what this side sent.
    struct Replay<In> {
        incoming: RefCell<VecDeque<In>>,
        sent: RefCell<Vec<String>>,
    }

    impl<In> Replay<In> {
        fn new(incoming: Vec<In>) -> Self {
            Replay { incoming: RefCell::new(incoming.into()), sent: RefCell::new(Vec::new()) }
        }
    }

    impl<Out: std::fmt::Debug, In> Transport<Out, In> for Replay<In> {
        fn send(&self, message: &Out, fd: Option<BorrowedFd<'_>>) -> Result<(), ChannelError> {
            let with = if fd.is_some() { "+fd" } else { "" };
            self.sent.borrow_mut().push(format!("{message:?}{with}"));
            Ok(())
        }

        fn recv(&self) -> Result<(In, Option<OwnedFd>), ChannelError> {
            self.incoming.borrow_mut().pop_front().map(|m| (m, None)).ok_or(ChannelError::Closed)
        }
    }

    fn child(route: Route, parent_says: Vec<ParentSays>) -> Conversation<Replay<ParentSays>> {
        Conversation::new(Script::new(&route), Replay::new(parent_says))
    }

    fn parent(route: Route, child_says: Vec<ChildSays>) -> Conversation<Replay<ChildSays>> {
        Conversation::new(Script::new(&route), Replay::new(child_says))
    }

    fn devnull() -> std::fs::File {
        std::fs::File::open("/dev/null").unwrap()
    }

    #[test]
    fn the_child_walks_its_script_and_skips_what_is_not_in_it() {
        let route = Route { creates_user_ns: true, ..Route::init() };
        let mut side = child(route, vec![ParentSays::IdMapsWritten, ParentSays::Placed, ParentSays::Committed]);
        side.ask(Exchange::IdMaps, None).unwrap();
        side.wait_for(Exchange::Placed).unwrap();
        // Not in this route: nothing is sent or awaited.
        side.ask(Exchange::CreateHooks, None).unwrap();
        side.ask(Exchange::Console, Some(std::os::fd::AsFd::as_fd(&devnull()))).unwrap();
        side.tell(&ChildSays::Ready { timeline: Vec::new() }).unwrap();
        side.wait_for(Exchange::Committed).unwrap();
        assert_eq!(*side.channel().sent.borrow(), ["WriteIdMaps", "Ready { timeline: [] }"]);
        assert_eq!(side.due(), None);
    }

    #[test]
    fn the_child_refuses_an_answer_out_of_order() {
        // The parent says Placed where the id maps were due.
        let route = Route { creates_user_ns: true, ..Route::init() };
        let mut side = child(route, vec![ParentSays::Placed]);
        let error = side.ask(Exchange::IdMaps, None).unwrap_err();
        assert_eq!(error.to_string(), "launch: IdMaps was due, got Placed");
    }

    #[test]
    fn the_child_refuses_to_take_a_step_before_its_turn() {
        let route = Route { runtime_create_hooks: true, ..Route::init() };
        let mut side = child(route, vec![]);
        // Placed comes before the hooks.
        let error = side.ask(Exchange::CreateHooks, None).unwrap_err();
        assert_eq!(error.to_string(), "launch: Placed was due, got CreateHooks");
        assert!(side.channel().sent.borrow().is_empty(), "nothing sent out of order");
    }

    #[test]
    fn fds_go_with_the_exchanges_that_carry_them() {
        let route = Route { terminal: true, ..Route::exec() };
        let mut side = child(route, vec![ParentSays::Placed, ParentSays::ConsoleSent]);
        side.wait_for(Exchange::Placed).unwrap();
        let error = side.ask(Exchange::Console, None).unwrap_err();
        assert_eq!(error.to_string(), "launch: Console must carry an fd");
        side.ask(Exchange::Console, Some(std::os::fd::AsFd::as_fd(&devnull()))).unwrap();
        assert_eq!(*side.channel().sent.borrow(), ["Console+fd"]);
    }

    #[test]
    fn the_parent_refuses_a_message_out_of_order() {
        // The child asks for hooks before it was placed... as the parent
        // sees it: the hooks request arrives where the id maps were due.
        let route = Route { creates_user_ns: true, runtime_create_hooks: true, ..Route::init() };
        let mut side = parent(route, vec![ChildSays::RunCreateHooks]);
        let error = side.receive(Exchange::IdMaps).unwrap_err();
        assert_eq!(error.to_string(), "launch: IdMaps was due, got RunCreateHooks");
    }

    #[test]
    fn the_parent_cannot_skip_ahead() {
        let mut side = parent(Route::init(), vec![]);
        let error = side.receive(Exchange::Ready).unwrap_err();
        assert_eq!(error.to_string(), "launch: Placed was due, got Ready");
    }

    #[test]
    fn a_failure_report_is_the_childs_error() {
        let failure = InitFailure { step: "pivot root".into(), errno: Some(libc::EINVAL), message: "pivot_root: EINVAL".into() };
        let mut side = parent(Route::init(), vec![ChildSays::Failed(failure.clone())]);
        side.reply(Exchange::Placed).unwrap();
        match side.receive(Exchange::Ready).unwrap_err() {
            LaunchError::Init(got) => assert_eq!(got, failure),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_child_that_went_away_is_named_by_what_was_awaited() {
        let mut side = parent(Route::init(), vec![]);
        side.reply(Exchange::Placed).unwrap();
        let error = side.receive(Exchange::Ready).unwrap_err();
        assert_eq!(error.to_string(), "the container process exited before it was set up (waiting for Ready)");
    }

    #[test]
    fn a_whole_init_script_from_the_parent() {
        let route = Route { intermediate: true, creates_user_ns: true, terminal: true, ..Route::init() };
        let says = vec![ChildSays::WriteIdMaps, ChildSays::InitPid(42), ChildSays::Console, ChildSays::Ready { timeline: vec![] }];
        let mut side = parent(route, says);
        side.receive(Exchange::IdMaps).unwrap();
        side.reply(Exchange::IdMaps).unwrap();
        assert!(matches!(side.receive(Exchange::InitPid).unwrap().0, ChildSays::InitPid(42)));
        side.reply(Exchange::Placed).unwrap();
        // The replay attaches no fd: the parent insists on one.
        let error = side.receive(Exchange::Console).unwrap_err();
        assert_eq!(error.to_string(), "launch: Console must carry an fd");
    }

    #[test]
    fn the_parent_answers_only_what_was_asked() {
        let route = Route { runtime_create_hooks: true, ..Route::init() };
        let mut side = parent(route, vec![ChildSays::RunCreateHooks]);
        side.reply(Exchange::Placed).unwrap();
        let error = side.reply(Exchange::CreateHooks).unwrap_err();
        assert_eq!(error.to_string(), "launch: CreateHooks was due, got CreateHooksRan");
        side.receive(Exchange::CreateHooks).unwrap();
        side.reply(Exchange::CreateHooks).unwrap();
        assert!(side.reply(Exchange::CreateHooks).is_err(), "answered twice");
    }

    #[test]
    fn exec_ends_when_the_channel_closes() {
        let mut side = parent(Route::exec(), vec![]);
        side.reply(Exchange::Placed).unwrap();
        side.await_exec().unwrap();
        assert_eq!(*side.channel().sent.borrow(), ["Placed"]);
    }
}
