//! `Backup`: a consistent point-in-time copy of the log, streamed as checksummed chunks while
//! appends go on.
//!
//! Consistent because the log is append-only: the records up to the head read at the start
//! never change, however much is appended meanwhile. The subscriptions are read *before* that
//! head, so no checkpoint in the copy lies past its last record. Each record is verified as it
//! is read (a damaged one ends the backup with `DATA_LOSS` naming its position, never copies
//! it) and travels as stored, so a restore is byte-identical up to the backup's position.

use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::mpsc;
use tonic::Status;

use crate::backup::{self, KindCounts, RunningDigest, FORMAT_VERSION};
use crate::domain::{Position, Vocabulary};
use crate::proto::{self, backup_section::Section};
use crate::store::{restore, Store, StoreError};

use super::{blocking, to_proto};

/// Records per chunk at most, and bytes (a chunk ends after the record that reaches it).
const RECORDS_PER_CHUNK: usize = 1024;
const BYTES_PER_CHUNK: usize = 1024 * 1024;
/// Chunks buffered ahead of the client.
const BUFFER: usize = 4;

/// The chunks of a backup of `store`, produced as the client reads them.
pub fn backup(
    store: &Arc<Store>,
    vocabulary: &Vocabulary,
) -> mpsc::Receiver<Result<proto::BackupChunk, Status>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    let store = Arc::clone(store);
    let relations: Vec<proto::RelationType> = vocabulary
        .relations()
        .map(to_proto::relation_type)
        .collect();
    tokio::spawn(async move {
        if let Err(status) = produce(store, relations, &tx).await {
            let _ = tx.send(Err(status)).await;
        }
    });
    rx
}

/// Sends every chunk; `Err` ends the stream with that status (also when the client left, in
/// which case nobody reads it).
async fn produce(
    store: Arc<Store>,
    relations: Vec<proto::RelationType>,
    tx: &mpsc::Sender<Result<proto::BackupChunk, Status>>,
) -> Result<(), Status> {
    let subscriptions = {
        let store = Arc::clone(&store);
        blocking(move || store.subscriptions()).await??
    };
    let head = store.head();
    tracing::info!(position = head.0, "backup started");
    let mut sender = Sender {
        tx,
        sequence: 0,
        digest: RunningDigest::default(),
    };
    sender
        .send(Section::Header(proto::BackupHeader {
            format_version: FORMAT_VERSION,
            position: head.0,
            created_at: Some(proto::timestamp(SystemTime::now())),
            server_version: env!("CARGO_PKG_VERSION").to_string(),
        }))
        .await?;
    sender
        .send(Section::Vocabulary(proto::BackupVocabulary { relations }))
        .await?;
    let mut kinds = KindCounts::default();
    let mut next = Position(1);
    while next <= head {
        let read = {
            let store = Arc::clone(&store);
            blocking(move || {
                let stored = store.read_stored(next, head, RECORDS_PER_CHUNK, BYTES_PER_CHUNK)?;
                let mut kinds = KindCounts::default();
                for entry in &stored {
                    kinds.add(entry.view()?.kind());
                }
                Ok::<_, StoreError>((stored, kinds))
            })
            .await??
        };
        let (stored, read_kinds) = read;
        kinds.add_all(read_kinds);
        let first = next;
        next = Position(next.0 + stored.len() as u64);
        let records = stored.iter().map(|s| s.record().clone()).collect();
        sender
            .send(Section::Records(proto::BackupRecords {
                first_position: first.0,
                records,
            }))
            .await?;
    }
    let count = subscriptions.len() as u64;
    let encoded = subscriptions
        .into_iter()
        .map(|(name, state)| {
            Ok(proto::BackupSubscription {
                name,
                state: restore::encode_subscription(&state)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    sender
        .send(Section::Subscriptions(proto::BackupSubscriptions {
            subscriptions: encoded,
        }))
        .await?;
    let digest = sender.digest.value();
    sender
        .send(Section::Trailer(proto::BackupTrailer {
            entries: head.0,
            actor_entries: kinds.actor,
            event_entries: kinds.event,
            claim_entries: kinds.claim,
            subscriptions: count,
            digest,
        }))
        .await?;
    tracing::info!(position = head.0, chunks = sender.sequence, "backup sent");
    Ok(())
}

/// Numbers the chunks and keeps the running digest of what was sent.
struct Sender<'a> {
    tx: &'a mpsc::Sender<Result<proto::BackupChunk, Status>>,
    sequence: u64,
    digest: RunningDigest,
}

impl Sender<'_> {
    async fn send(&mut self, section: Section) -> Result<(), Status> {
        let chunk = backup::chunk(self.sequence, section);
        self.digest.add(&chunk);
        self.sequence += 1;
        self.tx
            .send(Ok(chunk))
            .await
            .map_err(|_| Status::cancelled("the client went away"))
    }
}
