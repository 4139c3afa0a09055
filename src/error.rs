//! The one error-code table: every failure a client can see, its HTTP status, its wire name and
//! whether a client should retry. Handlers return [`ApiError`]; only `http::response` renders it.
//!
//! Names and statuses follow the SLS documents (`shared/docs/protocols/sls.md` §3.4, §5.3, §6.2 and
//! the PutLogs seed). Where the documents disagree or are silent, the choice is written next to
//! the variant.

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

    // ---- catalog ----
    ProjectNotExist,
    ProjectAlreadyExist,
    ProjectInfoInvalid,
    LogStoreNotExist,
    LogStoreAlreadyExist,
    LogStoreInfoInvalid,
    ShardNotExist,
    ParameterInvalid,
    InvalidCursor,

    // ---- routing / protocol ----
    InvalidMethod,
    /// No endpoint matches the path (404).
    InvalidUrl,

    // ---- server ----
    /// A shard queue is full or the daemon is shutting down; retry after a short pause.
    ServerBusy,
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
            | ShardNotExist
            | ParameterInvalid
            | InvalidCursor => StatusCode::BAD_REQUEST,
            PostBodyTimeOutOfRange => StatusCode::from_u16(499).expect("499 is a valid status"),
            InvalidAccessKeyId | SignatureNotMatch | Unauthorized => StatusCode::UNAUTHORIZED,
            ProjectNotExist | LogStoreNotExist | InvalidUrl => StatusCode::NOT_FOUND,
            InvalidMethod => StatusCode::METHOD_NOT_ALLOWED,
            MissingContentLength => StatusCode::LENGTH_REQUIRED,
            ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
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
            ProjectNotExist => "ProjectNotExist",
            ProjectAlreadyExist => "ProjectAlreadyExist",
            ProjectInfoInvalid => "ProjectInfoInvalid",
            LogStoreNotExist => "LogStoreNotExist",
            LogStoreAlreadyExist => "LogStoreAlreadyExist",
            LogStoreInfoInvalid => "LogStoreInfoInvalid",
            ShardNotExist => "ShardNotExist",
            ParameterInvalid => "ParameterInvalid",
            InvalidCursor => "InvalidCursor",
            InvalidMethod => "InvalidMethod",
            InvalidUrl => "InvalidUrl",
            ServerBusy => "ServerBusy",
            InternalServerError => "InternalServerError",
        }
    }

    /// Whether a client may retry the same request unchanged.
    pub fn retryable(self) -> bool {
        matches!(self, ErrorCode::ServerBusy | ErrorCode::InternalServerError)
    }
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
    fn client_errors_are_never_5xx_and_busy_is_retryable() {
        assert!(ErrorCode::SignatureNotMatch.status().is_client_error());
        assert!(ErrorCode::PostBodyTooLarge.status().is_client_error());
        assert_eq!(ErrorCode::ServerBusy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(ErrorCode::ServerBusy.retryable());
        assert!(!ErrorCode::InvalidKey.retryable());
    }
}
