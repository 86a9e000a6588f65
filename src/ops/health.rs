//! The standard `grpc.health.v1.Health` service: `SERVING` while the server is up,
//! `NOT_SERVING` from the moment shutdown begins (`super::end_streams` then ends open
//! `Watch` streams, right after they delivered `NOT_SERVING`).

use tonic::server::NamedService;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::proto::event_log_server::EventLogServer;
use crate::service::EventLogService;

/// Sets what the health service reports.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
}

/// The health service to add to the server, and the handle that sets its statuses. Both the
/// server as a whole (`""`) and `eventlog.v1.EventLog` are reported.
pub async fn service() -> (
    Health,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    let (reporter, server) = tonic_health::server::health_reporter();
    let health = Health { reporter };
    health.set(ServingStatus::Serving).await;
    (health, server)
}

impl Health {
    /// Reports `NOT_SERVING`: the server is stopping.
    pub async fn shutting_down(&self) {
        self.set(ServingStatus::NotServing).await;
    }

    async fn set(&self, status: ServingStatus) {
        for name in ["", <EventLogServer<EventLogService> as NamedService>::NAME] {
            self.reporter.set_service_status(name, status).await;
        }
    }
}
