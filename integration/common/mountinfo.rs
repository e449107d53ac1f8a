//! Mount lists of two otherwise identical containers, made comparable.

/// One line of /proc/self/mountinfo, with what differs between two
/// otherwise identical mount namespaces taken out: the mount ids (the parent
/// is named by its mount point instead), the device numbers, and the peer
/// group numbers of the propagation tags (their kinds are kept).
///
/// For cgroup mounts the mount root and the super-block options are left
/// out too: they name the container's cgroup, whose path each runtime
/// chooses. Everything else — including the root of every other mount, its
/// source and its super-block options — is compared.
pub fn normalise_mounts(lines: &[String]) -> Vec<String> {
    let parsed: Vec<Vec<&str>> = lines.iter().map(|l| l.split(' ').collect()).collect();
    let point_of = |id: &str| parsed.iter().find(|f| f[0] == id).map(|f| f[4].to_string());
    parsed
        .iter()
        .map(|f| {
            let Some(dash) = f.iter().position(|x| *x == "-") else {
                return format!("unparsable mountinfo line: {}", f.join(" "));
            };
            let (point, options) = (f[4], f[5]);
            let parent = point_of(f[1]).unwrap_or_else(|| "(outside)".into());
            let tags: Vec<&str> = f[6..dash].iter().map(|t| t.split(':').next().unwrap_or(t)).collect();
            let (fstype, source, super_options) = (f[dash + 1], f[dash + 2], f.get(dash + 3).copied().unwrap_or(""));
            let cgroup = fstype == "cgroup" || fstype == "cgroup2";
            let root = if cgroup { "(cgroup root)" } else { f[3] };
            let super_options = if cgroup { "(cgroup options)" } else { super_options };
            format!(
                "{point} parent={parent} root={root} opts={options} tags=[{}] type={fstype} source={source} super={super_options}",
                tags.join(",")
            )
        })
        .collect()
}
