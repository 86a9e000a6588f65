//! The consumer groups' wire types to the domain's and back: names, durations, settings
//! (zero fields take their defaults, then every limit is checked), group descriptions and the
//! positions an admin selects. Every field of the wire is checked here, never trusted.

use std::time::Duration;

use tonic::Status;

use crate::domain::group::{
    Dispatch, GroupConfig, GroupName, GroupSettings, DEFAULT_ACK_WAIT, DEFAULT_MAX_ACK_PENDING,
    DEFAULT_MAX_DELIVER, MAX_WAIT,
};
use crate::domain::{InvalidField, Position};
use crate::proto;

use super::to_proto;

/// Positions one replay or drop request may name.
const MAX_SELECTED: usize = 10_000;

pub(super) fn name(text: &str) -> Result<GroupName, Status> {
    GroupName::parse(text).map_err(|reason| InvalidField::new("name", reason).into())
}

/// A wire duration, checked: `field` names it in errors.
pub(super) fn duration(field: &str, d: &pbjson_types::Duration) -> Result<Duration, InvalidField> {
    if d.seconds < 0 || !(0..1_000_000_000).contains(&d.nanos) {
        return Err(InvalidField::new(
            field,
            "is negative or has nanos outside 0..1e9; give a positive duration",
        ));
    }
    let seconds = u64::try_from(d.seconds).unwrap_or(u64::MAX);
    if seconds > MAX_WAIT.as_secs() {
        return Err(InvalidField::new(
            field,
            "is longer than 1 h; give at most 1 h",
        ));
    }
    Ok(Duration::new(seconds, d.nanos as u32))
}

/// Wire settings to checked domain settings, zero fields taking their defaults.
pub(super) fn settings(wire: Option<proto::GroupSettings>) -> Result<GroupSettings, Status> {
    let wire = wire.unwrap_or_default();
    let dispatch = match proto::DispatchMode::try_from(wire.dispatch) {
        Ok(proto::DispatchMode::Unspecified | proto::DispatchMode::RoundRobin) => {
            Dispatch::RoundRobin
        }
        Ok(proto::DispatchMode::PinnedByActor) => Dispatch::PinnedByActor,
        Err(_) => {
            return Err(InvalidField::new(
                "settings.dispatch",
                "is not a DispatchMode; give DISPATCH_MODE_ROUND_ROBIN or DISPATCH_MODE_PINNED_BY_ACTOR",
            )
            .into())
        }
    };
    let ack_wait = match &wire.ack_wait {
        None => DEFAULT_ACK_WAIT,
        Some(d) => duration("settings.ack_wait", d)?,
    };
    let backoff = wire
        .backoff
        .iter()
        .enumerate()
        .map(|(i, d)| duration(&format!("settings.backoff[{i}]"), d))
        .collect::<Result<Vec<_>, _>>()?;
    let settings = GroupSettings {
        dispatch,
        ack_wait,
        max_deliver: match wire.max_deliver {
            0 => DEFAULT_MAX_DELIVER,
            n => n,
        },
        backoff,
        max_ack_pending: match wire.max_ack_pending {
            0 => DEFAULT_MAX_ACK_PENDING,
            n => n,
        },
    };
    settings.check()?;
    Ok(settings)
}

pub(super) fn wire_duration(d: Duration) -> pbjson_types::Duration {
    pbjson_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos() as i32,
    }
}

pub(super) fn info(name: &GroupName, config: GroupConfig) -> proto::GroupInfo {
    let s = config.settings;
    proto::GroupInfo {
        name: name.to_string(),
        filter: Some(to_proto::filter(config.filter)),
        start_position: config.start.0,
        settings: Some(proto::GroupSettings {
            dispatch: match s.dispatch {
                Dispatch::RoundRobin => proto::DispatchMode::RoundRobin,
                Dispatch::PinnedByActor => proto::DispatchMode::PinnedByActor,
            } as i32,
            ack_wait: Some(wire_duration(s.ack_wait)),
            max_deliver: s.max_deliver,
            backoff: s.backoff.into_iter().map(wire_duration).collect(),
            max_ack_pending: s.max_ack_pending,
        }),
        created_at: Some(proto::timestamp(config.created_at)),
    }
}

/// The positions a replay or drop names; none = all.
pub(super) fn selection(positions: &[u64]) -> Result<Vec<Position>, Status> {
    if positions.len() > MAX_SELECTED {
        return Err(InvalidField::of(
            crate::domain::FieldProblem::TooLarge,
            "positions",
            format!(
                "names {} positions; name at most {MAX_SELECTED}, or none for all",
                positions.len()
            ),
        )
        .into());
    }
    Ok(positions.iter().copied().map(Position).collect())
}
