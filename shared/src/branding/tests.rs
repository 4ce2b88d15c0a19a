use super::*;

fn data(mime: &str, bytes: &[u8]) -> Value {
    json!(format!("data:{mime};base64,{}", STANDARD.encode(bytes)))
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

#[test]
fn colours_must_contrast_with_white() {
    assert_eq!(primary_color(&json!("#2457C5")), Ok("#2457c5".into()));
    assert_eq!(primary_color(&json!("#000")), Ok("#000000".into()));
    assert_eq!(
        primary_color(&json!("#767676")),
        Ok("#767676".into()),
        "4.54:1, just enough"
    );
    let err = primary_color(&json!("#777777")).unwrap_err();
    assert!(
        err.contains("4.5:1") && err.contains("contrast of 4.5"),
        "{err}"
    );
    for bad in ["#ffff00", "#ffffff", "#1a73e"] {
        assert!(primary_color(&json!(bad)).is_err(), "{bad}");
    }
    for malformed in [
        json!("red"),
        json!("2457c5"),
        json!("#12345g"),
        json!(7),
        json!("#+1+2+3"),
    ] {
        assert!(primary_color(&malformed).unwrap_err().contains("hex") || malformed.is_number());
    }
    assert!((contrast_with_white(0, 0, 0) - 21.0).abs() < 0.01);
    assert!((contrast_with_white(255, 255, 255) - 1.0).abs() < 0.01);
}

#[test]
fn raster_logos_must_be_what_they_say() {
    assert!(logo(&data("image/png", PNG))
        .unwrap()
        .starts_with("data:image/png;base64,"));
    assert!(logo(&data("image/jpeg", &[0xff, 0xd8, 0xff, 0xe0, 1, 2])).is_ok());
    assert!(logo(&data("image/gif", b"GIF89a....")).is_ok());
    assert!(logo(&data("image/webp", b"RIFF\0\0\0\0WEBPVP8 ")).is_ok());
    let lie = logo(&data("image/png", &[0xff, 0xd8, 0xff, 0xe0])).unwrap_err();
    assert!(lie.contains("not the image/png"), "{lie}");
    assert!(logo(&data("text/html", b"<script>"))
        .unwrap_err()
        .contains("PNG, JPEG"));
    assert!(logo(&json!("https://cdn.example/logo.png"))
        .unwrap_err()
        .contains("data URL"));
    assert!(logo(&json!("data:image/png;base64,@@@"))
        .unwrap_err()
        .contains("base64"));
    assert!(logo(&json!("data:image/png;base64,")).is_err());
    let mut big = PNG.to_vec();
    big.resize(MAX_LOGO_BYTES + 1, 0);
    assert!(logo(&data("image/png", &big))
        .unwrap_err()
        .contains("32 KiB"));
    big.truncate(MAX_LOGO_BYTES);
    assert!(logo(&data("image/png", &big)).is_ok(), "exactly the limit");
    let long = format!("data:image/png;base64,{}", "A".repeat(MAX_LOGO_URL));
    assert!(logo(&json!(long)).unwrap_err().contains("60000 characters"));
}

fn clean(svg: &str) -> String {
    let url = logo(&json!(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg)
    )))
    .unwrap();
    let b64 = url.strip_prefix("data:image/svg+xml;base64,").unwrap();
    String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap()
}

#[test]
fn svg_logos_keep_their_shapes_and_lose_anything_active() {
    let out = clean(
        r##"<?xml version="1.0"?><!-- made by hand --><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)">
<script>alert(2)</script><style>@import url(https://evil.example/x.css);</style>
<defs><linearGradient id="g"><stop offset="0" stop-color="#123"/></linearGradient></defs>
<rect width="10" height="10" fill="url(#g)" style="fill:url(https://evil.example/t)"/>
<circle r="3" fill="url(https://evil.example/track.png)" onclick="steal()"/>
<a href="https://evil.example"><path d="M0 0h5"/></a>
<foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><iframe src="https://evil.example"/></body></foreignObject>
<use href="#g"/><use xlink:href="https://evil.example/sprite.svg#x"/><image href="https://evil.example/p.png"/>
<text x="1" y="9">A &amp; B</text></svg>"##,
    );
    for kept in [
        "<svg",
        "viewBox=\"0 0 10 10\"",
        "<linearGradient id=\"g\">",
        "fill=\"url(#g)\"",
        "<use href=\"#g\"/>",
        "A &amp; B",
        "<circle r=\"3\"/>",
    ] {
        assert!(out.contains(kept), "{kept} kept in {out}");
    }
    for gone in [
        "script",
        "alert",
        "style",
        "onload",
        "onclick",
        "evil.example",
        "foreignObject",
        "iframe",
        "<a ",
        "<path",
        "<image",
        "made by hand",
    ] {
        assert!(!out.contains(gone), "{gone} removed from {out}");
    }
}

#[test]
fn svgs_that_cannot_be_made_safe_are_refused() {
    let refuse = |svg: &str| {
        logo(&json!(format!(
            "data:image/svg+xml;base64,{}",
            STANDARD.encode(svg)
        )))
        .unwrap_err()
    };
    assert!(refuse(r#"<!DOCTYPE svg [<!ENTITY x "lol">]><svg>&x;</svg>"#).contains("DOCTYPE"));
    assert!(refuse("<html><svg/></html>").contains("root"));
    assert!(refuse("<svg><rect></svg>").contains("well-formed"));
    assert!(refuse("<svg/>").contains("root"));
    assert!(refuse("<svg></svg><svg></svg>").contains("one <svg>"));
    assert!(refuse("just text").contains("root"));
    // URL-encoded (not base64) SVG data URLs are read too.
    let plain = logo(&json!(
        "data:image/svg+xml,%3Csvg%3E%3Crect%20width%3D%221%22%2F%3E%3C%2Fsvg%3E"
    ))
    .unwrap();
    assert!(plain.starts_with("data:image/svg+xml;base64,"));
}

#[test]
fn a_branding_patch_sets_and_clears_fields() {
    let mut f = Fields::new(
        json!({"display_name": "Acme", "primary_color": "#0B5FFF", "logo": data("image/png", PNG)}),
        SETTINGS_FIELDS,
    )
    .unwrap();
    let b = Branding::default().patch(&mut f);
    f.finish().unwrap();
    assert_eq!(b.display_name.as_deref(), Some("Acme"));
    assert_eq!(b.primary_color.as_deref(), Some("#0b5fff"));
    assert_eq!(b.logo_bytes().unwrap().0, "image/png");
    let mut f = Fields::new(
        json!({"logo": null, "primary_color": "#ffff00"}),
        SETTINGS_FIELDS,
    )
    .unwrap();
    let next = b.patch(&mut f);
    assert!(f.finish().is_err(), "low contrast is refused");
    assert_eq!(
        next.logo, None,
        "(a refused PATCH is not stored by the caller)"
    );
}
