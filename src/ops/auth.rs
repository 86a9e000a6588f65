//! Access control: bearer tokens with a role, checked by a tower layer before any handler runs.
//!
//! The server never holds a token, only its SHA-256 hash (from the config file), so neither the
//! config file nor a memory dump gives a usable token away. A presented token is hashed and
//! compared with every configured hash in constant time, so response timing tells nothing
//! about how close a guess was. Tokens are never logged; the token's `name` is, as `caller`.
//!
//! Which role each method needs is decided in one place, [`super::methods::METHODS`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::{Code, Status};
use tower_layer::Layer;
use tower_service::Service;

use super::grpc::{refusal, refuse};
use super::methods::{self, Access, Role};
use super::reason::Reason;

/// One `[[auth.tokens]]` table of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who holds the token; appears in logs as `caller`.
    pub name: String,
    /// SHA-256 of the token, lowercase hex (`eventlog token hash` prints it).
    pub sha256: String,
    /// What the token may do.
    pub role: Role,
}

/// Why the configured tokens are unusable.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// A hash that is not 64 lowercase hex digits.
    #[error("auth.tokens[{index}] ({name:?}): sha256 must be 64 lowercase hex digits (the output of `eventlog token hash`), got {len} characters")]
    BadHash {
        /// Position in the file.
        index: usize,
        /// The token's name.
        name: String,
        /// Length of what was given.
        len: usize,
    },
    /// Two tokens with one name would be indistinguishable in logs.
    #[error("auth.tokens: the name {0:?} is used twice; names identify callers in logs")]
    DuplicateName(String),
    /// An empty name.
    #[error("auth.tokens[{0}]: name is empty; give each token a name that identifies its holder")]
    EmptyName(usize),
}

/// The hash of `token` as the config file stores it: SHA-256, lowercase hex. Surrounding
/// whitespace (the newline `echo` adds) is not part of the token.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.trim().as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let value = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks(2).enumerate() {
        out[i] = value(pair[0])? << 4 | value(pair[1])?;
    }
    Some(out)
}

/// A configured token, as the server keeps it.
#[derive(Debug, Clone)]
struct Known {
    name: Arc<str>,
    hash: [u8; 32],
    role: Role,
}

/// Who made a request, once authenticated. Handlers may read it from the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: Arc<str>,
    /// Its role.
    pub role: Role,
}

/// The access policy: the configured tokens and whether reflection is open.
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    tokens: Arc<Vec<Known>>,
    open_reflection: bool,
}

impl AccessPolicy {
    /// A policy over `tokens`. With none, every method is open (the server then only listens
    /// on loopback addresses, see `server::start`).
    pub fn new(tokens: &[TokenConfig], open_reflection: bool) -> Result<Self, AuthConfigError> {
        let mut known: Vec<Known> = Vec::with_capacity(tokens.len());
        for (index, token) in tokens.iter().enumerate() {
            if token.name.trim().is_empty() {
                return Err(AuthConfigError::EmptyName(index));
            }
            if known.iter().any(|k| *k.name == *token.name) {
                return Err(AuthConfigError::DuplicateName(token.name.clone()));
            }
            let hash = unhex(&token.sha256).ok_or_else(|| AuthConfigError::BadHash {
                index,
                name: token.name.clone(),
                len: token.sha256.chars().count(),
            })?;
            known.push(Known {
                name: token.name.as_str().into(),
                hash,
                role: token.role,
            });
        }
        Ok(AccessPolicy {
            tokens: Arc::new(known),
            open_reflection,
        })
    }

    /// True when tokens are configured, i.e. access is checked.
    pub fn enforced(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Decides a request to `path` with this `authorization` metadata: who the caller is (if
    /// a token was needed), or the status that refuses it.
    pub fn check(
        &self,
        path: &str,
        authorization: Option<&[u8]>,
    ) -> Result<Option<Caller>, Status> {
        let method = methods::lookup(path);
        let needed = match method.map(|m| m.access) {
            Some(Access::Open) => return Ok(None),
            _ if !self.enforced() => return Ok(None),
            Some(Access::Reflection) if self.open_reflection => return Ok(None),
            Some(Access::Reflection) => Some(Role::Read),
            Some(Access::Role(role)) => Some(role),
            None => None,
        };
        let caller = self.authenticate(authorization)?;
        match needed {
            None => Err(refusal(
                Code::PermissionDenied,
                format!("{path} is not a method this server grants to any token"),
                Reason::MethodNotGranted,
                [],
            )),
            Some(needed) if caller.role < needed => Err(refusal(
                Code::PermissionDenied,
                format!(
                    "the token {:?} has the {} role; {} needs {needed} (or a higher role)",
                    caller.name,
                    caller.role,
                    method.map_or(path, |m| m.name),
                ),
                Reason::RoleTooLow,
                [
                    ("role", caller.role.to_string()),
                    ("needed_role", needed.to_string()),
                ],
            )),
            Some(_) => Ok(Some(caller)),
        }
    }

    /// Decides a request outside gRPC (a metrics scrape) that needs only a known token, of any
    /// role: `Ok` when tokens are not configured or the token is one of them.
    pub fn check_any_token(&self, authorization: Option<&[u8]>) -> Result<(), Status> {
        if !self.enforced() {
            return Ok(());
        }
        self.authenticate(authorization).map(|_| ())
    }

    fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Caller, Status> {
        let Some(value) = authorization else {
            return Err(refusal(
                Code::Unauthenticated,
                "missing `authorization: Bearer <token>` metadata",
                Reason::MissingToken,
                [],
            ));
        };
        let token = std::str::from_utf8(value)
            .ok()
            // The scheme is case-insensitive (RFC 9110).
            .and_then(|v| {
                let (scheme, token) = v.split_at_checked(7)?;
                scheme.eq_ignore_ascii_case("bearer ").then_some(token)
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                refusal(
                    Code::Unauthenticated,
                    "the `authorization` metadata must be `Bearer <token>` (the scheme, one space, the token)",
                    Reason::MalformedAuthorization,
                    [],
                )
            })?;
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Compare with every hash, whatever matched, so timing does not depend on which did.
        let mut found: Option<&Known> = None;
        for known in self.tokens.iter() {
            if bool::from(known.hash.ct_eq(&presented)) {
                found = Some(known);
            }
        }
        found
            .map(|k| Caller {
                name: Arc::clone(&k.name),
                role: k.role,
            })
            .ok_or_else(|| {
                refusal(
                    Code::Unauthenticated,
                    "unknown token: it matches none configured in [[auth.tokens]]; check the token, or ask an operator for one",
                    Reason::UnknownToken,
                    [],
                )
            })
    }
}

/// The tower layer that applies an [`AccessPolicy`] to every request.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    policy: AccessPolicy,
}

impl AuthLayer {
    /// Checks requests with `policy`.
    pub fn new(policy: AccessPolicy) -> AuthLayer {
        AuthLayer { policy }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// See [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    policy: AccessPolicy,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for Auth<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let authorization = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        match self.policy.check(request.uri().path(), authorization) {
            Ok(caller) => {
                if let Some(caller) = caller {
                    tracing::Span::current().record("caller", &*caller.name);
                    request.extensions_mut().insert(caller);
                }
                Box::pin(self.inner.call(request))
            }
            Err(status) => Box::pin(std::future::ready(Ok(refuse(status)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    fn policy() -> AccessPolicy {
        let token = |name: &str, role| TokenConfig {
            name: name.into(),
            sha256: hash_token(&format!("secret-{name}")),
            role,
        };
        AccessPolicy::new(
            &[
                token("reader", Role::Read),
                token("writer", Role::Append),
                token("boss", Role::Admin),
            ],
            false,
        )
        .expect("valid tokens")
    }

    fn code(result: Result<Option<Caller>, Status>) -> Code {
        result.map_or_else(|s| s.code(), |_| Code::Ok)
    }

    #[test]
    fn hashes_are_lowercase_sha256_hex_of_the_trimmed_token() {
        assert_eq!(
            hash_token("abc\n"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn roles_and_tokens_decide() {
        let p = policy();
        let append = "/eventlog.v1.EventLog/Append";
        assert_eq!(code(p.check(append, None)), Code::Unauthenticated);
        assert_eq!(
            code(p.check(append, Some(b"Bearer nope"))),
            Code::Unauthenticated
        );
        assert_eq!(
            code(p.check(append, Some(b"secret-boss"))),
            Code::Unauthenticated
        );
        assert_eq!(
            code(p.check(append, Some(b"Bearer secret-reader"))),
            Code::PermissionDenied
        );
        assert_eq!(
            code(p.check(append, Some(b"Bearer secret-writer"))),
            Code::Ok
        );
        assert_eq!(
            code(p.check("/eventlog.v1.EventLog/Unheard", Some(b"Bearer secret-boss"))),
            Code::PermissionDenied
        );
        assert_eq!(
            code(p.check("/grpc.health.v1.Health/Check", None)),
            Code::Ok
        );
        let reflection = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
        assert_eq!(code(p.check(reflection, None)), Code::Unauthenticated);
        assert_eq!(
            code(p.check(reflection, Some(b"Bearer secret-reader"))),
            Code::Ok
        );
    }

    #[test]
    fn without_tokens_everything_is_open() {
        let p = AccessPolicy::new(&[], false).expect("empty");
        assert_eq!(
            code(p.check("/eventlog.v1.EventLog/Append", None)),
            Code::Ok
        );
    }

    #[test]
    fn bad_hashes_and_duplicate_names_are_refused() {
        let bad = TokenConfig {
            name: "x".into(),
            sha256: "ABC".into(),
            role: Role::Read,
        };
        assert!(AccessPolicy::new(&[bad], false).is_err());
        let good = TokenConfig {
            name: "x".into(),
            sha256: hash_token("t"),
            role: Role::Read,
        };
        assert!(AccessPolicy::new(&[good.clone(), good], false).is_err());
    }
}
