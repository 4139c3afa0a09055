//! The one error-code table: every failure a client can see, its HTTP status, its wire name and
//! whether a client should retry. Handlers return [`ApiError`]; only `http::response` renders it.
//!
//! Names and statuses follow the SLS documents (`shared/docs/protocols/sls.md` §3.4, §5.3, §6.2 and
//! the PutLogs seed). Where the documents disagree or are silent, the choice is written next to
//! the variant.
//!
//! The same codes are rendered in three dialects ([`Dialect`]): SLS (`errorCode`/`errorMessage`),
//! the LTS management API (`error_code`/`error_msg`, codes `LTS.xxxx` and the API gateway's
//! `APIGW.xxxx`, lts.md §4) and the LTS log-report API (`errorCode`/`error_msg`/`result`, codes
//! `SVCSTG.ALS.*`, lts.md §5). Status and wire name per dialect are decided here and nowhere else.

use http::StatusCode;

/// A closed set of error codes. Add a variant here, never a free-form code elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // ---- request body ----
    /// The protobuf (or JSON) body cannot be parsed.
    PostBodyInvalid,
    /// A log time lies outside `[now - max_past, now + max_future]`. The PutLogs seed documents
    /// status 499 for this case (the 2021 doc says 400); we follow the seed.
    PostBodyTimeOutOfRange,
    /// A log time is malformed (nanosecond part >= 1e9).
    InvalidTimestamp,
    /// A key, value, topic, source or tag is not UTF-8.
    InvalidEncoding,
    /// A key is empty, too long or reserved.
    InvalidKey,
    /// The request exceeds the raw-size, log-count or value-size limit.
    PostBodyTooLarge,
    /// The body cannot be decompressed, or decompresses to a size other than `x-log-bodyrawsize`.
    PostBodyUncompressError,
    MissingBodyRawSize,
    InvalidBodyRawSize,
    InvalidCompressType,
    /// `Content-MD5` does not match the bytes received. SLS documents no code for this; we chose
    /// this name (400).
    InvalidContentMd5,
    MissingContentLength,

    // ---- authentication ----
    MissAccessKeyId,
    InvalidAccessKeyId,
    SignatureNotMatch,
    Unauthorized,
    MissingDate,
    InvalidRequestTime,
    RequestTimeExpired,

    /// LTS: an `X-Auth-Token` that no configured token matches.
    InvalidToken,
    /// LTS: the `project_id` of the URL is not one the token or access key may use.
    InvalidProjectId,

    // ---- catalog ----
    /// Also the LTS "log group does not exist" (`LTS.0201`): a log group is a project.
    ProjectNotExist,
    ProjectAlreadyExist,
    ProjectInfoInvalid,
    /// Also the LTS "log stream does not exist" (`LTS.0208`): a log stream is a logstore.
    LogStoreNotExist,
    LogStoreAlreadyExist,
    LogStoreInfoInvalid,
    /// More projects (LTS log groups) than the configured quota (`LTS.0104`).
    ProjectQuotaExceed,
    /// More logstores in a project (LTS log streams in a group) than the quota (`LTS.0206`).
    LogStoreQuotaExceed,
    ShardNotExist,
    ParameterInvalid,
    InvalidCursor,
    /// A query keyword starting with `*` or `?` (`LTS.0301`).
    InvalidKeyword,
    /// A query `limit` outside 1..=5000 (`LTS.1903`).
    InvalidLimit,
    /// A paging `line_num` outside the query's time window (`LTS.0701`).
    LineNumOutOfRange,

    // ---- dumps (lts.md §3.5) ----
    /// Deleting a log group (project) that a dump exports (`LTS.0105`).
    LogGroupInDump,
    /// Deleting a log stream (logstore) that a dump exports, or naming it in a second dump
    /// (`LTS.0207`).
    LogStreamInDump,
    /// The dump's bucket is not a directory under `dump.root` (`LTS.0416`).
    BucketNotExist,
    /// A dump option outside its list: `type`, `storage_format`, `period`+`period_unit`
    /// (`LTS.1901`).
    DumpOptionNotInList,
    /// A `prefix_name` or `dir_prefix_name` that is malformed or would leave the bucket (`LTS.1902`).
    InvalidDumpPrefix,
    /// No dump has the id given to delete (`LTS.0405`, DeleteTransfer's code).
    DumpNotExist,

    // ---- routing / protocol ----
    InvalidMethod,
    /// No endpoint matches the path (404).
    InvalidUrl,

    // ---- server ----
    /// A shard queue is full or the daemon is shutting down; retry after a short pause.
    ServerBusy,
    /// The data disk is full (or the store refuses writes after an I/O error): writes are refused
    /// until space is freed, reads go on. SLS has no such code; it is a 503 that every SDK retries,
    /// named for what it is so operators can tell it from load shedding.
    StorageFull,
    InternalServerError,
}

impl ErrorCode {
    /// HTTP status of the code.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            PostBodyInvalid
            | InvalidTimestamp
            | InvalidEncoding
            | InvalidKey
            | PostBodyTooLarge
            | PostBodyUncompressError
            | MissingBodyRawSize
            | InvalidBodyRawSize
            | InvalidCompressType
            | InvalidContentMd5
            | MissAccessKeyId
            | MissingDate
            | InvalidRequestTime
            | RequestTimeExpired
            | ProjectAlreadyExist
            | ProjectInfoInvalid
            | LogStoreAlreadyExist
            | LogStoreInfoInvalid
            | ProjectQuotaExceed
            | LogStoreQuotaExceed
            | ShardNotExist
            | ParameterInvalid
            | InvalidCursor
            | InvalidKeyword
            | InvalidLimit
            | LineNumOutOfRange
            | LogGroupInDump
            | LogStreamInDump
            | BucketNotExist
            | DumpOptionNotInList
            | InvalidDumpPrefix
            | DumpNotExist => StatusCode::BAD_REQUEST,
            PostBodyTimeOutOfRange => StatusCode::from_u16(499).expect("499 is a valid status"),
            InvalidAccessKeyId | SignatureNotMatch | Unauthorized | InvalidToken => StatusCode::UNAUTHORIZED,
            InvalidProjectId => StatusCode::FORBIDDEN,
            ProjectNotExist | LogStoreNotExist | InvalidUrl => StatusCode::NOT_FOUND,
            InvalidMethod => StatusCode::METHOD_NOT_ALLOWED,
            MissingContentLength => StatusCode::LENGTH_REQUIRED,
            ServerBusy | StorageFull => StatusCode::SERVICE_UNAVAILABLE,
            InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `errorCode` string of the SLS dialect.
    pub fn sls_name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            PostBodyInvalid | PostBodyTimeOutOfRange => "PostBodyInvalid",
            InvalidTimestamp => "InvalidTimestamp",
            InvalidEncoding => "InvalidEncoding",
            InvalidKey => "InvalidKey",
            PostBodyTooLarge => "PostBodyTooLarge",
            PostBodyUncompressError => "PostBodyUncompressError",
            MissingBodyRawSize => "MissingBodyRawSize",
            InvalidBodyRawSize => "InvalidBodyRawSize",
            InvalidCompressType => "InvalidCompressType",
            InvalidContentMd5 => "InvalidContentMD5",
            MissingContentLength => "MissingContentLength",
            MissAccessKeyId => "MissAccessKeyId",
            InvalidAccessKeyId => "InvalidAccessKeyId",
            SignatureNotMatch => "SignatureNotMatch",
            Unauthorized => "Unauthorized",
            MissingDate => "MissingDate",
            InvalidRequestTime => "InvalidRequestTime",
            RequestTimeExpired => "RequestTimeExpired",
            InvalidToken => "InvalidToken",
            InvalidProjectId => "InvalidProjectId",
            ProjectNotExist => "ProjectNotExist",
            ProjectAlreadyExist => "ProjectAlreadyExist",
            ProjectInfoInvalid => "ProjectInfoInvalid",
            LogStoreNotExist => "LogStoreNotExist",
            LogStoreAlreadyExist => "LogStoreAlreadyExist",
            LogStoreInfoInvalid => "LogStoreInfoInvalid",
            ProjectQuotaExceed => "ProjectQuotaExceed",
            LogStoreQuotaExceed => "LogStoreQuotaExceed",
            ShardNotExist => "ShardNotExist",
            ParameterInvalid => "ParameterInvalid",
            InvalidCursor => "InvalidCursor",
            InvalidKeyword | InvalidLimit | LineNumOutOfRange => "ParameterInvalid",
            // SLS has no dumps; a refused SLS DeleteProject/DeleteLogstore shows this name.
            LogGroupInDump | LogStreamInDump | BucketNotExist | DumpOptionNotInList | InvalidDumpPrefix
            | DumpNotExist => "ParameterInvalid",
            InvalidMethod => "InvalidMethod",
            InvalidUrl => "InvalidUrl",
            ServerBusy => "ServerBusy",
            StorageFull => "StorageFull",
            InternalServerError => "InternalServerError",
        }
    }

    /// Whether a client may retry the same request unchanged.
    pub fn retryable(self) -> bool {
        matches!(self, ErrorCode::ServerBusy | ErrorCode::StorageFull | ErrorCode::InternalServerError)
    }

    /// HTTP status of the code in a dialect. LTS documents 400 for an unknown log group or stream
    /// (`LTS.0201`, `LTS.0208`) and for every body problem (no 499), and 401 for every failure of
    /// the gateway's authentication, including a malformed or stale signature. The report API
    /// answers an invalid project id with 401 (its seed's example), the management API with 403.
    pub fn status_in(self, dialect: Dialect) -> StatusCode {
        use ErrorCode::*;
        match (dialect, self) {
            (Dialect::Sls, code) => code.status(),
            (Dialect::LtsReport, InvalidProjectId) => StatusCode::UNAUTHORIZED,
            (_, PostBodyTimeOutOfRange | ProjectNotExist | LogStoreNotExist) => StatusCode::BAD_REQUEST,
            (_, MissAccessKeyId | MissingDate | InvalidRequestTime | RequestTimeExpired) => StatusCode::UNAUTHORIZED,
            (_, code) => code.status(),
        }
    }

    /// The `error_code` of the LTS management dialect (lts.md §4.1). Authentication failures carry
    /// the API gateway's codes, as real LTS answers them before the service sees the request.
    pub fn lts_name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            PostBodyInvalid
            | PostBodyTimeOutOfRange
            | InvalidTimestamp
            | InvalidEncoding
            | InvalidKey
            | PostBodyTooLarge
            | PostBodyUncompressError
            | MissingBodyRawSize
            | InvalidBodyRawSize
            | InvalidCompressType
            | InvalidContentMd5
            | MissingContentLength
            | ProjectInfoInvalid
            | LogStoreInfoInvalid
            | ShardNotExist
            | ParameterInvalid
            | InvalidCursor => "LTS.0009",
            MissAccessKeyId | InvalidAccessKeyId | SignatureNotMatch | Unauthorized | MissingDate
            | InvalidRequestTime => "APIGW.0301",
            RequestTimeExpired => "APIGW.0303",
            InvalidToken => "LTS.0003",
            // The API reference's 403 example (lts.md's OTC table says LTS.0011).
            InvalidProjectId => "LTS.0001",
            ProjectQuotaExceed => "LTS.0104",
            LogStoreQuotaExceed => "LTS.0206",
            InvalidKeyword => "LTS.0301",
            InvalidLimit => "LTS.1903",
            LineNumOutOfRange => "LTS.0701",
            LogGroupInDump => "LTS.0105",
            LogStreamInDump => "LTS.0207",
            BucketNotExist => "LTS.0416",
            DumpOptionNotInList => "LTS.1901",
            InvalidDumpPrefix => "LTS.1902",
            DumpNotExist => "LTS.0405",
            ProjectNotExist => "LTS.0201",
            ProjectAlreadyExist => "LTS.0101",
            LogStoreNotExist => "LTS.0208",
            LogStoreAlreadyExist => "LTS.0205",
            InvalidMethod | InvalidUrl => "APIGW.0101",
            ServerBusy | StorageFull | InternalServerError => "LTS.0010",
        }
    }

    /// The `errorCode` of the LTS report dialect (`…/tenant/contents`, lts.md §5.1): the two codes
    /// its document names (`SVCSTG.ALS.200.201` for a bad request, `SVCSTG.ALS.403.105` for an
    /// invalid project id), the LTS codes for an unknown log group or stream, and the management
    /// codes for everything else.
    pub fn report_name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidProjectId => "SVCSTG.ALS.403.105",
            code if code.lts_name() == "LTS.0009" => "SVCSTG.ALS.200.201",
            code => code.lts_name(),
        }
    }
}

/// Which API family a request belongs to, so an error is rendered the way that family's clients
/// parse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SLS: `{"errorCode","errorMessage"}`.
    Sls,
    /// LTS management and query API: `{"error_code","error_msg"}`.
    Lts,
    /// LTS log reporting (`…/tenant/contents`): `{"errorCode","error_msg","result":null}`.
    LtsReport,
}

/// An error as the client sees it: a code from the table and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        ApiError::new(ErrorCode::InternalServerError, format!("internal error: {message}"))
    }

    /// A failed read of the shard log: retryable `ServerBusy` when the log is unavailable (the
    /// Kafka backend: a broker, or every node storing the shard, did not answer), an internal
    /// error otherwise.
    pub fn store(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(why) => {
                ApiError::new(ErrorCode::ServerBusy, format!("the shard log is unavailable ({why}); retry"))
            }
            other => ApiError::internal(other),
        }
    }

    pub fn project_not_exist(project: &str) -> Self {
        ApiError::new(ErrorCode::ProjectNotExist, format!("The Project does not exist : {project}"))
    }

    pub fn logstore_not_exist(logstore: &str) -> Self {
        ApiError::new(ErrorCode::LogStoreNotExist, format!("logstore {logstore} does not exist"))
    }

    pub fn param(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::ParameterInvalid, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.sls_name(), self.message)
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_out_of_range_uses_the_seed_status_and_shared_name() {
        assert_eq!(ErrorCode::PostBodyTimeOutOfRange.status().as_u16(), 499);
        assert_eq!(ErrorCode::PostBodyTimeOutOfRange.sls_name(), "PostBodyInvalid");
    }

    #[test]
    fn lts_dialects_use_lts_statuses_and_codes() {
        use Dialect::*;
        assert_eq!(ErrorCode::PostBodyTimeOutOfRange.status_in(Lts), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::PostBodyTimeOutOfRange.report_name(), "SVCSTG.ALS.200.201");
        assert_eq!(ErrorCode::ProjectNotExist.status_in(LtsReport), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::ProjectNotExist.report_name(), "LTS.0201");
        assert_eq!(ErrorCode::LogStoreNotExist.lts_name(), "LTS.0208");
        assert_eq!(ErrorCode::InvalidProjectId.status_in(LtsReport), StatusCode::UNAUTHORIZED);
        assert_eq!(ErrorCode::InvalidProjectId.status_in(Lts), StatusCode::FORBIDDEN);
        assert_eq!(ErrorCode::InvalidProjectId.report_name(), "SVCSTG.ALS.403.105");
        assert_eq!(ErrorCode::RequestTimeExpired.status_in(Lts), StatusCode::UNAUTHORIZED);
        assert_eq!(ErrorCode::RequestTimeExpired.lts_name(), "APIGW.0303");
        assert_eq!(ErrorCode::MissAccessKeyId.status_in(LtsReport), StatusCode::UNAUTHORIZED);
        assert_eq!(ErrorCode::ServerBusy.status_in(LtsReport), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ErrorCode::PostBodyTimeOutOfRange.status_in(Sls).as_u16(), 499);
    }

    #[test]
    fn dump_codes_are_400_with_their_lts_names() {
        use ErrorCode::*;
        for (code, name) in [
            (LogGroupInDump, "LTS.0105"),
            (LogStreamInDump, "LTS.0207"),
            (BucketNotExist, "LTS.0416"),
            (DumpOptionNotInList, "LTS.1901"),
            (InvalidDumpPrefix, "LTS.1902"),
            (DumpNotExist, "LTS.0405"),
        ] {
            assert_eq!(code.lts_name(), name);
            assert_eq!(code.status_in(Dialect::Lts), StatusCode::BAD_REQUEST, "{name}");
            assert_eq!(code.status(), StatusCode::BAD_REQUEST, "{name}");
            assert_eq!(code.sls_name(), "ParameterInvalid");
            assert!(!code.retryable());
        }
    }

    #[test]
    fn client_errors_are_never_5xx_and_busy_is_retryable() {
        assert!(ErrorCode::SignatureNotMatch.status().is_client_error());
        assert!(ErrorCode::PostBodyTooLarge.status().is_client_error());
        assert_eq!(ErrorCode::ServerBusy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(ErrorCode::ServerBusy.retryable());
        assert!(!ErrorCode::InvalidKey.retryable());
    }
}
