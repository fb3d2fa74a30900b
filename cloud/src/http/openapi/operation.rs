//! What the document says of one operation, written as `const` data so that the lists of
//! operations read as a table: `op(...)` or `public(...)`, then what it takes and answers.

use super::schema::SchemaFn;

/// One operation: method, path (as clients write it, with the final slash), tag, summary,
/// whether it needs no credentials, its success status, and its inputs and answer.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub public: bool,
    pub status: u16,
    /// Query parameters the handler reads (besides `page`/`page_size`, see `paged`).
    pub query: &'static [Query],
    /// A DRF-paginated list: `page` and `page_size` apply.
    pub paged: bool,
    pub body: Option<Body>,
    pub reply: Reply,
}

/// A request body: its media type and schema.
#[derive(Debug, Clone, Copy)]
pub struct Body {
    pub media: &'static str,
    pub schema: SchemaFn,
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// Not described yet: a test refuses it for every operation but those answering 204.
    Unset,
    /// No body (204, or a redirect-free success with nothing to say).
    Empty,
    /// A body of this media type and schema.
    Body(&'static str, SchemaFn),
}

/// One query parameter: name, type, what it does, and whether the operation needs it.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    pub name: &'static str,
    pub kind: Kind,
    pub about: &'static str,
    pub required: bool,
}

impl Query {
    /// The parameter, which the operation refuses to go without (400).
    pub const fn required(mut self) -> Query {
        self.required = true;
        self
    }
}

/// The type of a query parameter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    /// `1`/`true`/`True` set it; anything else leaves it unset.
    Flag,
    /// An ISO 8601 date/time (some lists take a bare date too).
    DateTime,
}

/// An optional query parameter.
pub const fn q(name: &'static str, kind: Kind, about: &'static str) -> Query {
    Query {
        name,
        kind,
        about,
        required: false,
    }
}

pub const JSON: &str = "application/json";
pub const MULTIPART: &str = "multipart/form-data";

/// An operation that needs credentials.
pub const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    status: u16,
) -> Operation {
    Operation {
        method,
        path,
        tag,
        summary,
        public: false,
        status,
        query: &[],
        paged: false,
        body: None,
        reply: if status == 204 {
            Reply::Empty
        } else {
            Reply::Unset
        },
    }
}

/// An operation that answers without credentials.
pub const fn public(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    status: u16,
) -> Operation {
    Operation {
        public: true,
        ..op(method, path, tag, summary, status)
    }
}

impl Operation {
    /// A JSON answer of this schema.
    pub const fn reply(self, schema: SchemaFn) -> Operation {
        self.reply_as(JSON, schema)
    }

    /// An answer of another media type.
    pub const fn reply_as(mut self, media: &'static str, schema: SchemaFn) -> Operation {
        self.reply = Reply::Body(media, schema);
        self
    }

    /// A JSON request body of this schema.
    pub const fn body(self, schema: SchemaFn) -> Operation {
        self.body_as(JSON, schema)
    }

    /// A request body of another media type (a multipart form, say).
    pub const fn body_as(mut self, media: &'static str, schema: SchemaFn) -> Operation {
        self.body = Some(Body { media, schema });
        self
    }

    pub const fn query(mut self, query: &'static [Query]) -> Operation {
        self.query = query;
        self
    }

    pub const fn paged(mut self) -> Operation {
        self.paged = true;
        self
    }
}
