#!/usr/bin/env node
// An example eventlog client in Node.js (@grpc/grpc-js and @grpc/proto-loader).
//
// It walks through the API against a running server, like examples/python does:
//
// 1. appends three actors, an event and a claim (fixed ids, so a second run is answered with
//    `duplicate = true` and appends nothing; the Python example appends exactly the same
//    entries, so either can run first);
// 2. resolves an actor by alias and queries the log back (QueryEvents, QueryClaims,
//    ListRelations);
// 3. opens a Subscribe stream from position 1, reads the history, and once the stream is live
//    appends one more event (with an id unique to this run) and waits for it to arrive.
//
// The .proto is loaded at run time from ../../proto: nothing is generated. Every call has a
// deadline and the subscription as a whole has a timeout, so the example never hangs; it exits 0
// when everything worked and 1 (with the reason on stderr) otherwise.
//
//     npm ci && node example.js --addr 127.0.0.1:50051

'use strict';

const path = require('node:path');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = path.resolve(__dirname, '..', '..', 'proto');
const PROTO_FILE = 'eventlog/v1/eventlog.proto';

// Fixed ids: an entry's id is its idempotency key (see the Python example).
const EVENT_ID = 'example-ev-2022-03-russia-trains-liwa-al-quds';
const CLAIM_ID = 'example-cl-2022-russia-arms-liwa-al-quds';

// How proto-loader maps the messages to JavaScript objects:
// - keepCase: field names exactly as in the .proto (date_from, not dateFrom), as in every other
//   language's documentation of the API;
// - longs: String: uint64 fields (positions, heads, counts) are decimal strings, because a
//   JavaScript number is exact only up to 2^53; requests may pass numbers or strings;
// - enums: String: enum values are their names ('CERTAINTY_REPORTED'); requests may use either;
// - defaults: true: unset fields read as their default ('' / '0' / false / []), as in proto3;
// - oneofs: true: each oneof also has a field naming the member that is set
//   (entry.body === 'event', response.message === 'caught_up').
// google/protobuf/timestamp.proto (imported by eventlog.proto) is not in PROTO_ROOT: protobufjs,
// under proto-loader, ships the well-known types and resolves it itself. A Timestamp reads as
// { seconds: '1700000000', nanos: 123 } (seconds is an int64, so a string too).
const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

function loadEventLog() {
  const definition = protoLoader.loadSync(PROTO_FILE, LOADER_OPTIONS);
  return grpc.loadPackageDefinition(definition).eventlog.v1;
}

// Three actors, one event and one claim about them (example data), as plain objects. A oneof
// (Entry.body) is set by giving exactly one of its members.
function exampleEntries() {
  return [
    {
      actor: {
        id: 'russia',
        name: 'Russia',
        aliases: ['Moscow', 'Russian Federation'],
        kind: 'ACTOR_KIND_STATE',
        country: 'RUS',
      },
    },
    {
      actor: {
        id: 'liwa-al-quds',
        name: "Liwa' al-Quds",
        aliases: ['Jerusalem Brigade'],
        kind: 'ACTOR_KIND_ARMED_GROUP',
        country: 'SYR',
        description: 'Pro-government Palestinian-Syrian militia based in Aleppo.',
      },
    },
    {
      actor: {
        id: 'hts',
        name: "Hay'at Tahrir al-Sham",
        aliases: ['HTS'],
        kind: 'ACTOR_KIND_ARMED_GROUP',
        country: 'SYR',
      },
    },
    {
      // "russia trains liwa-al-quds", around March 2022 ("~" = approximate, EDTF).
      event: {
        id: EVENT_ID,
        relation: 'trains',
        participants: [
          { actor_id: 'russia', role: 'ROLE_INITIATOR' },
          { actor_id: 'liwa-al-quds', role: 'ROLE_TARGET' },
        ],
        date: '2022-03~',
        location: { name: 'Aleppo', country: 'SYR', admin1: 'Aleppo' },
        summary: "Russian advisers train Liwa' al-Quds fighters near Aleppo (example data).",
        sources: [{ name: 'Example Monitor', published: '2022-04' }],
        certainty: 'CERTAINTY_REPORTED',
        attributes: { example: 'true' },
      },
    },
    {
      // An attributed assertion: sources allege that Russia armed the group during 2022.
      claim: {
        id: CLAIM_ID,
        subject: 'russia',
        relation: 'arms',
        object: 'liwa-al-quds',
        valid: '2022',
        sources: [{ name: 'Example Observatory', published: '2022-11' }],
        certainty: 'CERTAINTY_ALLEGED',
        statement: 'Sources say Russia supplied the brigade with weapons in 2022 (example data).',
      },
    },
  ];
}

// The entry appended while the subscription is live; its id is new on every run.
function liveEvent(id) {
  return {
    event: {
      id,
      relation: 'clashes_with',
      participants: [
        { actor_id: 'liwa-al-quds', role: 'ROLE_PARTICIPANT' },
        { actor_id: 'hts', role: 'ROLE_PARTICIPANT' },
      ],
      date: '2022-09-24',
      summary: 'Clashes on the Aleppo front line (example data).',
      certainty: 'CERTAINTY_REPORTED',
    },
  };
}

// One line about an entry: its position, kind, id and what it says.
function describe(entry) {
  switch (entry.body) {
    case 'actor': {
      const a = entry.actor;
      return `#${entry.position} actor ${a.id}: ${a.name} (${a.kind})`;
    }
    case 'event': {
      const e = entry.event;
      const who = e.participants.map((p) => p.actor_id).join(' / ');
      // date_span is a message: with defaults: true an unset one would read as null.
      const span = e.date_span
        ? `${e.date_span.earliest || '..'}..${e.date_span.latest || '..'}`
        : '?';
      return (
        `#${entry.position} event ${e.id}: ${e.relation} [${who}] ` +
        `date ${e.date} (days ${span}) ${e.certainty}`
      );
    }
    case 'claim': {
      const c = entry.claim;
      const denial = c.negated ? 'NOT ' : '';
      return (
        `#${entry.position} claim ${c.id}: ${c.subject} ${denial}${c.relation} ${c.object} ` +
        `valid ${c.valid || '?'} ${c.certainty}`
      );
    }
    default:
      return `#${entry.position} (empty entry)`;
  }
}

// A Timestamp ({ seconds: '...', nanos: n }) as an ISO 8601 string.
function timestampToIso(ts) {
  if (!ts) return '?';
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)).toISOString();
}

// Calls a unary method and returns a promise of its response, with a deadline.
function call(client, method, request, timeoutMs) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    client[method](request, { deadline }, (err, response) => {
      if (err) reject(err);
      else resolve(response);
    });
  });
}

async function run(client, timeoutMs) {
  console.log('== GetLogInfo');
  const info = await call(client, 'GetLogInfo', {}, timeoutMs);
  console.log(
    `   server ${info.version}, head ${info.head}, ${info.relation_types} relation types`,
  );

  // --- Append: one atomic batch; duplicates are answered, not appended again. ---
  const entries = exampleEntries();
  console.log(`== Append ${entries.length} entries (3 actors, 1 event, 1 claim)`);
  const appended = await call(client, 'Append', { entries }, timeoutMs);
  for (const result of appended.results) {
    console.log(`   #${result.position} ${result.id} (${result.duplicate ? 'duplicate' : 'new'})`);
  }
  console.log(`   head is now ${appended.head}`);

  // --- ResolveActor: names and aliases ignore case, diacritics and punctuation. ---
  console.log('== ResolveActor "moscow"');
  const { matches } = await call(client, 'ResolveActor', { name: 'moscow' }, timeoutMs);
  if (matches.length === 0) throw new Error('ResolveActor("moscow") found nothing');
  console.log(`   best match: ${matches[0].id} (${matches[0].name})`);

  // --- QueryEvents: by actor (an alias works) and a date range (EDTF, overlap semantics). ---
  console.log('== QueryEvents actor="Moscow" date_from="2022-01" date_to="2022-06"');
  const events = await call(
    client,
    'QueryEvents',
    { actor: 'Moscow', date_from: '2022-01', date_to: '2022-06' },
    timeoutMs,
  );
  for (const entry of events.entries) console.log(`   ${describe(entry)}`);
  console.log(
    `   ${events.entries.length} event(s), answered at position ${events.as_of_position}`,
  );
  const found = events.entries.find((e) => e.event.id === EVENT_ID);
  if (!found) throw new Error(`QueryEvents did not find ${EVENT_ID}`);
  console.log(`   found event ${EVENT_ID}, recorded at ${timestampToIso(found.recorded_at)}`);

  // --- QueryClaims: claims about Moscow with the relation "arms". ---
  console.log('== QueryClaims subject="Moscow" relations=["arms"]');
  const claims = await call(
    client,
    'QueryClaims',
    { subject: 'Moscow', relations: ['arms'] },
    timeoutMs,
  );
  for (const entry of claims.entries) console.log(`   ${describe(entry)}`);
  if (!claims.entries.some((e) => e.claim.id === CLAIM_ID)) {
    throw new Error(`QueryClaims did not find ${CLAIM_ID}`);
  }
  console.log(`   found claim ${CLAIM_ID}`);

  // --- ListRelations: the graph around Moscow, aggregated from events and claims. ---
  console.log('== ListRelations actor="Moscow" direction=OUTGOING');
  const graph = await call(
    client,
    'ListRelations',
    { actor: 'Moscow', direction: 'DIRECTION_OUTGOING' },
    timeoutMs,
  );
  for (const edge of graph.edges) {
    console.log(
      `   ${edge.subject} ${edge.relation} ${edge.object}: ` +
        `${edge.earliest || '..'}..${edge.latest || '..'}, ` +
        `${edge.event_count} event(s), ${edge.claim_count} claim(s), ` +
        `${edge.certainty}${edge.denied ? ', denied' : ''}`,
    );
  }
  for (const [s, r, o] of [
    ['russia', 'trains', 'liwa-al-quds'],
    ['russia', 'arms', 'liwa-al-quds'],
  ]) {
    if (!graph.edges.some((e) => e.subject === s && e.relation === r && e.object === o)) {
      throw new Error(`ListRelations has no edge ${s} ${r} ${o}`);
    }
  }

  // --- Subscribe: history from position 1, then live. ---
  await subscribeLive(client, timeoutMs);
}

// Follows the log from position 1; once live, appends an event and waits for it. Resolves when
// it has arrived and its Append was acknowledged (the entry may arrive on the stream before the
// Append's response does); rejects on a stream error or when `timeoutMs` passes first.
function subscribeLive(client, timeoutMs) {
  const liveId = `example-live-${crypto.randomUUID().replace(/-/g, '').slice(0, 12)}`;
  console.log(`== Subscribe from_position=1 (timeout ${timeoutMs / 1000} s)`);
  return new Promise((resolve, reject) => {
    // The stream's deadline ends it on the server too if we never get what we wait for.
    const stream = client.Subscribe(
      { from_position: 1 },
      { deadline: new Date(Date.now() + timeoutMs) },
    );
    let history = 0;
    let appendedAt = null; // when the live entry was sent (the stream is live from then on)
    let appendAnswered = false; // the Append of the live entry was acknowledged
    let liveArrived = false; // ... and it arrived on the stream (either may come first)
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Ends the stream (it never ends by itself); the 'error' it then emits (CANCELLED) is
      // ignored because `done` is set.
      stream.cancel();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new Error(`the live entry did not arrive within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );

    stream.on('data', (response) => {
      if (done) return;
      switch (response.message) {
        case 'caught_up': {
          // The history is delivered; from here on entries arrive as they are appended.
          console.log(
            `   caught up: ${history} entries of history, head ${response.caught_up.head}`,
          );
          appendedAt = Date.now();
          call(client, 'Append', { entries: [liveEvent(liveId)] }, timeoutMs).then((res) => {
            const result = res.results[0];
            console.log(`   appended ${result.id} at position ${result.position}`);
            appendAnswered = true;
            if (liveArrived) finish();
          }, finish);
          return;
        }
        case 'entry':
        case 'entries': {
          const received =
            response.message === 'entry' ? [response.entry] : response.entries.entries;
          for (const entry of received) {
            if (appendedAt === null) {
              history += 1;
              if (history <= 10) console.log(`   history ${describe(entry)}`);
              else if (history === 11) console.log('   history ... (more entries not shown)');
            } else if (entry.body === 'event' && entry.event.id === liveId) {
              console.log(`   live ${describe(entry)}`);
              console.log(
                `   live entry ${liveId} arrived ${Date.now() - appendedAt} ms after the append`,
              );
              liveArrived = true;
              if (appendAnswered) finish();
              return;
            } else {
              // Someone else appended meanwhile: show it and keep waiting for ours.
              console.log(`   live (other client) ${describe(entry)}`);
            }
          }
          return;
        }
        default:
          // checkpoint / fell_behind: progress messages, nothing to show here.
          return;
      }
    });
    stream.on('error', (err) => finish(err));
    // Subscribe never ends by itself; an end means the server went away.
    stream.on('end', () => finish(new Error('the subscription ended before the live entry arrived')));
  });
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      addr: { type: 'string', default: '127.0.0.1:50051' },
      timeout: { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node example.js [--addr HOST:PORT] [--timeout SECONDS]');
    process.exit(0);
  }
  const timeoutS = Number(values.timeout);
  if (!(timeoutS > 0)) throw new Error(`--timeout must be a positive number, not ${values.timeout}`);
  return { addr: values.addr, timeoutMs: timeoutS * 1000 };
}

async function main() {
  const { addr, timeoutMs } = parseOptions();
  const { EventLog } = loadEventLog();
  console.log(`== Connecting to ${addr}`);
  const client = new EventLog(addr, grpc.credentials.createInsecure());
  try {
    await run(client, timeoutMs);
  } finally {
    client.close();
  }
  console.log('== OK');
}

main().catch((err) => {
  // A gRPC error carries its status code (a number) and the server's message in `details`.
  if (typeof err.code === 'number' && err.details !== undefined) {
    console.error(`error: ${grpc.status[err.code]}: ${err.details}`);
  } else {
    console.error(`error: ${err.message}`);
  }
  process.exitCode = 1;
});
