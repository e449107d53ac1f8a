use serde_json::json;

use super::*;

fn process(fields: Value) -> Process {
    let mut value = json!({"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}});
    for (k, v) in fields.as_object().unwrap() {
        value[k] = v.clone();
    }
    normalize(&mut value, "process.").expect("normalizes");
    serde_json::from_value(value).expect("a process")
}

fn host() -> Topology {
    Topology { online_cpus: vec![0, 1], memory_nodes: vec![0] }
}

fn tuning(fields: Value) -> Result<Tuning, Invalid> {
    let p = process(fields);
    convert(&Sources { process: &p, process_prefix: "process.", personality: None, memory_policy: None, exec: true }, Some(&host()))
}

fn error(fields: Value) -> String {
    let (field, problem) = tuning(fields).expect_err("refused");
    format!("{field}: {problem}")
}

fn policy(value: Value) -> Result<MemoryPolicy, Invalid> {
    let m: LinuxMemoryPolicy = serde_json::from_value(value).unwrap();
    memory_policy(&m, Some(&host()))
}

#[test]
fn scheduler_converts_as_sched_attr() {
    let t = tuning(json!({"scheduler": {"policy": "SCHED_BATCH", "nice": 19}})).unwrap();
    let attr = t.scheduler.unwrap();
    assert_eq!((attr.size, attr.policy, attr.nice, attr.priority, attr.flags), (56, 3, 19, 0, 0));
    let t = tuning(json!({"scheduler": {"policy": "SCHED_FIFO", "priority": 10,
        "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_UTIL_CLAMP_MAX"]}}))
    .unwrap();
    let attr = t.scheduler.unwrap();
    assert_eq!((attr.policy, attr.priority, attr.flags), (1, 10, 0x01 | 0x04 | 0x40));
    // runc's own test config: a nice with SCHED_DEADLINE is accepted.
    let t = tuning(json!({"scheduler": {"policy": "SCHED_DEADLINE", "nice": 19, "priority": 0,
        "runtime": 42000, "deadline": 1000000, "period": 1000000}}))
    .unwrap();
    let attr = t.scheduler.unwrap();
    assert_eq!((attr.policy, attr.runtime, attr.deadline, attr.period), (6, 42000, 1_000_000, 1_000_000));
}

#[test]
fn every_spec_flag_name_is_known() {
    for (name, flag) in SCHED_FLAGS {
        let t = tuning(json!({"scheduler": {"policy": "SCHED_OTHER", "flags": [name]}})).unwrap();
        assert_eq!(t.scheduler.unwrap().flags, flag_bit(flag), "{name}");
    }
}

#[test]
fn bad_scheduler_values_name_their_field() {
    let mut value = json!({"scheduler": {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_NOPE"]}});
    let (field, problem) = normalize(&mut value, "process.").unwrap_err();
    assert_eq!(field, "process.scheduler.flags[0]");
    assert!(problem.contains("SCHED_FLAG_NOPE"), "{problem}");
    assert_eq!(error(json!({"scheduler": {"policy": "SCHED_OTHER", "nice": 20}})), "process.scheduler.nice: 20 is out of range (-20 to 19)");
    assert_eq!(error(json!({"scheduler": {"policy": "SCHED_BATCH", "nice": -21}})), "process.scheduler.nice: -21 is out of range (-20 to 19)");
    assert!(error(json!({"scheduler": {"policy": "SCHED_FIFO"}})).starts_with("process.scheduler.priority: 0 is out of range"));
    assert!(error(json!({"scheduler": {"policy": "SCHED_RR", "priority": 100}})).starts_with("process.scheduler.priority: 100"));
    assert_eq!(
        error(json!({"scheduler": {"policy": "SCHED_OTHER", "priority": 1}})),
        "process.scheduler.priority: can only be set for SCHED_FIFO or SCHED_RR"
    );
    assert!(error(json!({"scheduler": {"policy": "SCHED_OTHER", "runtime": 1}})).starts_with("process.scheduler: runtime, deadline"));
    assert!(error(json!({"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 2000}})).starts_with("process.scheduler.deadline"));
    assert!(error(json!({"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 100, "deadline": 2000}})).starts_with("process.scheduler.runtime"));
    assert!(error(json!({"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 3000, "deadline": 2000}})).starts_with("process.scheduler.runtime: 3000 is above"));
    assert!(error(json!({"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 2000, "deadline": 3000, "period": 2500}}))
        .starts_with("process.scheduler.period: 2500 is below"));
}

#[test]
fn io_priority_packs_class_and_level() {
    let t = tuning(json!({"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}})).unwrap();
    assert_eq!(t.io_priority, Some(3 << 13));
    let t = tuning(json!({"ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 7}})).unwrap();
    assert_eq!(t.io_priority, Some(1 << 13 | 7));
    let t = tuning(json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4}})).unwrap();
    assert_eq!(t.io_priority, Some(2 << 13 | 4));
    assert_eq!(error(json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}})), "process.ioPriority.priority: 8 is out of range (0 to 7)");
    let mut missing = json!({"ioPriority": {"priority": 1}});
    assert_eq!(normalize(&mut missing, "").unwrap_err(), ("ioPriority.class".to_string(), "is required".to_string()));
}

#[test]
fn exec_cpu_affinity_is_checked_against_the_host() {
    let t = tuning(json!({"execCPUAffinity": {"initial": "0-1", "final": "1"}})).unwrap();
    assert_eq!((t.initial_cpus, t.final_cpus), (Some(vec![0, 1]), Some(vec![1])));
    let t = tuning(json!({"execCPUAffinity": {"initial": "", "final": ""}})).unwrap();
    assert_eq!((t.initial_cpus, t.final_cpus), (None, None), "empty is as good as none");
    assert_eq!(error(json!({"execCPUAffinity": {"final": "0,2"}})), "process.execCPUAffinity.final: CPU 2 is not online (online: 0-1)");
    assert_eq!(
        error(json!({"execCPUAffinity": {"initial": "1024"}})),
        "process.execCPUAffinity.initial: CPU 1024 is out of range (at most 1023)"
    );
    assert!(error(json!({"execCPUAffinity": {"initial": "1-0"}})).contains("downwards"));
    let p = process(json!({"execCPUAffinity": {"final": "7"}}));
    let unknown = Topology { online_cpus: vec![], memory_nodes: vec![0] };
    let t = convert(&Sources { process: &p, process_prefix: "", personality: None, memory_policy: None, exec: true }, Some(&unknown)).unwrap();
    assert_eq!(t.final_cpus, Some(vec![7]), "a host that lists no CPU leaves the check to the kernel");
    // The init keeps its affinity: the spec leaves it out.
    let p = process(json!({"execCPUAffinity": {"initial": "0"}}));
    let t = convert(&Sources { process: &p, process_prefix: "process.", personality: None, memory_policy: None, exec: false }, None).unwrap();
    assert_eq!(t.initial_cpus, None);
}

#[test]
fn cpu_sets() {
    let set = cpu_set(&[0, 3]).unwrap();
    assert!(set.is_set(0).unwrap() && set.is_set(3).unwrap() && !set.is_set(1).unwrap());
    let all = all_cpus();
    assert!((0..CpuSet::count()).all(|c| all.is_set(c).unwrap()));
}

#[test]
fn personality_domains() {
    let p = process(json!({}));
    let per = |domain: &str| {
        let per: LinuxPersonality = serde_json::from_value(json!({"domain": domain})).unwrap();
        convert(&Sources { process: &p, process_prefix: "process.", personality: Some(&per), memory_policy: None, exec: false }, None)
            .unwrap()
            .personality
    };
    assert_eq!(per("LINUX"), Some(0));
    assert_eq!(per("LINUX32"), Some(8));
    assert!(serde_json::from_value::<LinuxPersonality>(json!({"domain": "LINUX64"})).is_err());
}

#[test]
fn memory_policies() {
    assert_eq!(policy(json!({"mode": "MPOL_DEFAULT"})).unwrap(), MemoryPolicy { mode: 0, nodemask: vec![] });
    assert_eq!(policy(json!({"mode": "MPOL_BIND", "nodes": "0"})).unwrap(), MemoryPolicy { mode: 2, nodemask: vec![1] });
    assert_eq!(
        policy(json!({"mode": "MPOL_INTERLEAVE", "nodes": "2-3,65", "flags": ["MPOL_F_STATIC_NODES"]})).unwrap(),
        MemoryPolicy { mode: 3 | 1 << 15, nodemask: vec![0b1100, 0b10] }
    );
    assert_eq!(policy(json!({"mode": "MPOL_PREFERRED"})).unwrap().mode, 1);
    assert_eq!(policy(json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]})).unwrap().mode, 2 | 1 << 13);
    assert_eq!(policy(json!({"mode": "MPOL_WEIGHTED_INTERLEAVE", "nodes": "0"})).unwrap().mode, 6);
    assert_eq!(policy(json!({"mode": "MPOL_PREFERRED_MANY", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]})).unwrap().mode, 5 | 1 << 14);
    let refused = |value: Value| {
        let (field, problem) = policy(value).unwrap_err();
        format!("{field}: {problem}")
    };
    assert_eq!(refused(json!({"mode": "MPOL_BIND", "nodes": "1"})), "linux.memoryPolicy.nodes: node 1 does not exist (the host's memory nodes: 0)");
    assert_eq!(refused(json!({"mode": "MPOL_BIND"})), "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node");
    assert_eq!(refused(json!({"mode": "MPOL_LOCAL", "nodes": "0"})), "linux.memoryPolicy.nodes: must be empty with MPOL_LOCAL");
    assert!(refused(json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}))
        .starts_with("linux.memoryPolicy.flags: "));
    assert!(refused(json!({"mode": "MPOL_BIND", "nodes": "x"})).starts_with("linux.memoryPolicy.nodes: \"x\""));
    assert!(refused(json!({"mode": "MPOL_BIND", "nodes": "1024", "flags": ["MPOL_F_STATIC_NODES"]})).contains("out of range"));
}

#[test]
fn features_name_what_convert_takes() {
    let (modes, flags) = memory_policy_names();
    assert_eq!(modes.len(), 7);
    for mode in &modes {
        let nodes = if mode == "MPOL_DEFAULT" || mode == "MPOL_LOCAL" { json!(null) } else { json!("0") };
        assert!(policy(json!({"mode": mode, "nodes": nodes})).is_ok(), "{mode}");
    }
    assert_eq!(flags, ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]);
}
