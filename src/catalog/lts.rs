//! The LTS side of the catalog (lts.md §3.2, §3.3, §6): log groups (projects) and log streams
//! (logstores) created and updated under LTS rules, in the same persisted entries the SLS calls
//! use. LTS names are 1–64 letters, digits, `_`, `-` or `.`, not starting with `.` or `_` and not
//! ending with `.`; retention is 1–365 days; an account holds at most `max_log_groups` groups and a
//! group at most `max_log_streams_per_group` streams (both 100 by default, as LTS documents). A
//! stream created without a ttl follows its group's ttl, also when the group's ttl changes later.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{keys, now_secs, to_json, Catalog, Logstore, Project};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// LTS tags: key → value, listed in key order.
pub type Tags = BTreeMap<String, String>;

/// Documented LTS ttl range, days.
const TTL_DAYS: std::ops::RangeInclusive<u32> = 1..=365;

/// How many log groups and log streams may exist.
#[derive(Debug, Clone, Copy)]
pub struct LtsQuotas {
    pub max_log_groups: usize,
    pub max_log_streams_per_group: usize,
}

/// LTS group and stream names (lts.md §6): 1–64 characters of letters, digits, `_`, `-`, `.`;
/// not starting with `.` or `_`, not ending with `.`. Errors are `ParameterInvalid` (`LTS.0009`).
pub fn check_lts_name(name: &str, what: &str) -> ApiResult<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let valid = (1..=64).contains(&name.chars().count())
        && name.chars().all(ok_char)
        && !name.starts_with(['.', '_'])
        && !name.ends_with('.');
    if valid {
        Ok(())
    } else {
        Err(ApiError::param(format!(
            "invalid {what} name {name:?}: 1-64 letters, digits, _, - or ., not starting with . or _ and not ending with ."
        )))
    }
}

pub fn check_lts_ttl(ttl: u32) -> ApiResult<()> {
    if TTL_DAYS.contains(&ttl) {
        Ok(())
    } else {
        Err(ApiError::param(format!("ttl_in_days {ttl} is out of range [1, 365]")))
    }
}

impl Catalog {
    /// CreateLogGroup: a project with an LTS name, a ttl and tags. Duplicate name →
    /// `ProjectAlreadyExist` (`LTS.0101`); over the quota → `ProjectQuotaExceed` (`LTS.0104`).
    pub fn create_log_group(&self, name: &str, ttl_days: u32, tags: Tags, quotas: LtsQuotas) -> ApiResult<Project> {
        check_lts_name(name, "log group")?;
        check_lts_ttl(ttl_days)?;
        self.mutate(|| {
            let groups = self.state.read().expect("catalog lock").len();
            if groups >= quotas.max_log_groups && self.project(name).is_err() {
                return Err(ApiError::new(
                    ErrorCode::ProjectQuotaExceed,
                    format!(
                        "Failed to create log group, the number of log groups exceeds the quota ({})",
                        quotas.max_log_groups
                    ),
                ));
            }
            self.insert_project(name, "", Some(ttl_days), tags.clone())
        })
    }

    /// UpdateLogGroup: a new ttl (and tags, when given); streams that follow the group's ttl take
    /// it too, in the same atomic catalog write.
    pub fn update_log_group(&self, name: &str, ttl_days: u32, tags: Option<Tags>) -> ApiResult<Project> {
        check_lts_ttl(ttl_days)?;
        self.mutate(|| {
            let mut project = self.project(name)?;
            project.ttl_days = Some(ttl_days);
            if let Some(tags) = &tags {
                project.tags = tags.clone();
            }
            project.last_modify_time = now_secs();
            let mut puts = vec![(keys::project_key(name), to_json(&project)?)];
            for ls in self.logstores(name)?.into_iter().filter(|ls| ls.ttl_inherited) {
                let mut ls = (*ls).clone();
                ls.settings.ttl = ttl_days;
                puts.push((keys::logstore_key(name, &ls.name), to_json(&ls)?));
            }
            self.commit(puts, vec![])?;
            Ok(project)
        })
    }

    /// CreateLogStream: a logstore with the default shard layout, its own ttl or the group's.
    /// Duplicate name → `LogStoreAlreadyExist` (`LTS.0205`); over the quota →
    /// `LogStoreQuotaExceed` (`LTS.0206`).
    pub fn create_log_stream(
        &self,
        group: &str,
        name: &str,
        ttl_days: Option<u32>,
        tags: Tags,
        quotas: LtsQuotas,
    ) -> ApiResult<Arc<Logstore>> {
        check_lts_name(name, "log stream")?;
        if let Some(ttl) = ttl_days {
            check_lts_ttl(ttl)?;
        }
        self.mutate(|| {
            let project = self.project(group)?;
            let streams = self.logstores(group)?.len();
            if streams >= quotas.max_log_streams_per_group && self.logstore(group, name).is_err() {
                return Err(ApiError::new(
                    ErrorCode::LogStoreQuotaExceed,
                    format!(
                        "Failed to create log stream, the number of Log streams exceeds the quota ({})",
                        quotas.max_log_streams_per_group
                    ),
                ));
            }
            let inherited = ttl_days.is_none();
            let ttl = ttl_days.or(project.ttl_days).unwrap_or(self.config.default_ttl_days);
            let settings = super::LogstoreSettings { ttl, ..self.default_settings() };
            self.insert_logstore(group, name, settings, inherited, tags.clone())
        })
    }

    /// UpdateLogStream (`streams-ttl`): the stream's own ttl from now on (and tags, when given).
    pub fn update_log_stream(
        &self,
        group: &str,
        name: &str,
        ttl_days: u32,
        tags: Option<Tags>,
    ) -> ApiResult<Arc<Logstore>> {
        check_lts_ttl(ttl_days)?;
        self.mutate(|| {
            let mut ls = (*self.logstore(group, name)?).clone();
            ls.settings.ttl = ttl_days;
            ls.ttl_inherited = false;
            if let Some(tags) = &tags {
                ls.tags = tags.clone();
            }
            ls.last_modify_time = now_secs();
            self.save_logstore(ls)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CatalogConfig;
    use crate::store::RocksStore;

    const QUOTAS: LtsQuotas = LtsQuotas { max_log_groups: 2, max_log_streams_per_group: 2 };

    fn open(dir: &std::path::Path) -> Catalog {
        let store = RocksStore::open(dir).unwrap();
        Catalog::load(store, CatalogConfig::default()).unwrap()
    }

    #[test]
    fn lts_names_follow_the_documented_rules() {
        for ok in ["g", "lts-group-01nh", "Group_1.a", &"a".repeat(64)] {
            assert!(check_lts_name(ok, "log group").is_ok(), "{ok}");
        }
        for bad in ["", ".g", "_g", "g.", "g/h", "g h", "日志", &"a".repeat(65)] {
            assert_eq!(check_lts_name(bad, "log group").unwrap_err().code, ErrorCode::ParameterInvalid, "{bad}");
        }
        assert!(check_lts_ttl(1).is_ok() && check_lts_ttl(365).is_ok());
        assert!(check_lts_ttl(0).is_err() && check_lts_ttl(366).is_err());
    }

    #[test]
    fn quotas_duplicates_and_ttl_inheritance_survive_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let c = open(dir.path());
            c.create_log_group("Group.A", 7, Tags::new(), QUOTAS).unwrap();
            assert_eq!(
                c.create_log_group("Group.A", 7, Tags::new(), QUOTAS).unwrap_err().code,
                ErrorCode::ProjectAlreadyExist
            );
            c.create_log_group("group-b", 7, Tags::new(), QUOTAS).unwrap();
            assert_eq!(
                c.create_log_group("group-c", 7, Tags::new(), QUOTAS).unwrap_err().code,
                ErrorCode::ProjectQuotaExceed
            );
            let follows = c.create_log_stream("Group.A", "follows", None, Tags::new(), QUOTAS).unwrap();
            assert_eq!((follows.settings.ttl, follows.ttl_inherited), (7, true));
            let own = c.create_log_stream("Group.A", "own", Some(30), Tags::new(), QUOTAS).unwrap();
            assert_eq!((own.settings.ttl, own.ttl_inherited), (30, false));
            let err = c.create_log_stream("Group.A", "third", None, Tags::new(), QUOTAS).unwrap_err();
            assert_eq!(err.code, ErrorCode::LogStoreQuotaExceed);
            let err = c.create_log_stream("Group.A", "own", None, Tags::new(), QUOTAS).unwrap_err();
            assert_eq!(err.code, ErrorCode::LogStoreAlreadyExist);
            assert_eq!(
                c.create_log_stream("nope", "x", None, Tags::new(), QUOTAS).unwrap_err().code,
                ErrorCode::ProjectNotExist
            );
            let tags = Tags::from([("team".to_string(), "core".to_string())]);
            c.update_log_group("Group.A", 14, Some(tags)).unwrap();
        }
        let c = open(dir.path());
        let group = c.project("Group.A").unwrap();
        assert_eq!((group.ttl_days, group.tags.get("team").map(String::as_str)), (Some(14), Some("core")));
        assert_eq!(c.logstore("Group.A", "follows").unwrap().settings.ttl, 14, "follows the group");
        assert_eq!(c.logstore("Group.A", "own").unwrap().settings.ttl, 30, "keeps its own");
        let ls = c.update_log_stream("Group.A", "follows", 3, None).unwrap();
        assert_eq!((ls.settings.ttl, ls.ttl_inherited), (3, false));
        c.update_log_group("Group.A", 20, None).unwrap();
        assert_eq!(c.logstore("Group.A", "follows").unwrap().settings.ttl, 3, "no longer follows");
        assert_eq!(c.update_log_group("Group.A", 400, None).unwrap_err().code, ErrorCode::ParameterInvalid);
    }
}
