//! `eventlog query events|claims|relations`, `eventlog actors resolve` and `eventlog info`:
//! one request built from the flags, pages fetched up to --limit, then a table or JSON lines.

use std::future::Future;
use std::io::Write;
use std::process::ExitCode;

use super::args::{
    InfoArgs, QueryClaimsArgs, QueryCommand, QueryEventsArgs, QueryOutput, QueryRelationsArgs,
    ResolveArgs,
};
use super::connect::connect;
use super::error::ClientError;
use super::render::{self, or_dash, Table};
use crate::import::ndjson::entry_line;
use crate::proto::{self, entry::Body};

/// Largest page asked for; the server caps pages too.
const PAGE_SIZE: u64 = 200;

/// Runs one of the query subcommands.
pub async fn run(command: QueryCommand) -> Result<ExitCode, ClientError> {
    match command {
        QueryCommand::Events(args) => events(args).await,
        QueryCommand::Claims(args) => claims(args).await,
        QueryCommand::Relations(args) => relations(args).await,
    }
}

fn certainty(value: Option<super::args::CertaintyArg>) -> i32 {
    value.map_or(0, |c| proto::Certainty::from(c) as i32)
}

/// Fetches pages until `limit` entries are in or the last page came. `fetch(page_size,
/// page_token)` asks for one page and answers its entries and the next page's token.
async fn collect_pages<F, Page>(limit: u64, mut fetch: F) -> Result<Vec<proto::Entry>, ClientError>
where
    F: FnMut(u32, String) -> Page,
    Page: Future<Output = Result<(Vec<proto::Entry>, String), ClientError>>,
{
    let mut entries = Vec::new();
    let mut page_token = String::new();
    loop {
        let page_size = limit
            .saturating_sub(entries.len() as u64)
            .clamp(1, PAGE_SIZE) as u32;
        let (page, next) = fetch(page_size, page_token).await?;
        entries.extend(page);
        if next.is_empty() || entries.len() as u64 >= limit {
            break;
        }
        page_token = next;
    }
    entries.truncate(limit as usize);
    Ok(entries)
}

async fn events(args: QueryEventsArgs) -> Result<ExitCode, ClientError> {
    let client = connect(&args.connection).await?;
    let dates = &args.dates;
    let request = proto::QueryEventsRequest {
        min_position: 0,
        actor: args.actor.clone().unwrap_or_default(),
        role: args.role.map_or(0, |r| proto::Role::from(r) as i32),
        counterpart: args.counterpart.clone().unwrap_or_default(),
        relations: args.relations.clone(),
        date_from: dates.date_from.clone().unwrap_or_default(),
        date_to: dates.date_to.clone().unwrap_or_default(),
        date_match: proto::DateMatch::from(dates.date_match) as i32,
        country: args.country.clone().unwrap_or_default(),
        min_certainty: certainty(args.min_certainty),
        as_of_position: dates.as_of_position.unwrap_or(0),
        include_superseded: dates.include_superseded,
        order: proto::QueryOrder::from(dates.order) as i32,
        page_size: 0,
        page_token: String::new(),
    };
    let entries = collect_pages(args.output.limit, |page_size, page_token| {
        let mut client = client.clone();
        let request = proto::QueryEventsRequest {
            page_size,
            page_token,
            ..request.clone()
        };
        async move {
            let page = client
                .query_events(request)
                .await
                .map_err(ClientError::rpc("QueryEvents"))?
                .into_inner();
            Ok((page.entries, page.next_page_token))
        }
    })
    .await?;
    print_entries(&entries, &args.output, event_table)
}

async fn claims(args: QueryClaimsArgs) -> Result<ExitCode, ClientError> {
    let client = connect(&args.connection).await?;
    let dates = &args.dates;
    let request = proto::QueryClaimsRequest {
        min_position: 0,
        subject: args.subject.clone().unwrap_or_default(),
        object: args.object.clone().unwrap_or_default(),
        claimant: args.claimant.clone().unwrap_or_default(),
        actor: args.actor.clone().unwrap_or_default(),
        relations: args.relations.clone(),
        event_id: args.event_id.clone().unwrap_or_default(),
        date_from: dates.date_from.clone().unwrap_or_default(),
        date_to: dates.date_to.clone().unwrap_or_default(),
        date_match: proto::DateMatch::from(dates.date_match) as i32,
        min_certainty: certainty(args.min_certainty),
        max_certainty: certainty(args.max_certainty),
        negated: args.negated,
        as_of_position: dates.as_of_position.unwrap_or(0),
        include_superseded: dates.include_superseded,
        order: proto::QueryOrder::from(dates.order) as i32,
        page_size: 0,
        page_token: String::new(),
    };
    let entries = collect_pages(args.output.limit, |page_size, page_token| {
        let mut client = client.clone();
        let request = proto::QueryClaimsRequest {
            page_size,
            page_token,
            ..request.clone()
        };
        async move {
            let page = client
                .query_claims(request)
                .await
                .map_err(ClientError::rpc("QueryClaims"))?
                .into_inner();
            Ok((page.entries, page.next_page_token))
        }
    })
    .await?;
    print_entries(&entries, &args.output, claim_table)
}

async fn relations(args: QueryRelationsArgs) -> Result<ExitCode, ClientError> {
    let mut client = connect(&args.connection).await?;
    let request = proto::ListRelationsRequest {
        min_position: 0,
        actor: args.actor.clone(),
        counterpart: args.counterpart.clone().unwrap_or_default(),
        relations: args.relations.clone(),
        date_from: args.date_from.clone().unwrap_or_default(),
        date_to: args.date_to.clone().unwrap_or_default(),
        direction: proto::Direction::from(args.direction) as i32,
        min_certainty: certainty(args.min_certainty),
        as_of_position: args.as_of_position.unwrap_or(0),
    };
    let response = client
        .list_relations(request)
        .await
        .map_err(ClientError::rpc("ListRelations"))?
        .into_inner();
    let edges: Vec<&proto::RelationEdge> = response
        .edges
        .iter()
        .take(args.output.limit as usize)
        .collect();
    let mut out = std::io::stdout().lock();
    if args.output.json {
        for edge in &edges {
            let line = json(edge)?;
            writeln!(out, "{line}").map_err(ClientError::Output)?;
        }
    } else {
        let mut table = Table::new(vec![
            "SUBJECT",
            "RELATION",
            "OBJECT",
            "FROM",
            "TO",
            "EVENTS",
            "CLAIMS",
            "CERTAINTY",
            "EVIDENCE",
        ]);
        for edge in &edges {
            table.row(vec![
                edge.subject.clone(),
                if edge.denied {
                    format!("{} (denied)", edge.relation)
                } else {
                    edge.relation.clone()
                },
                edge.object.clone(),
                or_dash(&edge.earliest),
                or_dash(&edge.latest),
                edge.event_count.to_string(),
                edge.claim_count.to_string(),
                render::certainty(edge.certainty),
                edge.evidence_ids.join(" "),
            ]);
        }
        print_table(&mut out, &table, "no relations match")?;
        if response.truncated {
            writeln!(
                out,
                "(truncated by the server: narrow the query with --relation, --counterpart or dates)"
            )
            .map_err(ClientError::Output)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Finds actors by name.
pub async fn resolve(args: ResolveArgs) -> Result<ExitCode, ClientError> {
    let mut client = connect(&args.connection).await?;
    let response = client
        .resolve_actor(proto::ResolveActorRequest {
            min_position: 0,
            name: args.name.clone(),
            limit: args.limit,
        })
        .await
        .map_err(ClientError::rpc("ResolveActor"))?
        .into_inner();
    let mut out = std::io::stdout().lock();
    if args.json {
        for actor in &response.matches {
            let line = json(actor)?;
            writeln!(out, "{line}").map_err(ClientError::Output)?;
        }
    } else {
        let mut table = Table::new(vec!["ID", "NAME", "KIND", "COUNTRY", "ALIASES"]);
        for actor in &response.matches {
            table.row(vec![
                actor.id.clone(),
                actor.name.clone(),
                render::actor_kind(actor.kind),
                or_dash(&actor.country),
                actor.aliases.join("; "),
            ]);
        }
        print_table(&mut out, &table, "no actor has that name")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Describes the log.
pub async fn info(args: InfoArgs) -> Result<ExitCode, ClientError> {
    let mut client = connect(&args.connection).await?;
    let info = client
        .get_log_info(proto::GetLogInfoRequest {})
        .await
        .map_err(ClientError::rpc("GetLogInfo"))?
        .into_inner();
    let mut out = std::io::stdout().lock();
    let text = if args.json {
        json(&info)?
    } else {
        [
            format!("server version   {}", info.version),
            format!("head position    {}", info.head),
            format!(
                "actors           {} ({} actor entries with revisions)",
                info.actors, info.actor_entries
            ),
            format!("events           {}", info.event_entries),
            format!("claims           {}", info.claim_entries),
            format!("relation types   {}", info.relation_types),
            format!("store size       {} bytes", info.store_size_bytes),
        ]
        .join("\n")
    };
    writeln!(out, "{text}").map_err(ClientError::Output)?;
    Ok(ExitCode::SUCCESS)
}

fn json(value: &impl serde::Serialize) -> Result<String, ClientError> {
    serde_json::to_string(value).map_err(|e| ClientError::Encode(e.to_string()))
}

fn print_entries(
    entries: &[proto::Entry],
    output: &QueryOutput,
    table: fn(&[proto::Entry]) -> Table,
) -> Result<ExitCode, ClientError> {
    let mut out = std::io::stdout().lock();
    if output.json {
        for entry in entries {
            let line = entry_line(entry).map_err(ClientError::Encode)?;
            writeln!(out, "{line}").map_err(ClientError::Output)?;
        }
    } else {
        print_table(&mut out, &table(entries), "no entries match")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(out: &mut dyn Write, table: &Table, empty: &str) -> Result<(), ClientError> {
    let text = if table.is_empty() {
        format!("({empty})")
    } else {
        table.render()
    };
    writeln!(out, "{text}").map_err(ClientError::Output)
}

fn event_table(entries: &[proto::Entry]) -> Table {
    let mut table = Table::new(vec![
        "DATE",
        "ID",
        "RELATION",
        "PARTICIPANTS",
        "CERTAINTY",
        "SUMMARY",
    ]);
    for entry in entries {
        if let Some(Body::Event(event)) = &entry.body {
            table.row(vec![
                or_dash(&event.date),
                event.id.clone(),
                event.relation.clone(),
                render::participants(event),
                render::certainty(event.certainty),
                event.summary.clone(),
            ]);
        }
    }
    table
}

fn claim_table(entries: &[proto::Entry]) -> Table {
    let mut table = Table::new(vec![
        "VALID",
        "ID",
        "CLAIM",
        "CERTAINTY",
        "CLAIMANT",
        "SOURCES",
    ]);
    for entry in entries {
        if let Some(Body::Claim(claim)) = &entry.body {
            table.row(vec![
                or_dash(&claim.valid),
                claim.id.clone(),
                render::claim_sentence(claim),
                render::certainty(claim.certainty),
                or_dash(&claim.claimant),
                or_dash(&render::sources(&claim.sources)),
            ]);
        }
    }
    table
}
