use super::*;
use chrono::TimeZone;

fn at(h: i64) -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap() + Duration::hours(h)
}

#[test]
fn the_default_schedule_reminds_after_a_day_and_before_expiry() {
    let plan = Schedule::default().plan(at(0), at(168));
    assert_eq!(plan, vec![at(24), at(164)]);
}

#[test]
fn short_links_get_no_reminders() {
    let s = Schedule::default();
    assert!(s.plan(at(0), at(0) + Duration::minutes(30)).is_empty());
    // 4 h before expiry would be 1 h after creation: too close to both ends at 5 h.
    assert!(s.plan(at(0), at(4)).is_empty());
    assert_eq!(s.plan(at(0), at(6)), vec![at(2)], "expiry reminder only");
}

#[test]
fn reminders_closer_than_six_hours_keep_the_earlier() {
    // 26 h: before-expiry at 22 h, after-creation at 24 h.
    assert_eq!(Schedule::default().plan(at(0), at(26)), vec![at(22)]);
    let s = Schedule {
        after_creation_hours: vec![2, 12, 48],
        before_expiry_hours: vec![1, 10, 20],
    };
    // 2 h, 12 h, expiry-20 = 52 h is 4 h after 48 h (dropped), expiry-10 = 62 h,
    // expiry-1 = 71 h (an hour before the end is still allowed).
    assert_eq!(
        s.plan(at(0), at(72)),
        vec![at(2), at(12), at(48), at(62), at(71)]
    );
}

#[test]
fn schedule_lists_are_whole_distinct_bounded_hours() {
    assert_eq!(hours(&json!([24, 4])), Ok(vec![4, 24]));
    assert_eq!(hours(&json!([])), Ok(vec![]));
    assert_eq!(hours(&json!([24.0])), Ok(vec![24]));
    for bad in [
        json!([0]),
        json!([169]),
        json!([1.5]),
        json!(["24"]),
        json!([4, 4]),
        json!([1, 2, 3, 4, 5, 6]),
        json!(24),
        json!(null),
    ] {
        assert!(hours(&bad).is_err(), "{bad}");
    }
}

#[test]
fn sender_names_cannot_break_headers() {
    assert_eq!(
        sender_name(&json!("Acme Billing")),
        Ok("Acme Billing".into())
    );
    assert_eq!(sender_name(&json!("Zoë & Co")), Ok("Zoë & Co".into()));
    for bad in [
        json!(""),
        json!("   "),
        json!("Acme\r\nBcc: x@y.com"),
        json!("Acme <x@y.com>"),
        json!("\"Acme\""),
        json!("a".repeat(65)),
        json!(7),
    ] {
        assert!(sender_name(&bad).is_err(), "{bad}");
    }
}

fn patched(current: &Settings, body: Value) -> Result<Settings, ApiError> {
    let mut f = Fields::new(json!({ "reminders": body }), &["reminders"])?;
    let out = f.patch_object("reminders", SETTINGS_FIELDS, |r| current.patch(r));
    f.finish()?;
    match out {
        Patch::Set(s) => Ok(s),
        _ => Ok(Settings::default()),
    }
}

#[test]
fn a_reminders_patch_merges_over_the_current_settings() {
    let current = Settings {
        enabled: true,
        sender_name: Some("Acme".into()),
        reply_to: Some(Email::parse("help@acme.example").unwrap()),
        schedule: Schedule::default(),
    };
    let next = patched(
        &current,
        json!({"schedule": {"before_expiry_hours": [2, 8]}}),
    )
    .unwrap();
    assert!(next.enabled);
    assert_eq!(next.sender_name.as_deref(), Some("Acme"));
    assert_eq!(next.schedule.after_creation_hours, vec![24], "kept");
    assert_eq!(next.schedule.before_expiry_hours, vec![2, 8]);
    let next = patched(
        &next,
        json!({"reply_to": null, "schedule": {"before_expiry_hours": null}}),
    )
    .unwrap();
    assert_eq!(next.reply_to, None);
    assert_eq!(
        next.schedule,
        Schedule::default(),
        "null resets to the default"
    );
}

#[test]
fn a_bad_reminders_patch_names_each_nested_field() {
    let err = patched(
        &Settings::default(),
        json!({"enabled": "yes", "reply_to": "nope", "schedule": {"after_creation_hours": [0], "every": 1}, "colour": 1}),
    )
    .unwrap_err();
    let ApiError::Validation { details, .. } = err else {
        panic!("a validation error")
    };
    let fields: Vec<&str> = details.iter().map(|d| d.field.as_str()).collect();
    for f in [
        "reminders.enabled",
        "reminders.reply_to",
        "reminders.schedule.after_creation_hours",
        "reminders.schedule.every",
        "reminders.colour",
    ] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
}

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
