//! Staff accounts: username and argon2 password hash, one role, one carrier.

use super::{ServiceError, ServiceResult};
use crate::store::{Access, StaffRow};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use simdesk_domain::ids::CarrierCode;

/// A staff member's role; what each may do is listed once, in `services::access` (`Role::may`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Hotline: find lines, verify callers, submit cancellations, review documents.
    Agent,
    /// Store counter: call tickets, verify walk-ins, submit cancellations.
    Clerk,
    /// Both, plus oversight.
    Supervisor,
    /// Both, plus administration.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> ServiceResult<Role> {
        match s {
            "agent" => Ok(Role::Agent),
            "clerk" => Ok(Role::Clerk),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            other => Err(ServiceError::Invalid(format!(
                "role {other:?} is not one of agent, clerk, supervisor, admin"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Clerk => "clerk",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

pub fn hash_password(password: &str) -> ServiceResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Invalid(format!("the password cannot be hashed: {e}")))
}

pub async fn add(
    store: &dyn Access,
    username: &str,
    password: &str,
    role: &str,
    carrier: &CarrierCode,
    now: jiff::Timestamp,
) -> ServiceResult<i64> {
    let username = username.trim();
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ServiceError::Invalid(
            "a username is 1 to 64 letters, digits, '-', '_' or '.'".into(),
        ));
    }
    if password.chars().count() < 12 {
        return Err(ServiceError::Invalid(
            "a staff password needs at least 12 characters".into(),
        ));
    }
    let role = Role::parse(role)?;
    Ok(store
        .insert_staff(
            username,
            &hash_password(password)?,
            role.as_str(),
            carrier,
            now,
        )
        .await?)
}

/// The staff member whose password this is, or nothing (the same answer for an unknown name,
/// so names cannot be guessed by timing the reply a different way).
pub async fn authenticate(
    store: &dyn Access,
    username: &str,
    password: &str,
) -> ServiceResult<Option<(StaffRow, Role)>> {
    let found = store.staff_by_username(username.trim()).await?;
    // Verify against a fixed hash when the name is unknown, so both paths cost the same.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2ltZGVza2R1bW15c2FsdA$3Q1T8yq8xk7pTn7vJ2Fqf1m3Wm3W9n8s0d3cXhWq0pE";
    let hash = found
        .as_ref()
        .map(|s| s.password_hash.as_str())
        .unwrap_or(DUMMY);
    let ok = PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    match found {
        Some(staff) if ok && !staff.disabled => {
            let role = Role::parse(&staff.role)?;
            Ok(Some((staff, role)))
        }
        _ => Ok(None),
    }
}
