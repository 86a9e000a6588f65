//! `eventlog groups ...`: create, list, describe and delete consumer groups, and list, replay
//! or drop their parked entries, one RPC each (the `ConsumerGroups` service). Its flags live
//! here rather than in `args`, which holds the other subcommands' and is long enough.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::args::{Connection, LogFilterArgs};
use super::connect::connect_groups;
use super::error::ClientError;
use crate::proto;

/// `eventlog groups`
#[derive(Debug, Clone, Subcommand)]
pub enum GroupsCommand {
    /// Create a group (admin): members share its stream with acks, redelivery and parking.
    Create(CreateArgs),
    /// List every group with its settings.
    List(ListArgs),
    /// A group's settings and state: lag, in flight, parked, members.
    Describe(NamedArgs),
    /// Delete a group, its progress and its parked entries (admin).
    Delete(NamedArgs),
    /// List a group's parked entries.
    Parked(NamedArgs),
    /// Give parked entries back to the group, with a fresh count of attempts (admin).
    Replay(SelectArgs),
    /// Drop parked entries for good (admin).
    Drop(SelectArgs),
}

/// Dispatch modes, as flags spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DispatchArg {
    /// Each entry to the next member with room.
    RoundRobin,
    /// An actor's entries to one member, in order.
    PinnedByActor,
}

/// `eventlog groups create`
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,
    /// The group's name (letters, digits, -_.:).
    pub name: String,
    /// Start at this position. [default: the beginning]
    #[arg(long, conflicts_with_all = ["from_end", "from_time"])]
    pub from_position: Option<u64>,
    /// Start with the entries appended from now on.
    #[arg(long, conflicts_with = "from_time")]
    pub from_end: bool,
    /// Start at the first entry recorded at or after this RFC 3339 time
    /// (2026-01-31T12:00:00Z).
    #[arg(long)]
    pub from_time: Option<String>,
    /// How entries are spread over members.
    #[arg(long, value_enum, default_value = "round-robin")]
    pub dispatch: DispatchArg,
    /// Milliseconds a member has to ack a delivery. [default: 30000]
    #[arg(long)]
    pub ack_wait_ms: Option<u64>,
    /// Deliveries of an entry before it is parked. [default: 5]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub max_deliver: u32,
    /// Waits before redeliveries, in milliseconds, comma-separated (100,1000,10000).
    #[arg(long, value_delimiter = ',')]
    pub backoff_ms: Vec<u64>,
    /// Entries outstanding at most. [default: 1000]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub max_ack_pending: u32,
    /// Which entries the group delivers.
    #[command(flatten)]
    pub filter: LogFilterArgs,
}

/// `eventlog groups list`
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,
    /// Print the response as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A subcommand about one group.
#[derive(Debug, Clone, Args)]
pub struct NamedArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,
    /// The group.
    pub name: String,
    /// Print the response as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `eventlog groups replay|drop`
#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Where the server is.
    #[command(flatten)]
    pub connection: Connection,
    /// The group.
    pub name: String,
    /// Only this parked position (repeatable). [default: every parked entry]
    #[arg(long = "position")]
    pub positions: Vec<u64>,
}

fn millis(ms: u64) -> pbjson_types::Duration {
    pbjson_types::Duration {
        seconds: i64::try_from(ms / 1000).unwrap_or(i64::MAX),
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

fn json(value: &impl serde::Serialize) -> Result<String, ClientError> {
    serde_json::to_string(value).map_err(|e| ClientError::Encode(e.to_string()))
}

fn print(text: &str) -> Result<ExitCode, ClientError> {
    writeln!(std::io::stdout().lock(), "{text}").map_err(ClientError::Output)?;
    Ok(ExitCode::SUCCESS)
}

/// One line per group: name, start, dispatch, ack_wait, max_deliver, max_ack_pending.
fn describe_info(info: &proto::GroupInfo) -> String {
    let s = info.settings.clone().unwrap_or_default();
    let dispatch = match proto::DispatchMode::try_from(s.dispatch) {
        Ok(proto::DispatchMode::PinnedByActor) => "pinned_by_actor",
        _ => "round_robin",
    };
    let ack_wait = s
        .ack_wait
        .map_or(0, |d| d.seconds * 1000 + i64::from(d.nanos) / 1_000_000);
    format!(
        "{}  start {}  {dispatch}  ack_wait {ack_wait} ms  max_deliver {}  max_ack_pending {}",
        info.name, info.start_position, s.max_deliver, s.max_ack_pending
    )
}

/// Runs a `groups` subcommand.
pub async fn run(command: GroupsCommand) -> Result<ExitCode, ClientError> {
    match command {
        GroupsCommand::Create(args) => create(args).await,
        GroupsCommand::List(args) => {
            let mut client = connect_groups(&args.connection).await?;
            let groups = client
                .list_groups(proto::ListGroupsRequest {})
                .await
                .map_err(ClientError::rpc("ListGroups"))?
                .into_inner();
            if args.json {
                return print(&json(&groups)?);
            }
            let lines: Vec<String> = groups.groups.iter().map(describe_info).collect();
            print(&lines.join("\n"))
        }
        GroupsCommand::Describe(args) => {
            let mut client = connect_groups(&args.connection).await?;
            let described = client
                .describe_group(proto::DescribeGroupRequest { name: args.name })
                .await
                .map_err(ClientError::rpc("DescribeGroup"))?
                .into_inner();
            if args.json {
                return print(&json(&described)?);
            }
            let state = described.state.unwrap_or_default();
            let mut lines = vec![
                described
                    .group
                    .as_ref()
                    .map(describe_info)
                    .unwrap_or_default(),
                format!("next position  {}", state.next_position),
                format!("acked through  {}", state.acked_through),
                format!("lag            {}", state.lag),
                format!("in flight      {}", state.in_flight),
                format!("waiting        {}", state.waiting),
                format!("parked         {}", state.parked),
                format!("replaying      {}", state.replaying),
                format!("members        {}", state.members.len()),
            ];
            for m in &state.members {
                lines.push(format!(
                    "  member {}  in flight {} of {}",
                    m.member_id, m.in_flight, m.max_in_flight
                ));
            }
            print(&lines.join("\n"))
        }
        GroupsCommand::Delete(args) => {
            let mut client = connect_groups(&args.connection).await?;
            client
                .delete_group(proto::DeleteGroupRequest {
                    name: args.name.clone(),
                })
                .await
                .map_err(ClientError::rpc("DeleteGroup"))?;
            print(&format!("deleted {}", args.name))
        }
        GroupsCommand::Parked(args) => parked(args).await,
        GroupsCommand::Replay(args) => {
            let mut client = connect_groups(&args.connection).await?;
            let replayed = client
                .replay_parked(proto::ReplayParkedRequest {
                    name: args.name,
                    positions: args.positions,
                })
                .await
                .map_err(ClientError::rpc("ReplayParked"))?
                .into_inner();
            print(&format!("replayed {}", replayed.replayed))
        }
        GroupsCommand::Drop(args) => {
            let mut client = connect_groups(&args.connection).await?;
            let dropped = client
                .drop_parked(proto::DropParkedRequest {
                    name: args.name,
                    positions: args.positions,
                })
                .await
                .map_err(ClientError::rpc("DropParked"))?
                .into_inner();
            print(&format!("dropped {}", dropped.dropped))
        }
    }
}

async fn create(args: CreateArgs) -> Result<ExitCode, ClientError> {
    use proto::create_group_request::Start;
    let start = match (args.from_position, args.from_end, &args.from_time) {
        (Some(p), _, _) => Some(Start::FromPosition(p)),
        (_, true, _) => Some(Start::FromEnd(true)),
        (_, _, Some(time)) => Some(Start::FromTime(
            serde_json::from_value(serde_json::Value::String(time.clone())).map_err(|_| {
                ClientError::Usage(format!(
                    "--from-time {time:?} is not an RFC 3339 time such as 2026-01-31T12:00:00Z"
                ))
            })?,
        )),
        _ => None,
    };
    let settings = proto::GroupSettings {
        dispatch: match args.dispatch {
            DispatchArg::RoundRobin => proto::DispatchMode::RoundRobin,
            DispatchArg::PinnedByActor => proto::DispatchMode::PinnedByActor,
        } as i32,
        ack_wait: args.ack_wait_ms.map(millis),
        max_deliver: args.max_deliver,
        backoff: args.backoff_ms.iter().copied().map(millis).collect(),
        max_ack_pending: args.max_ack_pending,
    };
    let mut client = connect_groups(&args.connection).await?;
    let created = client
        .create_group(proto::CreateGroupRequest {
            name: args.name,
            filter: super::follow::filter(&args.filter),
            start,
            settings: Some(settings),
        })
        .await
        .map_err(ClientError::rpc("CreateGroup"))?
        .into_inner();
    print(&format!(
        "created {}",
        created
            .group
            .as_ref()
            .map(describe_info)
            .unwrap_or_default()
    ))
}

async fn parked(args: NamedArgs) -> Result<ExitCode, ClientError> {
    let mut client = connect_groups(&args.connection).await?;
    let mut after = 0;
    let mut out = std::io::stdout().lock();
    loop {
        let page = client
            .list_parked(proto::ListParkedRequest {
                name: args.name.clone(),
                after_position: after,
                limit: 1000,
            })
            .await
            .map_err(ClientError::rpc("ListParked"))?
            .into_inner();
        let Some(last) = page.parked.last().map(|p| p.position) else {
            return Ok(ExitCode::SUCCESS);
        };
        for p in &page.parked {
            let line = if args.json {
                json(p)?
            } else {
                format!("{}  attempts {}", p.position, p.attempts)
            };
            writeln!(out, "{line}").map_err(ClientError::Output)?;
        }
        after = last;
    }
}
