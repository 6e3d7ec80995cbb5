//! Contacts: the people a user texts and calls, their numbers, tags and custom fields; and
//! what a CSV import found.

crate::types::answers! {
    pub struct Contact {
        pub id: String,
        pub name: String,
        /// E.164, first is the main one.
        pub numbers: Vec<String>,
        /// The same numbers as people read them.
        pub numbers_display: Vec<String>,
        pub email: String,
        pub company: String,
        pub notes: String,
        pub tags: Vec<String>,
        pub fields: Vec<ContactField>,
    }

    /// A custom field: a name the user chose and its value.
    pub struct ContactField {
        pub name: String,
        pub value: String,
    }

    /// The start of a CSV file about to be imported: its columns, a few rows, and what each
    /// column is guessed to hold (one of [`ImportColumn::ROLES`]).
    pub struct ImportPreview {
        pub columns: Vec<String>,
        pub guessed: Vec<String>,
        pub sample: Vec<Vec<String>>,
    }

    /// What an import did. With any `errors`, nothing was imported.
    pub struct ImportOutcome {
        /// Contacts created.
        pub created: u64,
        /// Existing contacts (matched by number) updated.
        pub updated: u64,
        pub errors: Vec<ImportError>,
    }

    /// A row that can't be imported: its line in the file and why.
    pub struct ImportError {
        pub line: u64,
        pub message: String,
    }

    /// What a campaign would send, before it starts.
    pub struct CampaignPreview {
        pub recipients: i64,
        /// Contacts left out: they opted out of the number's texts.
        pub opted_out: i64,
        /// The most segments one recipient's text takes, and all of them together (what
        /// the carrier bills).
        pub most_segments: i64,
        pub total_segments: i64,
        /// What the segments cost at the price an admin entered (`about 0.41 USD (…)`),
        /// or empty when no price is known.
        pub cost: String,
        /// The first few recipients' texts as they will read them.
        pub samples: Vec<CampaignSample>,
    }

    pub struct CampaignSample {
        pub name: String,
        pub text: String,
    }

    /// A campaign and what its texts became so far.
    pub struct CampaignReport {
        pub id: String,
        pub name: String,
        /// `sending`, `paused`, `cancelled` or `done`.
        pub state: String,
        pub number_display: String,
        pub recipients: i64,
        pub skipped: i64,
        /// Not handed to the carrier yet (queued or waiting their turn).
        pub waiting: i64,
        pub sent: i64,
        pub delivered: i64,
        pub failed: i64,
        /// Recipients who texted back since it began, and who opted out.
        pub replies: i64,
        pub opt_outs: i64,
        pub created_at: i64,
    }

    /// Whether a peer may be texted from a number, and if not, why (shown before sending).
    pub struct TextingAllowed {
        pub allowed: bool,
        pub reason: String,
    }
}

/// What a CSV column can be imported as.
pub struct ImportColumn;

impl ImportColumn {
    /// `name`, or `first_name` + `last_name` joined; `number` (several columns may be);
    /// `tags` (separated by commas or semicolons); `field` (a custom field named by the
    /// column's header); `skip`.
    pub const ROLES: [&'static str; 9] = [
        "name",
        "first_name",
        "last_name",
        "number",
        "email",
        "company",
        "notes",
        "tags",
        "field",
    ];
    pub const SKIP: &'static str = "skip";
}
