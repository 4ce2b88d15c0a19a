//! The email that carries a link: a plain-text and an HTML part saying who asks, for which
//! software, and until when. SES sends it; lettre builds the MIME (encoded headers, parts).

use crate::email::Email;
use crate::lang::Lang;
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
    pub lang: Lang,
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

/// Every sentence of one email, in its language.
struct Words {
    subject: String,
    greeting: String,
    lead: String,
    open: &'static str,
    button: String,
    expires: String,
    fallback: &'static str,
    ignore: String,
}

#[derive(Template)]
#[template(path = "link_email.txt")]
struct Text<'a> {
    w: &'a Words,
    url: &'a str,
}

#[derive(Template)]
#[template(path = "link_email.html")]
struct Html<'a> {
    w: &'a Words,
    url: &'a str,
    lang: &'a str,
    color: &'a str,
    logo: bool,
    tenant_name: &'a str,
}

impl Message {
    fn words(&self) -> Words {
        let l = self.lang;
        let tenant = self.tenant_name.as_str();
        let (ask, button) = match &self.software {
            Some(sw) => (
                l.fill("email.ask", &[("tenant", tenant), ("software", sw)]),
                l.fill("email.button", &[("software", sw)]),
            ),
            None => (
                l.fill("email.ask_any", &[("tenant", tenant)]),
                l.text("email.button_any").to_owned(),
            ),
        };
        let subject = match (&self.software, self.reminder) {
            (Some(sw), false) => l.fill("email.subject", &[("tenant", tenant), ("software", sw)]),
            (Some(sw), true) => l.fill(
                "email.reminder_subject",
                &[("tenant", tenant), ("software", sw)],
            ),
            (None, false) => l.fill("email.subject_any", &[("tenant", tenant)]),
            (None, true) => l.fill("email.reminder_subject_any", &[("tenant", tenant)]),
        };
        let lead = if self.reminder {
            l.fill("email.reminder", &[("ask", &ask)])
        } else {
            ask
        };
        Words {
            subject,
            greeting: l.fill("email.greeting", &[("name", &self.consumer_name)]),
            lead,
            open: l.text("email.open"),
            button,
            expires: l.fill("email.expires", &[("date", &l.date(&self.expires_at))]),
            fallback: l.text("email.fallback"),
            ignore: l.fill("email.ignore", &[("sender", &self.sender_name)]),
        }
    }

    pub fn subject(&self) -> String {
        self.words().subject
    }

    /// The plain-text and HTML bodies.
    pub fn render(&self) -> Result<(String, String), MessageError> {
        let w = self.words();
        let text = Text {
            w: &w,
            url: &self.url,
        }
        .render()?;
        let html = Html {
            w: &w,
            url: &self.url,
            lang: self.lang.code(),
            color: self.color.as_deref().unwrap_or("#1f2328"),
            logo: self.logo.is_some(),
            tenant_name: &self.tenant_name,
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
