//! LTS dumps in the catalog (lts.md §3.5): a dump's definition and its export progress, one JSON
//! entry `d/<dump uuid>` in the `meta` column family, fsynced like every catalog write. Dumps are
//! few and read only by management calls and the export pass, so they are not cached: each call
//! scans the `d/` prefix.
//!
//! Invariants kept here, under the catalog's mutation lock: a dump's log group and log streams
//! exist while the dump does (deleting them is refused with `LTS.0105` / `LTS.0207`, in both
//! dialects), a log stream is exported by at most one dump (`LTS.0207`), and a dump's progress
//! only moves forward and is never written for a deleted dump.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{keys, to_json, Catalog};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// How exported logs are written (`storage_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DumpFormat {
    #[serde(rename = "RAW")]
    Raw,
    #[serde(rename = "JSON")]
    Json,
}

impl DumpFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DumpFormat::Raw => "RAW",
            DumpFormat::Json => "JSON",
        }
    }
}

/// `period_unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodUnit {
    Min,
    Hour,
}

impl PeriodUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodUnit::Min => "min",
            PeriodUnit::Hour => "hour",
        }
    }

    pub fn secs(self) -> u64 {
        match self {
            PeriodUnit::Min => 60,
            PeriodUnit::Hour => 3600,
        }
    }
}

/// A periodic export of some log streams of one log group to a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dump {
    pub id: Uuid,
    pub group_id: Uuid,
    pub stream_ids: Vec<Uuid>,
    pub bucket: String,
    pub format: DumpFormat,
    pub switch_on: bool,
    pub prefix_name: String,
    pub dir_prefix_name: String,
    pub period: u32,
    pub period_unit: PeriodUnit,
    /// Unix seconds.
    pub create_time: u64,
    /// Unix seconds: the end of the last exported window (windows are aligned to the period, so
    /// this is a multiple of it). Logs received at or after it are not exported yet.
    pub exported_until: u64,
}

impl Dump {
    pub fn period_secs(&self) -> u64 {
        self.period as u64 * self.period_unit.secs()
    }
}

impl Catalog {
    /// Every dump, in id order.
    pub fn dumps(&self) -> ApiResult<Vec<Dump>> {
        let entries = self.store.meta_scan(keys::DUMP_PREFIX).map_err(ApiError::internal)?;
        entries.iter().map(|(_, v)| serde_json::from_slice(v).map_err(ApiError::internal)).collect()
    }

    pub fn dump(&self, id: Uuid) -> ApiResult<Dump> {
        self.dumps()?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| ApiError::new(ErrorCode::DumpNotExist, format!("The log transfer does not existed: {id}")))
    }

    /// Persists a new dump whose options the caller has validated, once its group and streams
    /// exist (`LTS.0201` / `LTS.0208`) and none of the streams is exported by another dump
    /// (`LTS.0207`).
    pub fn create_dump(&self, dump: Dump) -> ApiResult<Dump> {
        self.mutate(|| {
            let group = self.project_by_id(dump.group_id)?;
            for stream in &dump.stream_ids {
                self.logstore_by_id(&group.name, *stream)?;
            }
            for other in self.dumps()? {
                if let Some(taken) = dump.stream_ids.iter().find(|s| other.stream_ids.contains(s)) {
                    return Err(stream_in_dump(*taken));
                }
            }
            self.commit(vec![(keys::dump_key(dump.id), to_json(&dump)?)], vec![])?;
            Ok(dump.clone())
        })
    }

    /// Deletes a dump; returns it as it was. Files already exported stay in the bucket.
    pub fn delete_dump(&self, id: Uuid) -> ApiResult<Dump> {
        self.mutate(|| {
            let dump = self.dump(id)?;
            self.commit(vec![], vec![keys::dump_key(id)])?;
            Ok(dump)
        })
    }

    /// Records that every window up to `exported_until` is exported. Returns false (and writes
    /// nothing) when the dump was deleted meanwhile or already records as much.
    pub fn record_dump_progress(&self, id: Uuid, exported_until: u64) -> ApiResult<bool> {
        self.mutate(|| {
            let Ok(mut dump) = self.dump(id) else { return Ok(false) };
            if dump.exported_until >= exported_until {
                return Ok(false);
            }
            dump.exported_until = exported_until;
            self.commit(vec![(keys::dump_key(id), to_json(&dump)?)], vec![])?;
            Ok(true)
        })
    }

    /// Refuses to delete a project (log group), or one logstore of it, that a dump exports. The
    /// caller holds the mutation lock; an unknown name passes (the caller reports it).
    pub(super) fn refuse_if_dumped(&self, project: &str, logstore: Option<&str>) -> ApiResult<()> {
        let Ok(group) = self.project(project) else { return Ok(()) };
        let stream = match logstore {
            Some(name) => match self.logstore(project, name) {
                Ok(ls) => Some(ls.id),
                Err(_) => return Ok(()),
            },
            None => None,
        };
        for dump in self.dumps()? {
            match stream {
                Some(id) if dump.stream_ids.contains(&id) => return Err(stream_in_dump(id)),
                None if dump.group_id == group.id => {
                    return Err(ApiError::new(
                        ErrorCode::LogGroupInDump,
                        format!("Log group is associated by transfer: {}", group.id),
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn stream_in_dump(id: Uuid) -> ApiError {
    ApiError::new(ErrorCode::LogStreamInDump, format!("Log stream id is associated by transfer: {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{LtsQuotas, Tags};
    use crate::config::CatalogConfig;
    use crate::store::RocksStore;

    const QUOTAS: LtsQuotas = LtsQuotas { max_log_groups: 10, max_log_streams_per_group: 10 };

    fn open(dir: &std::path::Path) -> Catalog {
        let store = RocksStore::open(dir).unwrap();
        Catalog::load(store, CatalogConfig::default()).unwrap()
    }

    fn dump(group_id: Uuid, stream_ids: Vec<Uuid>) -> Dump {
        Dump {
            id: Uuid::new_v4(),
            group_id,
            stream_ids,
            bucket: "bucket".into(),
            format: DumpFormat::Raw,
            switch_on: true,
            prefix_name: String::new(),
            dir_prefix_name: String::new(),
            period: 5,
            period_unit: PeriodUnit::Min,
            create_time: 600,
            exported_until: 600,
        }
    }

    #[test]
    fn dumps_guard_their_group_and_streams_and_survive_restart() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let c = open(dir.path());
            let g = c.create_log_group("g", 7, Tags::new(), QUOTAS).unwrap();
            let s1 = c.create_log_stream("g", "s1", None, Tags::new(), QUOTAS).unwrap();
            let s2 = c.create_log_stream("g", "s2", None, Tags::new(), QUOTAS).unwrap();
            let err = c.create_dump(dump(Uuid::new_v4(), vec![s1.id])).unwrap_err();
            assert_eq!(err.code, ErrorCode::ProjectNotExist);
            let err = c.create_dump(dump(g.id, vec![Uuid::new_v4()])).unwrap_err();
            assert_eq!(err.code, ErrorCode::LogStoreNotExist);
            let d = c.create_dump(dump(g.id, vec![s1.id])).unwrap();
            let err = c.create_dump(dump(g.id, vec![s2.id, s1.id])).unwrap_err();
            assert_eq!(err.code, ErrorCode::LogStreamInDump, "one dump per stream");
            assert_eq!(c.delete_logstore("g", "s1").unwrap_err().code, ErrorCode::LogStreamInDump);
            assert_eq!(c.delete_project("g").unwrap_err().code, ErrorCode::LogGroupInDump);
            c.delete_logstore("g", "s2").unwrap();
            assert!(c.record_dump_progress(d.id, 900).unwrap());
            assert!(!c.record_dump_progress(d.id, 900).unwrap(), "never backwards or twice");
            d.id
        };
        let c = open(dir.path());
        assert_eq!(c.dump(id).unwrap().exported_until, 900);
        assert_eq!(c.delete_dump(id).unwrap().id, id);
        assert_eq!(c.delete_dump(id).unwrap_err().code, ErrorCode::DumpNotExist);
        assert!(!c.record_dump_progress(id, 1200).unwrap(), "a deleted dump is not brought back");
        assert!(c.dumps().unwrap().is_empty());
        c.delete_logstore("g", "s1").unwrap();
        c.delete_project("g").unwrap();
    }
}
