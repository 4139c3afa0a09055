//! LTS `X-Auth-Token` authentication (lts.md §1.4) and the LTS project-id rule shared by tokens
//! and access keys. A configured token stands for an IAM user token scoped to one project id;
//! logtide does not talk to IAM, so the tokens it accepts are the ones in its configuration.
//!
//! Invariants: tokens are compared in constant time against every configured token (no early
//! exit that would reveal which prefix matched); no error message contains a token.

use subtle::ConstantTimeEq;

use super::{KeyRing, Secret, Verified};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// A configured LTS token and the project id it belongs to.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LtsToken {
    pub token: Secret,
    pub project_id: String,
}

impl std::fmt::Debug for LtsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LtsToken").field("token", &self.token).field("project_id", &self.project_id).finish()
    }
}

/// Who an LTS request was authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LtsCaller {
    /// No credentials are configured (the loopback-only open mode).
    Anonymous,
    /// A verified `SDK-HMAC-SHA256` signature.
    Key(Verified),
    /// A configured `X-Auth-Token`; it may use every log group of its project id.
    Token,
}

impl KeyRing {
    /// Checks `X-Auth-Token` against the configured tokens, then that the URL's `project_id` is
    /// the token's. Unknown token → 401 `InvalidToken`; another project id → `InvalidProjectId`.
    pub fn verify_token(&self, token: &str, project_id: &str) -> ApiResult<LtsCaller> {
        let mut found: Option<&LtsToken> = None;
        for t in &self.tokens {
            if bool::from(t.token.expose().as_bytes().ct_eq(token.as_bytes())) && found.is_none() {
                found = Some(t);
            }
        }
        let t = found.ok_or_else(|| ApiError::new(ErrorCode::InvalidToken, "Invalid token"))?;
        if t.project_id != project_id {
            return Err(invalid_project_id(project_id));
        }
        Ok(LtsCaller::Token)
    }

    /// Whether a verified access key may use LTS `project_id` (its `project_ids`, empty = any).
    pub fn authorize_lts_project_id(&self, who: &Verified, project_id: &str) -> ApiResult<()> {
        let key = self.keys.get(&who.access_key_id).ok_or_else(|| invalid_project_id(project_id))?;
        if key.project_ids.is_empty() || key.project_ids.iter().any(|p| p == project_id) {
            Ok(())
        } else {
            Err(invalid_project_id(project_id))
        }
    }
}

fn invalid_project_id(project_id: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidProjectId, format!("Project id is invalid: {project_id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AccessKey;

    const PID: &str = "0123456789abcdef0123456789abcdef";

    fn ring() -> KeyRing {
        KeyRing::new(
            vec![
                AccessKey::new("ANY", Secret::new("s")),
                AccessKey {
                    id: "ONE".into(),
                    secret: Secret::new("s"),
                    projects: vec![],
                    project_ids: vec![PID.into()],
                    read_projects: vec![],
                    write_projects: vec![],
                },
            ],
            vec![LtsToken { token: Secret::new("tok-secret-value"), project_id: PID.into() }],
        )
    }

    #[test]
    fn tokens_are_bound_to_their_project_id() {
        let ring = ring();
        assert_eq!(ring.verify_token("tok-secret-value", PID).unwrap(), LtsCaller::Token);
        let err = ring.verify_token("tok-secret-value", "ffff").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidProjectId);
        for wrong in ["tok-secret-valuf", "tok-secret-value ", "", "tok"] {
            let err = ring.verify_token(wrong, PID).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidToken);
            assert!(!err.message.contains("tok-secret"), "{}", err.message);
        }
        assert!(!format!("{ring:?}").contains("tok-secret"));
    }

    #[test]
    fn keys_may_be_limited_to_project_ids() {
        let ring = ring();
        let who = |id: &str| Verified { access_key_id: id.into() };
        assert!(ring.authorize_lts_project_id(&who("ANY"), "whatever").is_ok());
        assert!(ring.authorize_lts_project_id(&who("ONE"), PID).is_ok());
        assert_eq!(ring.authorize_lts_project_id(&who("ONE"), "other").unwrap_err().code, ErrorCode::InvalidProjectId);
        assert_eq!(ring.authorize_lts_project_id(&who("GONE"), PID).unwrap_err().code, ErrorCode::InvalidProjectId);
    }

    #[test]
    fn tokens_alone_close_the_open_mode() {
        assert!(KeyRing::new(vec![], vec![]).is_empty());
        assert!(!KeyRing::new(vec![], vec![LtsToken { token: Secret::new("t"), project_id: PID.into() }]).is_empty());
    }
}
