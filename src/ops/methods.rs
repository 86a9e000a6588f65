//! The one table of gRPC methods the server knows: who may call each one, and the bounded set
//! of names that logs and metrics use for them.
//!
//! Keyed by the full method path as it appears on the wire (`/package.Service/Method`), so the
//! access check needs nothing but the request's URI. A method missing from the table is denied
//! to every token (default deny): a new RPC is unreachable until someone decides who may call
//! it here.

use std::fmt;

/// What a token may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads, queries and subscriptions, including a consumer's own named subscription.
    Read,
    /// Everything `read` may do, plus `Append`.
    Append,
    /// Everything, including listing and deleting named subscriptions.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Read => "read",
            Role::Append => "append",
            Role::Admin => "admin",
        })
    }
}

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (health checks: load balancers and orchestrators carry none).
    Open,
    /// Tokens of this role or a higher one.
    Role(Role),
    /// Server reflection: `read`, unless the operator opened it (`--open-reflection`).
    Reflection,
}

/// How the server treats a method: its access rule and how it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// The full path, `/eventlog.v1.EventLog/Append`.
    pub path: &'static str,
    /// The short name used as a metric label and in logs.
    pub name: &'static str,
    /// Who may call it.
    pub access: Access,
    /// How it runs, which decides the limits that apply to it.
    pub kind: MethodKind,
    /// Whether its request is one message (every `EventLog` method and health checks) or a
    /// stream the client keeps writing (reflection). A one-message request is read whole
    /// before it takes a slot, so a client that never finishes sending holds none.
    pub request: RequestShape,
}

/// The shape of a method's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestShape {
    /// One message, then the end of the request.
    One,
    /// Messages for as long as the call lasts.
    Stream,
}

/// How a method runs, for the overload limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// One request, one response, bounded work: counted against the concurrent-request limit
    /// and cut off by the request timeout.
    Unary,
    /// A finite stream (`ReadLog`, queries, reflection): counted against the stream limit until
    /// it ends, never timed out (a large log takes as long as the client reads).
    Stream,
    /// `Subscribe`: open for as long as the client wants; counted against its own limit so
    /// idle subscribers never starve other calls.
    Subscription,
    /// Health checks: exempt from every limit, so an overloaded server still answers them.
    Health,
    /// `Health.Watch`: open to all and long-lived, so a pool of its own: callers without a
    /// token cannot take the stream slots of those with one.
    Watch,
}

/// An `eventlog.v1.EventLog` method: its path is the service's plus its name.
macro_rules! rpc {
    ($name:literal, $role:ident, $kind:ident) => {
        Method {
            path: concat!("/eventlog.v1.EventLog/", $name),
            name: $name,
            access: Access::Role(Role::$role),
            kind: MethodKind::$kind,
            request: RequestShape::One,
        }
    };
}

/// An `eventlog.v1.ConsumerGroups` method.
macro_rules! group_rpc {
    ($name:literal, $role:ident, $kind:ident, $request:ident) => {
        Method {
            path: concat!("/eventlog.v1.ConsumerGroups/", $name),
            name: $name,
            access: Access::Role(Role::$role),
            kind: MethodKind::$kind,
            request: RequestShape::$request,
        }
    };
}

/// Every method the server serves, with its rule.
///
/// `Subscribe` and `CommitCheckpoint` are `read`: a consumer that may read may follow the log,
/// create or resume its own named subscription and record how far it got. Listing and deleting
/// named subscriptions is `admin`. The access check sees only the method, not the request, so
/// `Subscribe` with or without a name is one rule.
pub const METHODS: &[Method] = &[
    rpc!("Append", Append, Unary),
    rpc!("GetEntry", Read, Unary),
    rpc!("ReadLog", Read, Stream),
    rpc!("GetActor", Read, Unary),
    rpc!("ResolveActor", Read, Unary),
    rpc!("ListActors", Read, Unary),
    rpc!("ListRelationTypes", Read, Unary),
    rpc!("GetLogInfo", Read, Unary),
    rpc!("Subscribe", Read, Subscription),
    rpc!("CommitCheckpoint", Read, Unary),
    rpc!("ListSubscriptions", Admin, Unary),
    rpc!("DeleteSubscription", Admin, Unary),
    // A whole copy of the log: admin only, a finite stream.
    rpc!("Backup", Admin, Stream),
    // The query RPCs: read-only, unary, one page (or one graph) per call.
    rpc!("QueryEvents", Read, Unary),
    rpc!("QueryClaims", Read, Unary),
    rpc!("ListRelations", Read, Unary),
    // Consumer groups: members (JoinGroup, a stream open as long as a subscription, whose
    // request is the member's acks) and readers of a group's state need `read`; changing a
    // group or its parked entries is `admin`.
    group_rpc!("CreateGroup", Admin, Unary, One),
    group_rpc!("UpdateGroup", Admin, Unary, One),
    group_rpc!("DeleteGroup", Admin, Unary, One),
    group_rpc!("ListGroups", Read, Unary, One),
    group_rpc!("DescribeGroup", Read, Unary, One),
    group_rpc!("JoinGroup", Read, Subscription, Stream),
    group_rpc!("ListParked", Read, Unary, One),
    group_rpc!("ReplayParked", Admin, Unary, One),
    group_rpc!("DropParked", Admin, Unary, One),
    Method {
        path: "/grpc.health.v1.Health/Check",
        name: "Health.Check",
        access: Access::Open,
        kind: MethodKind::Health,
        request: RequestShape::One,
    },
    Method {
        path: "/grpc.health.v1.Health/Watch",
        name: "Health.Watch",
        access: Access::Open,
        kind: MethodKind::Watch,
        request: RequestShape::One,
    },
    Method {
        path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        name: "Reflection.v1",
        access: Access::Reflection,
        kind: MethodKind::Stream,
        request: RequestShape::Stream,
    },
    Method {
        path: "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        name: "Reflection.v1alpha",
        access: Access::Reflection,
        kind: MethodKind::Stream,
        request: RequestShape::Stream,
    },
];

/// The name logs and metrics use for paths not in the table, so labels stay a fixed set.
pub const UNKNOWN_METHOD: &str = "unknown";

/// The entry of `path`, if the server knows it.
pub fn lookup(path: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_well_formed() {
        for (i, m) in METHODS.iter().enumerate() {
            assert!(
                m.path.starts_with('/') && m.path[1..].contains('/'),
                "{}",
                m.path
            );
            assert!(
                METHODS[i + 1..]
                    .iter()
                    .all(|o| o.path != m.path && o.name != m.name),
                "{} twice",
                m.path
            );
        }
    }

    #[test]
    fn the_query_rpcs_are_read_only() {
        for name in ["QueryEvents", "QueryClaims", "ListRelations"] {
            let method = lookup(&format!("/eventlog.v1.EventLog/{name}")).expect(name);
            assert_eq!(method.access, Access::Role(Role::Read));
        }
    }

    #[test]
    fn changing_a_group_needs_admin_and_joining_one_is_a_long_lived_stream() {
        for name in [
            "CreateGroup",
            "UpdateGroup",
            "DeleteGroup",
            "ReplayParked",
            "DropParked",
        ] {
            let method = lookup(&format!("/eventlog.v1.ConsumerGroups/{name}")).expect(name);
            assert_eq!(method.access, Access::Role(Role::Admin), "{name}");
        }
        let join = lookup("/eventlog.v1.ConsumerGroups/JoinGroup").expect("JoinGroup");
        assert_eq!(join.access, Access::Role(Role::Read));
        assert_eq!(join.kind, MethodKind::Subscription);
        assert_eq!(join.request, RequestShape::Stream);
    }

    #[test]
    fn roles_include_the_lower_ones() {
        assert!(Role::Read < Role::Append && Role::Append < Role::Admin);
    }
}
