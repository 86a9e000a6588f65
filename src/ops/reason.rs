//! The stable reasons of `google.rpc.ErrorInfo`: what programs branch on, one name per kind of
//! refusal. A reason never changes meaning once released; the README lists them all (a test
//! checks that it does).

macro_rules! reasons {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// Why a request was refused, for programs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Reason {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Reason {
            /// Every reason, in the order declared.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The name clients see, e.g. `INVALID_DATE`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $name,)*
                }
            }
        }
    };
}

reasons! {
    /// A required field is absent or blank.
    MissingField => "MISSING_FIELD",
    /// A field only the server sets was set by the client.
    ServerAssignedField => "SERVER_ASSIGNED_FIELD",
    /// Not an EDTF date this log reads.
    InvalidDate => "INVALID_DATE",
    /// Not a valid id.
    InvalidId => "INVALID_ID",
    /// A relation the vocabulary lacks.
    UnknownRelation => "UNKNOWN_RELATION",
    /// A text, list, batch or page size over its limit.
    TooLarge => "TOO_LARGE",
    /// A page token this server did not issue for this request.
    InvalidPageToken => "INVALID_PAGE_TOKEN",
    /// Any other broken field rule.
    InvalidValue => "INVALID_VALUE",
    /// One id twice in a batch, with different content.
    IdTwiceInBatch => "ID_TWICE_IN_BATCH",
    /// A name several actors have.
    AmbiguousActor => "AMBIGUOUS_ACTOR",
    /// A body that is not the method's protobuf message.
    InvalidProtobuf => "INVALID_PROTOBUF",
    /// An HTTP query parameter the endpoint lacks, or a value of the wrong type for it.
    InvalidParameter => "INVALID_PARAMETER",
    /// An HTTP body that is not the JSON of the endpoint's request message.
    InvalidJson => "INVALID_JSON",
    /// An HTTP body sent without `Content-Type: application/json`.
    NotJson => "NOT_JSON",
    /// An HTTP request to a server without tokens, addressed to a name other than localhost.
    ForeignHost => "FOREIGN_HOST",
    /// An HTTP path or method the API does not have.
    UnknownEndpoint => "UNKNOWN_ENDPOINT",
    /// No actor has this id or name.
    UnknownActor => "UNKNOWN_ACTOR",
    /// No entry has this id or position.
    UnknownEntry => "UNKNOWN_ENTRY",
    /// A reference to an entry of the wrong kind.
    WrongReferenceKind => "WRONG_REFERENCE_KIND",
    /// No named subscription has this name.
    UnknownSubscription => "UNKNOWN_SUBSCRIPTION",
    /// The id is used by different content.
    IdTaken => "ID_TAKEN",
    /// `expected_head` is not the head.
    HeadMismatch => "HEAD_MISMATCH",
    /// A new named subscription would start past the head.
    StartBeyondHead => "START_BEYOND_HEAD",
    /// A checkpoint past the head.
    CheckpointBeyondHead => "CHECKPOINT_BEYOND_HEAD",
    /// A named subscription resumed with another filter.
    FilterMismatch => "FILTER_MISMATCH",
    /// `as_of_position` beyond the head.
    AsOfBeyondHead => "AS_OF_BEYOND_HEAD",
    /// A page token whose snapshot is beyond the head.
    PageTokenBeyondHead => "PAGE_TOKEN_BEYOND_HEAD",
    /// No bearer token.
    MissingToken => "MISSING_TOKEN",
    /// An `authorization` header that is not `Bearer <token>`.
    MalformedAuthorization => "MALFORMED_AUTHORIZATION",
    /// A token the server does not know.
    UnknownToken => "UNKNOWN_TOKEN",
    /// The token's role is below the method's.
    RoleTooLow => "ROLE_TOO_LOW",
    /// A method no token may call.
    MethodNotGranted => "METHOD_NOT_GRANTED",
    /// Another token's named subscription.
    SubscriptionNotOwned => "SUBSCRIPTION_NOT_OWNED",
    /// A pool of concurrent calls is full.
    Overloaded => "OVERLOADED",
    /// The caller holds its whole share of a pool.
    CallerShareExceeded => "CALLER_SHARE_EXCEEDED",
    /// A request over `--max-message-bytes`.
    MessageTooLarge => "MESSAGE_TOO_LARGE",
    /// The caller owns as many named subscriptions as it may.
    TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
    /// A subscriber read nothing while entries waited.
    SubscriberStalled => "SUBSCRIBER_STALLED",
    /// The disk's free space is down to the reserve.
    DiskFull => "DISK_FULL",
    /// The request body did not arrive in time.
    RequestBodyTimeout => "REQUEST_BODY_TIMEOUT",
    /// A unary call ran past the request timeout.
    RequestTimeout => "REQUEST_TIMEOUT",
    /// The indexes did not reach `min_position` in time.
    IndexBehind => "INDEX_BEHIND",
    /// The server is stopping.
    ShuttingDown => "SHUTTING_DOWN",
    /// Writes stopped after a failed disk write.
    WritesStopped => "WRITES_STOPPED",
    /// Cluster mode: NATS JetStream did not take the batch (unreachable, no quorum, no ack in
    /// time); the batch may or may not be in the log, and a retry with the same ids is safe.
    ClusterUnavailable => "CLUSTER_UNAVAILABLE",
    /// Cluster mode: the batch is in the stream but this node has not applied it in time.
    NotYetApplied => "NOT_YET_APPLIED",
    /// A write the cluster's stream must carry was asked of a node's store directly.
    ReplicatedLog => "REPLICATED_LOG",
    /// Consumer groups are not replicated: cluster nodes do not serve them.
    GroupsNotReplicated => "GROUPS_NOT_REPLICATED",
    /// The store is closed.
    StoreClosed => "STORE_CLOSED",
    /// Another process holds the data directory.
    StoreLocked => "STORE_LOCKED",
    /// Stored data is damaged.
    DataDamaged => "DATA_DAMAGED",
    /// The storage failed; the server log has the cause.
    StorageFailed => "STORAGE_FAILED",
    /// No consumer group has this name.
    UnknownGroup => "UNKNOWN_GROUP",
    /// A consumer group with this name exists.
    GroupExists => "GROUP_EXISTS",
    /// The server holds as many consumer groups as it may.
    TooManyGroups => "TOO_MANY_GROUPS",
    /// An ack or nack of a delivery id the member's stream never sent.
    UnknownDelivery => "UNKNOWN_DELIVERY",
    /// A member's stream broke the protocol (no `join` first, or a second one).
    MemberProtocol => "MEMBER_PROTOCOL",
    /// The consumer group was deleted while the member was in it.
    GroupDeleted => "GROUP_DELETED",
}
