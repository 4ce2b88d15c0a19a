//! The email that carries a link: a plain-text and an HTML part saying who asks, for which
//! software, and until when. SES sends it; lettre builds the MIME (encoded headers, parts).

use crate::email::Email;
use crate::time::Timestamp;
use askama::Template;
use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};

/// The Content-ID the HTML part shows the logo by (`cid:logo`).
const LOGO_CID: &str = "logo";

/// What an email says; read from the link, its consumer, tenant and settings when sent.
#[derive(Debug, Clone)]
pub struct Message {
    /// The From display name (the tenant's sender name, else the tenant's name).
    pub sender_name: String,
    pub reply_to: Option<Email>,
    /// Who asks: the tenant.
    pub tenant_name: String,
    pub consumer_name: String,
    /// The integration's name; `None` when the link lets the consumer pick.
    pub software: Option<String>,
    /// The link, with the token this email carries.
    pub url: String,
    pub expires_at: Timestamp,
    /// A scheduled reminder rather than a first send.
    pub reminder: bool,
    /// The tenant's primary colour (`#rrggbb`) for the button; ours when unset.
    pub color: Option<String>,
    /// The tenant's logo when it is a raster image (mail clients rarely show SVG), sent as
    /// an inline part the HTML refers to, since most clients block `data:` images.
    pub logo: Option<(String, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("could not render the email: {0}")]
    Render(#[from] askama::Error),
    #[error("could not build the email: {0}")]
    Build(#[from] lettre::error::Error),
}

#[derive(Template)]
#[template(path = "link_email.txt")]
struct Text<'a> {
    consumer_name: &'a str,
    lead: &'a str,
    url: &'a str,
    expires: &'a str,
    sender_name: &'a str,
}

#[derive(Template)]
#[template(path = "link_email.html")]
struct Html<'a> {
    subject: &'a str,
    color: &'a str,
    logo: bool,
    tenant_name: &'a str,
    consumer_name: &'a str,
    lead: &'a str,
    action: &'a str,
    url: &'a str,
    expires: &'a str,
    sender_name: &'a str,
}

impl Message {
    pub fn subject(&self) -> String {
        let software = self.software.as_deref().unwrap_or("your software");
        if self.reminder {
            format!(
                "Reminder: {} is waiting for you to connect {software}",
                self.tenant_name
            )
        } else {
            format!("{} asks you to connect {software}", self.tenant_name)
        }
    }

    fn lead(&self) -> String {
        let what = match &self.software {
            Some(s) => format!("your {s} account"),
            None => "the software you use".to_owned(),
        };
        let ask = format!(
            "{} asks you to connect {what}, so that it can work with your data there.",
            self.tenant_name
        );
        if self.reminder {
            format!("A reminder: {ask} It takes a minute.")
        } else {
            ask
        }
    }

    /// "Sunday 22 November 2026 at 16:00 UTC".
    fn expires(&self) -> String {
        self.expires_at
            .format("%A %-d %B %Y at %H:%M UTC")
            .to_string()
    }

    /// The plain-text and HTML bodies.
    pub fn render(&self) -> Result<(String, String), MessageError> {
        let subject = self.subject();
        let lead = self.lead();
        let expires = self.expires();
        let action = match &self.software {
            Some(s) => format!("Connect {s}"),
            None => "Connect your software".to_owned(),
        };
        let text = Text {
            consumer_name: &self.consumer_name,
            lead: &lead,
            url: &self.url,
            expires: &expires,
            sender_name: &self.sender_name,
        }
        .render()?;
        let html = Html {
            subject: &subject,
            color: self.color.as_deref().unwrap_or("#1f2328"),
            logo: self.logo.is_some(),
            tenant_name: &self.tenant_name,
            consumer_name: &self.consumer_name,
            lead: &lead,
            action: &action,
            url: &self.url,
            expires: &expires,
            sender_name: &self.sender_name,
        }
        .render()?;
        Ok((text, html))
    }

    /// The whole message as SES takes it raw: From (our address, the tenant's name),
    /// Reply-To (the tenant's, when set), To, Subject, and the two parts.
    pub fn compose(&self, from: &Email, to: &Email) -> Result<Vec<u8>, MessageError> {
        let address = |e: &Email| {
            e.as_str()
                .parse::<lettre::Address>()
                .map_err(|_| MessageError::Address(e.as_str().to_owned()))
        };
        let (text, html) = self.render()?;
        let mut builder = lettre::Message::builder()
            .from(Mailbox::new(Some(self.sender_name.clone()), address(from)?))
            .to(Mailbox::new(Some(self.consumer_name.clone()), address(to)?))
            .subject(self.subject());
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(Mailbox::new(None, address(reply_to)?));
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(text);
        let html = SinglePart::builder()
            .header(ContentType::TEXT_HTML)
            .body(html);
        let body = match &self.logo {
            Some((mime, bytes)) => {
                let kind = ContentType::parse(mime)
                    .map_err(|_| MessageError::Address(format!("logo type {mime}")))?;
                MultiPart::alternative().singlepart(text).multipart(
                    MultiPart::related().singlepart(html).singlepart(
                        Attachment::new_inline(LOGO_CID.to_owned()).body(bytes.clone(), kind),
                    ),
                )
            }
            None => MultiPart::alternative().singlepart(text).singlepart(html),
        };
        let message = builder.multipart(body)?;
        Ok(message.formatted())
    }
}
