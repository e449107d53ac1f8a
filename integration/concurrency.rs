//! Many containers at once: distinct ids in one state root, created,
//! started and deleted in parallel, with `list` consistent throughout.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::collections::BTreeSet;

const COUNT: usize = 20;

fn listed(b: &Bundle) -> BTreeSet<String> {
    let out = b.husk(&["list", "-q"]);
    assert!(out.status.success(), "list: {}", text(&out.stderr));
    text(&out.stdout).lines().map(String::from).collect()
}

#[test]
fn twenty_containers_in_parallel() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let ids: Vec<String> = (0..COUNT).map(|i| b.id(&format!("par{i}"))).collect();
    let b = &b;

    std::thread::scope(|s| {
        for id in &ids {
            s.spawn(move || {
                let out = b.husk(&["create", id]);
                assert!(out.status.success(), "create {id}: {}", text(&out.stderr));
                // list never shows a half-made container or an error.
                let seen = listed(b);
                assert!(seen.contains(id.as_str()));
                let out = b.husk(&["start", id]);
                assert!(out.status.success(), "start {id}: {}", text(&out.stderr));
            });
        }
    });
    let all: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(listed(b), all);
    let out = b.husk(&["list", "-f", "json"]);
    let states: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(states.as_array().unwrap().iter().all(|c| c["status"] == "running"), "{states}");

    std::thread::scope(|s| {
        for id in &ids {
            s.spawn(move || {
                let out = b.husk(&["delete", "--force", id]);
                assert!(out.status.success(), "delete {id}: {}", text(&out.stderr));
            });
        }
    });
    assert!(listed(b).is_empty());
}

#[test]
fn same_id_raced_by_many_creates_only_once() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let id = b.id("contended");
    let b = &b;
    let winners: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| b.husk(&["create", &id]).status.success() as usize))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(winners, 1);
    assert_eq!(b.state(&id)["status"], "created");
}
