//! The consumer groups' series, labelled by group. Group names are not a fixed set, but the
//! server holds at most `domain::group::MAX_GROUPS` of them and only an admin creates them, so
//! the series stay bounded; a deleted group's series go with it.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Group = [(&'static str, String); 1];

/// What each running group reports at the end of every turn of its task.
#[derive(Clone, Default)]
pub struct GroupMetrics {
    lag: Family<Group, Gauge>,
    in_flight: Family<Group, Gauge>,
    waiting: Family<Group, Gauge>,
    members: Family<Group, Gauge>,
    acked: Family<Group, Counter>,
    redelivered: Family<Group, Counter>,
    parked: Family<Group, Counter>,
}

/// A group's figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupGauges {
    /// The head minus the position every entry up to which is acked or parked.
    pub lag: u64,
    /// Deliveries at members.
    pub in_flight: usize,
    /// Entries waiting for a member.
    pub waiting: usize,
    /// Members joined.
    pub members: usize,
}

fn label(group: &str) -> Group {
    [("group", group.to_string())]
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl GroupMetrics {
    /// Registers the series in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "eventlog_group_lag_entries",
            "Log head minus the position through which a consumer group has acked or parked everything",
            self.lag.clone(),
        );
        registry.register(
            "eventlog_group_in_flight",
            "Entries delivered to a consumer group's members and not yet acked",
            self.in_flight.clone(),
        );
        registry.register(
            "eventlog_group_waiting",
            "Entries a consumer group has read and not yet delivered (new, nacked or given back)",
            self.waiting.clone(),
        );
        registry.register(
            "eventlog_group_members",
            "Members joined to a consumer group now",
            self.members.clone(),
        );
        registry.register(
            "eventlog_group_acked",
            "Entries a consumer group's members acked (stored durably)",
            self.acked.clone(),
        );
        registry.register(
            "eventlog_group_redelivered",
            "Deliveries that failed and were made again (nack, ack_wait run out, member gone)",
            self.redelivered.clone(),
        );
        registry.register(
            "eventlog_group_parked",
            "Entries a consumer group parked after max_deliver attempts",
            self.parked.clone(),
        );
    }

    /// A group's gauges now.
    pub fn observed(&self, group: &str, gauges: GroupGauges) {
        let l = label(group);
        self.lag.get_or_create(&l).set(gauge(gauges.lag));
        self.in_flight
            .get_or_create(&l)
            .set(gauge(gauges.in_flight as u64));
        self.waiting
            .get_or_create(&l)
            .set(gauge(gauges.waiting as u64));
        self.members
            .get_or_create(&l)
            .set(gauge(gauges.members as u64));
    }

    /// Counts acks, redeliveries and parkings of a turn.
    pub fn counted(&self, group: &str, acked: u64, redelivered: u64, parked: u64) {
        let l = label(group);
        if acked > 0 {
            self.acked.get_or_create(&l).inc_by(acked);
        }
        if redelivered > 0 {
            self.redelivered.get_or_create(&l).inc_by(redelivered);
        }
        if parked > 0 {
            self.parked.get_or_create(&l).inc_by(parked);
        }
    }

    /// The group is gone: its series go too.
    pub fn removed(&self, group: &str) {
        let l = label(group);
        for family in [&self.lag, &self.in_flight, &self.waiting, &self.members] {
            family.remove(&l);
        }
        for family in [&self.acked, &self.redelivered, &self.parked] {
            family.remove(&l);
        }
    }
}
