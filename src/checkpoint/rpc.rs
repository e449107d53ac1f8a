//! CRIU's RPC messages (`proto/rpc.proto`, proto2), as prost derives: the
//! ones husk sends and reads, with the fields it uses. Written by hand from
//! the vendored file rather than generated, so that the build needs neither
//! protoc nor a code generator; the test at the end checks each field's
//! name, label, type and tag against the file.

#![allow(clippy::enum_variant_names)]

/// criu_req_type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum CriuReqType {
    Empty = 0,
    Dump = 1,
    Restore = 2,
    Check = 3,
    PreDump = 4,
    PageServer = 5,
    Notify = 6,
    CpuinfoDump = 7,
    CpuinfoCheck = 8,
    FeatureCheck = 9,
    Version = 10,
    WaitPid = 11,
    PageServerChld = 12,
}

impl CriuReqType {
    /// The name as runc prints it in "criu failed: type DUMP errno 0".
    pub fn name(self) -> &'static str {
        match self {
            CriuReqType::Empty => "EMPTY",
            CriuReqType::Dump => "DUMP",
            CriuReqType::Restore => "RESTORE",
            CriuReqType::Check => "CHECK",
            CriuReqType::PreDump => "PRE_DUMP",
            CriuReqType::PageServer => "PAGE_SERVER",
            CriuReqType::Notify => "NOTIFY",
            CriuReqType::CpuinfoDump => "CPUINFO_DUMP",
            CriuReqType::CpuinfoCheck => "CPUINFO_CHECK",
            CriuReqType::FeatureCheck => "FEATURE_CHECK",
            CriuReqType::Version => "VERSION",
            CriuReqType::WaitPid => "WAIT_PID",
            CriuReqType::PageServerChld => "PAGE_SERVER_CHLD",
        }
    }
}

/// criu_cg_mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum CriuCgMode {
    Ignore = 0,
    CgNone = 1,
    Props = 2,
    Soft = 3,
    Full = 4,
    Strict = 5,
    Default = 6,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuPageServerInfo {
    #[prost(string, optional, tag = "1")]
    pub address: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub port: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub pid: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    pub fd: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtMountMap {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(string, required, tag = "2")]
    pub val: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct JoinNamespace {
    #[prost(string, required, tag = "1")]
    pub ns: String,
    #[prost(string, required, tag = "2")]
    pub ns_file: String,
    #[prost(string, optional, tag = "3")]
    pub extra_opt: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct InheritFd {
    #[prost(string, required, tag = "1")]
    pub key: String,
    #[prost(int32, required, tag = "2")]
    pub fd: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CgroupRoot {
    #[prost(string, optional, tag = "1")]
    pub ctrl: Option<String>,
    #[prost(string, required, tag = "2")]
    pub path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuOpts {
    #[prost(int32, required, tag = "1")]
    pub images_dir_fd: i32,
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
    #[prost(bool, optional, tag = "3")]
    pub leave_running: Option<bool>,
    #[prost(bool, optional, tag = "4")]
    pub ext_unix_sk: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub tcp_established: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub evasive_devices: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    pub shell_job: Option<bool>,
    #[prost(bool, optional, tag = "8")]
    pub file_locks: Option<bool>,
    #[prost(int32, optional, tag = "9")]
    pub log_level: Option<i32>,
    #[prost(string, optional, tag = "10")]
    pub log_file: Option<String>,
    #[prost(message, optional, tag = "11")]
    pub ps: Option<CriuPageServerInfo>,
    #[prost(bool, optional, tag = "12")]
    pub notify_scripts: Option<bool>,
    #[prost(string, optional, tag = "13")]
    pub root: Option<String>,
    #[prost(string, optional, tag = "14")]
    pub parent_img: Option<String>,
    #[prost(bool, optional, tag = "15")]
    pub track_mem: Option<bool>,
    #[prost(bool, optional, tag = "16")]
    pub auto_dedup: Option<bool>,
    #[prost(int32, optional, tag = "17")]
    pub work_dir_fd: Option<i32>,
    #[prost(bool, optional, tag = "18")]
    pub link_remap: Option<bool>,
    #[prost(message, repeated, tag = "23")]
    pub ext_mnt: Vec<ExtMountMap>,
    #[prost(bool, optional, tag = "24")]
    pub manage_cgroups: Option<bool>,
    #[prost(message, repeated, tag = "25")]
    pub cg_root: Vec<CgroupRoot>,
    #[prost(bool, optional, tag = "26")]
    pub rst_sibling: Option<bool>,
    #[prost(message, repeated, tag = "27")]
    pub inherit_fd: Vec<InheritFd>,
    #[prost(enumeration = "CriuCgMode", optional, tag = "34")]
    pub manage_cgroups_mode: Option<i32>,
    #[prost(string, repeated, tag = "37")]
    pub external: Vec<String>,
    #[prost(uint32, optional, tag = "38")]
    pub empty_ns: Option<u32>,
    #[prost(message, repeated, tag = "39")]
    pub join_ns: Vec<JoinNamespace>,
    #[prost(string, optional, tag = "44")]
    pub freeze_cgroup: Option<String>,
    #[prost(bool, optional, tag = "46")]
    pub tcp_skip_in_flight: Option<bool>,
    #[prost(bool, optional, tag = "48")]
    pub lazy_pages: Option<bool>,
    #[prost(int32, optional, tag = "49")]
    pub status_fd: Option<i32>,
    #[prost(bool, optional, tag = "50")]
    pub orphan_pts_master: Option<bool>,
    #[prost(string, optional, tag = "51")]
    pub config_file: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuDumpResp {
    #[prost(bool, optional, tag = "1")]
    pub restored: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuRestoreResp {
    #[prost(int32, required, tag = "1")]
    pub pid: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuNotify {
    #[prost(string, optional, tag = "1")]
    pub script: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuFeatures {
    #[prost(bool, optional, tag = "1")]
    pub mem_track: Option<bool>,
    #[prost(bool, optional, tag = "2")]
    pub lazy_pages: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuReq {
    #[prost(enumeration = "CriuReqType", required, tag = "1")]
    pub r#type: i32,
    #[prost(message, optional, tag = "2")]
    pub opts: Option<CriuOpts>,
    #[prost(bool, optional, tag = "3")]
    pub notify_success: Option<bool>,
    #[prost(bool, optional, tag = "4")]
    pub keep_open: Option<bool>,
    #[prost(message, optional, tag = "5")]
    pub features: Option<CriuFeatures>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuResp {
    #[prost(enumeration = "CriuReqType", required, tag = "1")]
    pub r#type: i32,
    #[prost(bool, required, tag = "2")]
    pub success: bool,
    #[prost(message, optional, tag = "3")]
    pub dump: Option<CriuDumpResp>,
    #[prost(message, optional, tag = "4")]
    pub restore: Option<CriuRestoreResp>,
    #[prost(message, optional, tag = "5")]
    pub notify: Option<CriuNotify>,
    #[prost(int32, optional, tag = "7")]
    pub cr_errno: Option<i32>,
    #[prost(message, optional, tag = "8")]
    pub features: Option<CriuFeatures>,
    #[prost(string, optional, tag = "9")]
    pub cr_errmsg: Option<String>,
    #[prost(message, optional, tag = "10")]
    pub version: Option<CriuVersion>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuVersion {
    #[prost(int32, required, tag = "1")]
    pub major_number: i32,
    #[prost(int32, required, tag = "2")]
    pub minor_number: i32,
    #[prost(string, optional, tag = "3")]
    pub gitid: Option<String>,
    #[prost(int32, optional, tag = "4")]
    pub sublevel: Option<i32>,
    #[prost(int32, optional, tag = "5")]
    pub extra: Option<i32>,
    #[prost(string, optional, tag = "6")]
    pub name: Option<String>,
}

impl CriuVersion {
    /// As runc compares it: 3.17.1 is 31701.
    pub fn number(&self) -> i32 {
        self.major_number * 10000 + self.minor_number * 100 + self.sublevel.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use prost::Message;

    use super::*;

    const PROTO: &str = include_str!("proto/rpc.proto");
    const SOURCE: &str = include_str!("rpc.rs");

    /// (message, field) -> (label, type, tag) of the vendored rpc.proto;
    /// message and enum types are "message" and "enum:NAME".
    fn proto_fields() -> BTreeMap<(String, String), (String, String, u32)> {
        let enums: Vec<&str> = PROTO.lines().filter_map(|l| l.strip_prefix("enum ")?.split_whitespace().next()).collect();
        let mut fields = BTreeMap::new();
        let mut message = String::new();
        for line in PROTO.lines() {
            if let Some(name) = line.strip_prefix("message ") {
                message = name.trim_end_matches(['{', ' ']).to_string();
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() >= 5 && ["optional", "required", "repeated"].contains(&words[0]) && words[3] == "=" {
                let tag: u32 = words[4].trim_end_matches(';').parse().unwrap();
                let kind = match words[1] {
                    t @ ("int32" | "uint32" | "bool" | "string") => t.to_string(),
                    t if enums.contains(&t) => format!("enum:{t}"),
                    _ => "message".to_string(),
                };
                fields.insert((message.clone(), words[2].to_string()), (words[0].to_string(), kind, tag));
            }
        }
        fields
    }

    fn snake(camel: &str) -> String {
        let mut out = String::new();
        for (i, c) in camel.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn every_field_matches_rpc_proto() {
        let proto = proto_fields();
        let mut checked = 0;
        let mut message = String::new();
        let mut attribute: Option<String> = None;
        for line in SOURCE.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix("pub struct ") {
                message = snake(name.trim_end_matches(" {"));
            } else if let Some(attr) = line.strip_prefix("#[prost(") {
                attribute = Some(attr.trim_end_matches(")]").to_string());
            } else if let (Some(attr), Some(field)) = (attribute.take(), line.strip_prefix("pub ")) {
                let name = field.split(':').next().unwrap().trim_start_matches("r#");
                let parts: Vec<&str> = attr.split(", ").collect();
                let kind = match parts[0].strip_prefix("enumeration = ") {
                    Some(e) => format!("enum:{}", snake(e.trim_matches('"'))),
                    None => parts[0].to_string(),
                };
                let tag: u32 = parts[2].trim_start_matches("tag = ").trim_matches('"').parse().unwrap();
                let expected = proto.get(&(message.clone(), name.to_string()));
                assert_eq!(expected, Some(&(parts[1].to_string(), kind, tag)), "{message}.{name}");
                checked += 1;
            }
        }
        assert!(checked > 60, "only {checked} fields found");
    }

    #[test]
    fn a_notify_as_criu_sends_it() {
        // criu_resp{type: NOTIFY, success: true, notify{script: "post-restore", pid: 4242}}
        let mut wire = vec![0x08, 0x06, 0x10, 0x01, 0x2a, 0x11, 0x0a, 0x0c];
        wire.extend_from_slice(b"post-restore");
        wire.extend_from_slice(&[0x10, 0x92, 0x21]);
        let resp = CriuResp::decode(wire.as_slice()).unwrap();
        assert_eq!(resp.r#type(), CriuReqType::Notify);
        assert!(resp.success);
        let notify = resp.notify.unwrap();
        assert_eq!(notify.script.as_deref(), Some("post-restore"));
        assert_eq!(notify.pid, Some(4242));
    }

    #[test]
    fn a_version_request_and_answer() {
        let req = CriuReq { r#type: CriuReqType::Version as i32, ..Default::default() };
        assert_eq!(req.encode_to_vec(), [0x08, 0x0a]);
        // criu_resp{type: VERSION, success: true, version{3, 17, sublevel 1}}
        let wire = [0x08, 0x0a, 0x10, 0x01, 0x52, 0x06, 0x08, 0x03, 0x10, 0x11, 0x20, 0x01];
        let resp = CriuResp::decode(wire.as_slice()).unwrap();
        assert_eq!(resp.version.unwrap().number(), 31701);
    }
}
