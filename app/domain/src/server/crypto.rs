//! Tokens, token hashes, HMAC'd links and password hashing.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use subtle::ConstantTimeEq;
use tokio::sync::OnceCell;

use crate::error::{AppError, AppResult};

/// 256 random bits, URL-safe. Used for session and setup tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What storage keeps instead of a token: a leaked table yields no usable token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random id (UUIDv7: sortable by creation time).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// HMAC-SHA256 of `message` under the instance secret, URL-safe.
pub fn sign(secret: &[u8; 32], message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(message.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Constant-time check of a signature made by [`sign`].
pub fn verify_signature(secret: &[u8; 32], message: &str, signature: &str) -> bool {
    let expected = sign(secret, message);
    expected.as_bytes().ct_eq(signature.as_bytes()).into()
}

/// Argon2id with OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane.
const PASSWORD_HASHING: (u32, u32, u32) = (19 * 1024, 2, 1);
/// The least argon2 allows (8 KiB, 1 pass), for test runs only: see [`cheap_test_hashing`].
const TEST_PASSWORD_HASHING: (u32, u32, u32) = (8, 1, 1);

/// The variable that makes a debug build hash new passwords with [`TEST_PASSWORD_HASHING`].
pub const CHEAP_TEST_HASHING_VAR: &str = "SWITCHBOARD_TEST_CHEAP_PASSWORD_HASHING";

/// Whether new passwords are hashed cheaply: only in a debug build (never a release
/// binary, whatever its environment says) and only when `scripts/test` asks, through
/// [`CHEAP_TEST_HASHING_VAR`]=1. The tests create hundreds of users and sign them in;
/// at the real cost each hash took 19 MiB of fresh memory and tens of milliseconds of a
/// core, about a quarter of the integration tests' CPU. Checking a password always uses the
/// cost stored with its hash, so either kind verifies in either build.
pub fn cheap_test_hashing() -> bool {
    static CHEAP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    cfg!(debug_assertions)
        && *CHEAP.get_or_init(|| std::env::var(CHEAP_TEST_HASHING_VAR).is_ok_and(|v| v == "1"))
}

/// What new passwords are hashed at: (memory in KiB, passes, lanes).
fn current_cost() -> (u32, u32, u32) {
    if cheap_test_hashing() {
        TEST_PASSWORD_HASHING
    } else {
        PASSWORD_HASHING
    }
}

fn argon2() -> Argon2<'static> {
    argon2_costing(current_cost())
}

fn argon2_costing((memory_kib, passes, lanes): (u32, u32, u32)) -> Argon2<'static> {
    let params = Params::new(memory_kib, passes, lanes, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether a stored hash was made otherwise than new passwords are (another algorithm or
/// cost: an older default, or a test run's cheap one): the next sign-in that proves the
/// password replaces it.
pub fn is_outdated(stored_hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return true;
    };
    let cost = Params::try_from(&parsed).map(|p| (p.m_cost(), p.t_cost(), p.p_cost()));
    parsed.algorithm != Algorithm::Argon2id.ident() || cost.ok() != Some(current_cost())
}

/// How long a password check waits for a free hasher before the request is refused.
const HASHER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Password hashing runs under this many permits (one per core): each run takes 19 MiB and
/// a core for tens of milliseconds, so a flood of sign-ins queues here instead of
/// multiplying memory (200 parallel guesses once took the server from 76 MB to 1.1 GB).
fn hashers() -> &'static tokio::sync::Semaphore {
    static HASHERS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    HASHERS.get_or_init(|| tokio::sync::Semaphore::new(hashing_peak().1))
}

/// Runs `work` (argon2) on the blocking pool once a hasher is free; a request that waits
/// longer than [`HASHER_WAIT`] is told to try again rather than queueing without end.
async fn with_hasher<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let permit = tokio::time::timeout(HASHER_WAIT, hashers().acquire())
        .await
        .map_err(|_| AppError::Throttled("The server is busy. Try again in a moment.".into()))?
        .map_err(AppError::internal)?;
    let running = HASHING.fetch_add(1, Ordering::SeqCst) + 1;
    HASHING_PEAK.fetch_max(running, Ordering::SeqCst);
    let result = tokio::task::spawn_blocking(work).await;
    HASHING.fetch_sub(1, Ordering::SeqCst);
    drop(permit);
    Ok(result?)
}

static HASHING: AtomicUsize = AtomicUsize::new(0);
static HASHING_PEAK: AtomicUsize = AtomicUsize::new(0);

/// The most password hashes that ever ran at once in this process, and the permit count
/// that bounds it (for tests and the sign-in flood bench).
pub fn hashing_peak() -> (usize, usize) {
    let permits = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 8);
    (HASHING_PEAK.load(Ordering::SeqCst), permits)
}

/// Hashes a password off the async threads (it takes tens of milliseconds on purpose).
pub async fn hash_password(password: String) -> AppResult<String> {
    with_hasher(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(format!("argon2 hash: {e}")))
    })
    .await?
}

/// Verifies a password off the async threads. A malformed stored hash counts as a mismatch.
pub async fn verify_password(password: String, stored_hash: String) -> AppResult<bool> {
    with_hasher(move || {
        PasswordHash::new(&stored_hash)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
}

/// Burns the same time as a real verification, for sign-ins naming no account, so response
/// timing does not reveal which emails have accounts.
pub async fn verify_against_dummy(password: String) -> AppResult<()> {
    static DUMMY: OnceCell<String> = OnceCell::const_new();
    let dummy = DUMMY
        .get_or_try_init(|| hash_password("switchboard-dummy-password".into()))
        .await?
        .clone();
    verify_password(password, dummy).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_costing(cost: (u32, u32, u32), password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        argon2_costing(cost)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn passwords_are_hashed_at_owasps_cost_and_checked_at_their_own() {
        let real = hash_costing(PASSWORD_HASHING, "correct horse");
        assert!(
            real.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{real}"
        );
        let cheap = hash_costing(TEST_PASSWORD_HASHING, "correct horse");
        assert!(cheap.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{cheap}");
        // Whichever cost this process hashes at, each hash is checked at the cost it names.
        for stored in [&real, &cheap] {
            let parsed = PasswordHash::new(stored).unwrap();
            assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
            assert!(argon2().verify_password(b"wrong horse", &parsed).is_err());
        }
        // Only the one made at this process's cost is current.
        assert_eq!(is_outdated(&real), cheap_test_hashing());
        assert_eq!(is_outdated(&cheap), !cheap_test_hashing());
        assert!(is_outdated(&hash_costing((16, 1, 1), "correct horse")));
        assert!(is_outdated("not a hash"));
    }
}
