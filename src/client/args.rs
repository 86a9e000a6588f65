//! The command line of the client subcommands (`import`, `export`, `query`, `tail`, `actors`,
//! `info`). Each maps onto one or two RPCs; the flags carry the RPC's field names so the
//! `.proto` documents them too.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::proto;

/// Where the server is and how to reach it; shared by every client subcommand.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's address: `http://HOST:PORT`, or `https://HOST:PORT` for TLS (which then
    /// needs --ca-cert).
    #[arg(long, env = "EVENTLOG_ADDR", default_value = "http://127.0.0.1:50051")]
    pub addr: String,

    /// Bearer token sent with every call, for servers with access tokens. Prefer the
    /// environment variable: a flag shows up in process listings. [default: none]
    #[arg(long, env = "EVENTLOG_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// CA certificate (PEM) the server's certificate must be signed by; turns on TLS.
    /// [default: none, plaintext]
    #[arg(long, env = "EVENTLOG_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// Client certificate (PEM) for servers that require mutual TLS; needs --client-key.
    /// [default: none]
    #[arg(long, env = "EVENTLOG_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<PathBuf>,

    /// Private key (PEM) of --client-cert. [default: none]
    #[arg(long, env = "EVENTLOG_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,

    /// Name to check the server's certificate against, when it differs from the host in
    /// --addr (e.g. connecting by IP address). [default: the host of --addr]
    #[arg(long, env = "EVENTLOG_TLS_DOMAIN")]
    pub tls_domain: Option<String>,
}

/// Input formats of `eventlog import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// One log entry a line in the proto3 JSON mapping, as `eventlog export` writes it.
    Ndjson,
    /// GDELT 2.0 event export: 61 tab-separated columns, no header.
    Gdelt,
    /// ACLED CSV export with its header row.
    Acled,
}

/// `eventlog import`
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,

    /// The format of the input files.
    #[arg(long, value_enum)]
    pub format: ImportFormat,

    /// Files to import, in order; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Entries per Append call (1 to 1000). Each batch is written atomically.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch_size: u16,

    /// Check everything (parsing, then the server's rules with `validate_only`) and report what
    /// would be appended, writing nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Report malformed or refused lines and go on with the rest. Without it the first one
    /// stops the import; the batch it was in is not written.
    #[arg(long)]
    pub skip_invalid: bool,

    /// Never draw the progress bar (it is only drawn when stderr is a terminal anyway).
    #[arg(long)]
    pub quiet: bool,
}

/// Output formats of `eventlog export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One entry a line in the proto3 JSON mapping (lowerCamelCase fields, enum names).
    Ndjson,
}

/// Which entries of the log to follow or export: the `SubscriptionFilter` of the API.
#[derive(Debug, Clone, Default, Args)]
pub struct LogFilterArgs {
    /// Only entries of this kind (repeatable).
    #[arg(long = "kind", value_enum)]
    pub kinds: Vec<EntryKindArg>,

    /// Only entries involving this actor: id, name or alias (repeatable: any of them).
    #[arg(long = "actor")]
    pub actors: Vec<String>,

    /// Only entries with this relation key (repeatable: any of them).
    #[arg(long = "relation")]
    pub relations: Vec<String>,

    /// Only entries whose date may fall on or after this EDTF date.
    #[arg(long = "from")]
    pub date_from: Option<String>,

    /// Only entries whose date may fall on or before this EDTF date.
    #[arg(long = "to")]
    pub date_to: Option<String>,

    /// Only entries at least this certain.
    #[arg(long, value_enum)]
    pub min_certainty: Option<CertaintyArg>,
}

/// `eventlog export`
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Ndjson)]
    pub format: ExportFormat,

    /// First position to export.
    #[arg(long, default_value_t = 1)]
    pub from_position: u64,

    /// Write to this file instead of standard output (replaced if it exists).
    #[arg(long, short)]
    pub output: Option<PathBuf>,

    /// Which entries.
    #[command(flatten)]
    pub filter: LogFilterArgs,
}

/// `eventlog tail`
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,

    /// Start at this position (history first, then live). [default: only new entries]
    #[arg(long)]
    pub from_position: Option<u64>,

    /// Print each entry as one JSON line (the export format) instead of a readable line.
    #[arg(long)]
    pub json: bool,

    /// Stop after this many entries. [default: follow until interrupted]
    #[arg(long)]
    pub limit: Option<u64>,

    /// Which entries.
    #[command(flatten)]
    pub filter: LogFilterArgs,
}

/// `eventlog query ...`
#[derive(Debug, Clone, Subcommand)]
pub enum QueryCommand {
    /// Events by actor, counterpart, relation, date, country and certainty (QueryEvents).
    Events(QueryEventsArgs),
    /// Claims by subject, object, claimant, relation, event, date, certainty (QueryClaims).
    Claims(QueryClaimsArgs),
    /// The relation graph around an actor: who did what to whom, and when (ListRelations).
    Relations(QueryRelationsArgs),
}

/// Output and paging shared by the query subcommands.
#[derive(Debug, Clone, Args)]
pub struct QueryOutput {
    /// Print JSON (one entry or edge a line) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Most results to print; pages are fetched until it is reached.
    #[arg(long, default_value_t = 100)]
    pub limit: u64,
}

/// Date filtering shared by the event and claim queries.
#[derive(Debug, Clone, Args)]
pub struct DateArgs {
    /// Earliest date of interest (EDTF, e.g. 2022 or 2022-03). [default: unbounded]
    #[arg(long = "from")]
    pub date_from: Option<String>,

    /// Latest date of interest (EDTF). [default: unbounded]
    #[arg(long = "to")]
    pub date_to: Option<String>,

    /// `overlaps`: the date may fall in the range; `within`: it surely does.
    #[arg(long, value_enum, default_value_t = DateMatchArg::Overlaps)]
    pub date_match: DateMatchArg,

    /// Result order.
    #[arg(long, value_enum, default_value_t = OrderArg::DateAscending)]
    pub order: OrderArg,

    /// Answer as the log stood at this position. [default: the head]
    #[arg(long)]
    pub as_of_position: Option<u64>,

    /// Also return entries a later correction superseded.
    #[arg(long)]
    pub include_superseded: bool,
}

/// `eventlog query events`
#[derive(Debug, Clone, Args)]
pub struct QueryEventsArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,
    /// Events this actor takes part in (id, name or alias).
    #[arg(long)]
    pub actor: Option<String>,
    /// The actor's role in them.
    #[arg(long, value_enum, requires = "actor")]
    pub role: Option<RoleArg>,
    /// Events the actor shares with this other actor.
    #[arg(long, requires = "actor")]
    pub counterpart: Option<String>,
    /// Relation key (repeatable: any of them).
    #[arg(long = "relation")]
    pub relations: Vec<String>,
    /// ISO 3166-1 alpha-3 country of the event's location.
    #[arg(long)]
    pub country: Option<String>,
    /// At least this certain.
    #[arg(long, value_enum)]
    pub min_certainty: Option<CertaintyArg>,
    /// Dates, order and snapshot.
    #[command(flatten)]
    pub dates: DateArgs,
    /// Output format and limit.
    #[command(flatten)]
    pub output: QueryOutput,
}

/// `eventlog query claims`
#[derive(Debug, Clone, Args)]
pub struct QueryClaimsArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,
    /// Claims about this actor as subject.
    #[arg(long)]
    pub subject: Option<String>,
    /// Claims with this actor as object.
    #[arg(long)]
    pub object: Option<String>,
    /// Claims made by this actor.
    #[arg(long)]
    pub claimant: Option<String>,
    /// Claims involving this actor in any of those places.
    #[arg(long)]
    pub actor: Option<String>,
    /// Relation key (repeatable: any of them).
    #[arg(long = "relation")]
    pub relations: Vec<String>,
    /// Claims about this event.
    #[arg(long)]
    pub event_id: Option<String>,
    /// At least this certain.
    #[arg(long, value_enum)]
    pub min_certainty: Option<CertaintyArg>,
    /// At most this certain (e.g. `reported` for everything not confirmed).
    #[arg(long, value_enum)]
    pub max_certainty: Option<CertaintyArg>,
    /// Only denials (`true`) or only assertions (`false`). [default: both]
    #[arg(long)]
    pub negated: Option<bool>,
    /// Dates, order and snapshot.
    #[command(flatten)]
    pub dates: DateArgs,
    /// Output format and limit.
    #[command(flatten)]
    pub output: QueryOutput,
}

/// `eventlog query relations`
#[derive(Debug, Clone, Args)]
pub struct QueryRelationsArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,
    /// The actor at the centre (id, name or alias).
    #[arg(long)]
    pub actor: String,
    /// Relations the actor is the subject of (`outgoing`), the object of, or both.
    #[arg(long, value_enum, default_value_t = DirectionArg::Both)]
    pub direction: DirectionArg,
    /// Relation key (repeatable: any of them). [default: all]
    #[arg(long = "relation")]
    pub relations: Vec<String>,
    /// Only edges with this other actor.
    #[arg(long)]
    pub counterpart: Option<String>,
    /// Earliest date of interest (EDTF). [default: unbounded]
    #[arg(long = "from")]
    pub date_from: Option<String>,
    /// Latest date of interest (EDTF). [default: unbounded]
    #[arg(long = "to")]
    pub date_to: Option<String>,
    /// Evidence at least this certain.
    #[arg(long, value_enum)]
    pub min_certainty: Option<CertaintyArg>,
    /// Answer as the log stood at this position. [default: the head]
    #[arg(long)]
    pub as_of_position: Option<u64>,
    /// Output format and limit.
    #[command(flatten)]
    pub output: QueryOutput,
}

/// `eventlog actors ...`
#[derive(Debug, Clone, Subcommand)]
pub enum ActorsCommand {
    /// Find actors by id, name or alias, best match first (ResolveActor).
    Resolve(ResolveArgs),
}

/// `eventlog actors resolve`
#[derive(Debug, Clone, Args)]
pub struct ResolveArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,
    /// The name to look for; case, diacritics, apostrophes and punctuation are ignored.
    pub name: String,
    /// Most matches to print.
    #[arg(long, default_value_t = 10)]
    pub limit: u32,
    /// Print JSON (one actor a line) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `eventlog info`
#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,
    /// Print the LogInfo message as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Entry kinds, as flags spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntryKindArg {
    /// Actors and their revisions.
    Actor,
    /// Events.
    Event,
    /// Claims.
    Claim,
}

impl From<EntryKindArg> for proto::EntryKind {
    fn from(kind: EntryKindArg) -> proto::EntryKind {
        match kind {
            EntryKindArg::Actor => proto::EntryKind::Actor,
            EntryKindArg::Event => proto::EntryKind::Event,
            EntryKindArg::Claim => proto::EntryKind::Claim,
        }
    }
}

/// Certainty levels, strongest first, as flags spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertaintyArg {
    /// Confirmed by the actors or independent sources.
    Confirmed,
    /// Reported by credible sources.
    Reported,
    /// Said without support ("reports surfaced").
    Alleged,
    /// Inferred or suggested.
    Speculated,
    /// Contested.
    Disputed,
}

impl From<CertaintyArg> for proto::Certainty {
    fn from(certainty: CertaintyArg) -> proto::Certainty {
        match certainty {
            CertaintyArg::Confirmed => proto::Certainty::Confirmed,
            CertaintyArg::Reported => proto::Certainty::Reported,
            CertaintyArg::Alleged => proto::Certainty::Alleged,
            CertaintyArg::Speculated => proto::Certainty::Speculated,
            CertaintyArg::Disputed => proto::Certainty::Disputed,
        }
    }
}

/// Participant roles, as flags spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// The actor who acts.
    Initiator,
    /// The actor acted upon.
    Target,
    /// Taking part without a direction.
    Participant,
    /// Backing a side.
    Supporter,
}

impl From<RoleArg> for proto::Role {
    fn from(role: RoleArg) -> proto::Role {
        match role {
            RoleArg::Initiator => proto::Role::Initiator,
            RoleArg::Target => proto::Role::Target,
            RoleArg::Participant => proto::Role::Participant,
            RoleArg::Supporter => proto::Role::Supporter,
        }
    }
}

/// How a date range matches, as flags spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DateMatchArg {
    /// The date may fall in the range.
    Overlaps,
    /// The date surely falls in the range.
    Within,
}

impl From<DateMatchArg> for proto::DateMatch {
    fn from(date_match: DateMatchArg) -> proto::DateMatch {
        match date_match {
            DateMatchArg::Overlaps => proto::DateMatch::Overlaps,
            DateMatchArg::Within => proto::DateMatch::Within,
        }
    }
}

/// Result orders, as flags spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// Earliest first.
    DateAscending,
    /// Latest first.
    DateDescending,
    /// Log order.
    Position,
}

impl From<OrderArg> for proto::QueryOrder {
    fn from(order: OrderArg) -> proto::QueryOrder {
        match order {
            OrderArg::DateAscending => proto::QueryOrder::DateAscending,
            OrderArg::DateDescending => proto::QueryOrder::DateDescending,
            OrderArg::Position => proto::QueryOrder::Position,
        }
    }
}

/// Edge directions, as flags spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    /// The actor is the subject.
    Outgoing,
    /// The actor is the object.
    Incoming,
    /// Either.
    Both,
}

impl From<DirectionArg> for proto::Direction {
    fn from(direction: DirectionArg) -> proto::Direction {
        match direction {
            DirectionArg::Outgoing => proto::Direction::Outgoing,
            DirectionArg::Incoming => proto::Direction::Incoming,
            DirectionArg::Both => proto::Direction::Both,
        }
    }
}

/// `eventlog backup`
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Where the server is (an admin token is needed when the server checks tokens).
    #[command(flatten)]
    pub connection: Connection,
    /// The backup file to write. It appears only once complete and verified (written as
    /// FILE.partial until then); an existing file is not overwritten.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}
