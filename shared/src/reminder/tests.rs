use super::*;
use crate::settings::reminders::Schedule;
use chrono::Duration;

fn at(h: i64) -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap() + Duration::hours(h)
}
use chrono::TimeZone;

fn message(reminder: bool, software: Option<&str>) -> Message {
    Message {
        sender_name: "Acme Billing".into(),
        reply_to: Some(Email::parse("help@acme.example").unwrap()),
        tenant_name: "Acme <Books>".into(),
        consumer_name: "Zoë".into(),
        software: software.map(String::from),
        url: "https://connect.example.com/connect/lnk_1?token=abc&x=1".into(),
        expires_at: at(30),
        reminder,
        color: None,
        logo: None,
        lang: crate::lang::Lang::En,
    }
}

#[test]
fn the_email_says_who_asks_for_what_and_until_when() {
    let (text, html) = message(false, Some("Stripe")).render().unwrap();
    for part in [&text, &html] {
        assert!(part.contains("Zoë"), "{part}");
        assert!(part.contains("Stripe"), "{part}");
        assert!(
            part.contains("Monday 23 November 2026 at 14:00 UTC"),
            "{part}"
        );
        assert!(part.contains("Acme Billing"), "{part}");
    }
    assert!(text.contains("Acme <Books> asks you to connect your Stripe account"));
    assert!(text.contains("https://connect.example.com/connect/lnk_1?token=abc&x=1"));
    // HTML: every value escaped, the URL too.
    assert!(
        html.contains("Acme &#60;Books&#62;") || html.contains("Acme &lt;Books&gt;"),
        "{html}"
    );
    assert!(!html.contains("<Books>"));
    assert!(html.contains("token=abc&#38;x=1") || html.contains("token=abc&amp;x=1"));
    assert_eq!(
        message(false, Some("Stripe")).subject(),
        "Acme <Books> asks you to connect Stripe"
    );
    assert_eq!(
        message(true, None).subject(),
        "Reminder: Acme <Books> is waiting for you to connect your software"
    );
    let (text, _) = message(true, None).render().unwrap();
    assert!(
        text.contains("A reminder: Acme <Books> asks you to connect the software you use,"),
        "{text}"
    );
}

#[test]
fn the_message_is_multipart_alternative_with_encoded_headers() {
    let raw = message(true, Some("Exact Online"))
        .compose(
            &Email::parse("links@linkgate.example").unwrap(),
            &Email::parse("zoe@customer.example").unwrap(),
        )
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.contains("text/plain"));
    assert!(raw.contains("text/html"));
    assert!(raw.contains("Reply-To: help@acme.example"), "{raw}");
    assert!(
        raw.contains("From: \"Acme Billing\" <links@linkgate.example>")
            || raw.contains("From: Acme Billing <links@linkgate.example>"),
        "{raw}"
    );
    // The consumer's name is not ASCII: the To header is RFC 2047-encoded, never raw UTF-8.
    let to = raw.lines().find(|l| l.starts_with("To: ")).unwrap();
    assert!(
        to.contains("=?utf-8?") && to.contains("<zoe@customer.example>"),
        "{to}"
    );
    assert!(raw.lines().all(|l| l.len() <= 998), "SMTP line limit");
}

fn new_link(ttl_seconds: u64, reminders: Option<Schedule>) -> crate::link::NewLink {
    crate::link::NewLink::generate(
        &crate::id::TenantId::generate(),
        &crate::id::ConnectionId::generate(),
        None,
        None,
        crate::link::LinkOptions {
            redirect_url: None,
            redirect: false,
            ttl_seconds,
            reminders,
            lang: None,
            ids_as_uuid: false,
            scopes: None,
        },
    )
    .unwrap()
}

#[test]
fn the_index_moves_on_or_out() {
    let mut link = new_link(604_800, Some(Schedule::default())).link;
    assert_eq!(link.reminders_planned.len(), 2);
    let first = link.reminders_planned[0].clone();
    let a = Advance::from(&link, &first);
    assert_eq!(a.rest, vec![link.reminders_planned[1].clone()]);
    assert_eq!(
        a.expression(""),
        "SET reminders_planned = :rest, gsi2sk = :next"
    );
    let last = link.reminders_planned[1].clone();
    let b = Advance::from(&link, &last);
    assert!(b.rest.is_empty());
    assert_eq!(
        b.expression(", x = :x"),
        "SET reminders_planned = :rest, x = :x REMOVE gsi2pk, gsi2sk"
    );
    assert!(b.values(&last).iter().all(|(k, _)| *k != ":next"));
    link.reminders_planned.clear();
    assert_eq!(link.next_reminder_at(time::now()), None);
}

#[test]
fn an_emailed_token_opens_the_link_as_well_as_its_own() {
    let new = new_link(3600, None);
    let mut link = new.link;
    let emailed = crate::link::new_token().unwrap();
    assert!(!link.token_matches(emailed.expose()));
    link.email_token_hashes
        .push(crate::link::token_hash(emailed.expose()));
    assert!(link.token_matches(emailed.expose()));
    assert!(link.token_matches(new.token.expose()));
    assert!(!link.token_matches("guess"));
}

#[test]
fn a_refused_claim_explains_the_rate_limit_or_the_cap() {
    let now = time::now();
    let mut link = new_link(3600, None).link;
    link.last_sent_at = Some(now.timestamp() - 60);
    match refusal(&link, now) {
        ApiError::RateLimited { retry_after, .. } => assert_eq!(retry_after, 240),
        other => panic!("{other:?}"),
    }
    link.email_token_hashes = vec!["h".into(); MAX_EMAILS];
    assert_eq!(refusal(&link, now).code(), "conflict");
}

#[test]
fn a_branded_email_shows_the_colour_and_carries_the_logo_inline() {
    let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
    let m = Message {
        color: Some("#0b5fff".into()),
        logo: Some(("image/png".into(), png)),
        ..message(false, Some("Xero"))
    };
    let (_, html) = m.render().unwrap();
    assert!(html.contains("background:#0b5fff"), "{html}");
    assert!(html.contains("src=\"cid:logo\""), "{html}");
    let raw = String::from_utf8(
        m.compose(
            &Email::parse("links@linkgate.example").unwrap(),
            &Email::parse("zoe@customer.example").unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(raw.contains("multipart/related"), "{raw}");
    assert!(raw.contains("Content-ID: <logo>"), "{raw}");
    assert!(raw.contains("Content-Disposition: inline"), "{raw}");
    let (_, plain) = message(false, Some("Xero")).render().unwrap();
    assert!(plain.contains("background:#1f2328") && !plain.contains("cid:logo"));
}
